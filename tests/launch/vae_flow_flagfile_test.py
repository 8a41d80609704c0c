"""`cifar10_vae_flow_cpu.cfg` (paper Fig. 3b) is `cifar10_vae_cpu.cfg` plus the flow posterior."""

import os

from absl import flags

from tests import REPO
from glow_ood.flags import train as train_flags
from launch import bootstrap

FLAGFILES = os.path.join(REPO, "launch", "flagfiles")


def _train_config(name):
  values = flags.FlagValues()
  train_flags.define_train_flags(values)
  values(["train.py", *bootstrap.expand_flagfiles(
      [f"--flagfile={os.path.join(FLAGFILES, name)}"])])
  return train_flags.to_train_config(values)


def test_the_flow_flagfile_is_the_gaussian_one_with_a_flow_posterior():
  gaussian = _train_config("cifar10_vae_cpu.cfg")
  flow = _train_config("cifar10_vae_flow_cpu.cfg")
  assert gaussian.model.posterior == "gaussian"
  assert (flow.model.posterior, flow.model.posterior_flow_steps) == ("flow", 4)
  assert flow == gaussian.replace(model=gaussian.model.replace(
      posterior="flow", posterior_flow_steps=4))
