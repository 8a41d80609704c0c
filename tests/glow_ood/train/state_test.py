"""Tests of `glow_ood.train.state`: ActNorm's data-dependent init runs once, in
cross-replica context, so the replicas agree (and agree with one device).

Two-replica tests use the two logical CPUs of tests/conftest.py.
"""

import numpy as np

from glow_ood import data
from glow_ood import train as train_lib
from glow_ood.train import distribution
from tests.glow_ood.train.recording import ONE_CPU
from tests.glow_ood.train.recording import TWO_CPUS
from tests.glow_ood.train.recording import max_difference
from tests.glow_ood.train.recording import needs_two_cpus
from tests.glow_ood.train.recording import resolved
from tests.glow_ood.train.recording import stepper
from tests.glow_ood.train.recording import tiny_config


def _local_values(strategy, variable):
  values = strategy.experimental_local_results(variable)
  return [v.numpy() for v in values], [v.device for v in values]


@needs_two_cpus
def test_replicas_agree_after_actnorm_init_and_steps(toy_dir, tmp_path):
  config = resolved(tiny_config(toy_dir, strategy="mirrored",
                               devices=TWO_CPUS, ema_decay=0.9))
  strategy = distribution.make_strategy(config.strategy, config.devices)
  images = data.load_images(config.data, "train")
  run = train_lib.TrainState(config, str(tmp_path / "run"), strategy, images)
  assert run.initialize_or_restore(run.find_checkpoint())  # a fresh run initializes
  layers = run.model.actnorm_layers()
  assert len(layers) == 6  # 2 flow steps + 2 per coupling network

  def check_replicas_agree(variables):
    for variable in variables:
      values, devices = _local_values(strategy, variable)
      assert len(values) == 2 and len(set(devices)) == 2, variable.name
      np.testing.assert_array_equal(values[1], values[0],
                                    err_msg=variable.name)

  for layer in layers:
    check_replicas_agree([layer.initialized, layer.loc, layer.log_scale])
    assert all(_local_values(strategy, layer.initialized)[0])
  # The values are the data's statistics, not the constructor's zeros (the
  # toy pixels have a standard deviation of about 0.2 in [-0.5, 0.5) units).
  first = layers[0]
  assert np.all(_local_values(strategy, first.log_scale)[0][0] < -0.5)
  assert np.any(_local_values(strategy, first.loc)[0][0] != 0.)

  # The same global batch initializes a one-device model identically.
  one = train_lib.TrainState(
      config.replace(strategy="one_device", devices=ONE_CPU),
      str(tmp_path / "one"), distribution.make_strategy("one_device", ONE_CPU),
      images)
  one.initialize_or_restore(one.find_checkpoint())
  for layer, reference in zip(layers, one.model.actnorm_layers()):
    np.testing.assert_allclose(layer.loc.numpy(), reference.loc.numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.log_scale.numpy(),
                               reference.log_scale.numpy(), rtol=1e-5,
                               atol=1e-6)

  before = [v.numpy() for v in run.model.trainable_variables]
  steps = stepper(run)
  for _ in range(2):
    metrics = steps()
    assert bool(metrics["applied"])
  check_replicas_agree(run.model.variables)
  check_replicas_agree(run.optimizer.first_moments +
                       run.optimizer.second_moments + run.ema.shadows +
                       [run.step, run.optimizer.iterations])
  after = [v.numpy() for v in run.model.trainable_variables]
  assert max_difference(after, before) > 1e-3
  # Evaluation's swap to the averaged weights reaches every replica, and back.
  weights = run.model.trainable_variables
  assert max_difference(after, [s.numpy() for s in run.ema.shadows]) > 1e-4
  with run.ema.averaged_weights():
    for variable, shadow in zip(weights, run.ema.shadows):
      for value in _local_values(strategy, variable)[0]:
        np.testing.assert_array_equal(value, shadow.numpy())
  for variable, value in zip(weights, after):
    for local in _local_values(strategy, variable)[0]:
      np.testing.assert_array_equal(local, value)
