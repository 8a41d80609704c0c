"""The evaluation launcher end to end, on a run the training launcher trained.

A toy run (8x8x1 blocky images written to a temporary folder as
`toy_{train,test}.npz`; the smoke flagfile's tiny Glow, 4 steps) is trained by
`launch/train.py`, then scored by `launch/evaluate.py` as one run and as an
ensemble of two copies of it (whose log-density is the run's own). Also: the
run's flags.cfg read back with `glow_ood.flags.train_config_from_flagfile`.
"""

import json
import os
import shutil
import subprocess
import sys

from absl import flags
import numpy as np
import pytest

from tests import REPO
from tests import launcher_error_line
from tests.launch import in_process
import glow_ood
from glow_ood import flags as glow_flags
import glow_ood.train
from tests.toy_data import tiny_train_config
from tests.toy_data import write_dataset
from launch import bootstrap

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow

SETS = ("toy/train", "toy/test", "constant:128/test", "constant:0/test",
        "uniform_random/test")


def train_flags(data_dir):
  """The smoke flagfile, on the toy data, on one CPU."""
  return ["--flagfile=launch/flagfiles/smoke.cfg", f"--data_dir={data_dir}",
          "--data_source=npz", "--dataset=toy", "--pad_to=0",
          "--image_shape=8,8,1", "--eval_datasets=constant:128",
          "--train_steps=4", "--init_batch_size=32", "--strategy=one_device",
          "--devices=/cpu:0"]


def run(script, *args):
  return subprocess.run([sys.executable, script, *args], cwd=REPO,
                        capture_output=True, text=True, timeout=600,
                        check=False)


class TrainedRun:

  def __init__(self, root):
    self.root = root
    self.data_dir = os.path.join(root, "data")
    write_dataset(self.data_dir, num_test=32)
    self.workdir = os.path.join(root, "runs", "toy_run")
    self.flags = train_flags(self.data_dir)
    result = run("launch/train.py", *self.flags, f"--workdir={self.workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(self.workdir, "results.json")) as f:
      self.trained = json.load(f)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  return TrainedRun(str(tmp_path_factory.mktemp("launch_evaluate_test")))


def read_outputs(output_dir):
  with open(os.path.join(output_dir, "results.json")) as f:
    results = json.load(f)
  with np.load(os.path.join(output_dir, "scores.npz")) as arrays:
    arrays = dict(arrays)
  return results, arrays


def assert_figures(output_dir, results):
  for name, paths in results["figures"].items():
    for path in paths:
      path = os.path.join(output_dir, path)
      assert os.path.getsize(path) > 1000, (name, path)


# 1. The run's flags.cfg.

def test_flags_file_of_a_launched_run_gives_its_config(trained, monkeypatch):
  names_before = sorted(flags.FLAGS)
  parsed_before = flags.FLAGS.is_parsed()
  config = glow_flags.train_config_from_flagfile(
      os.path.join(trained.workdir, "flags.cfg"))
  # What launch/train.py built from its command line (flagfiles as it
  # expands them).
  monkeypatch.chdir(REPO)   # the command names launch/flagfiles/smoke.cfg
  values = flags.FlagValues()
  glow_flags.define_train_flags(values)
  values(["train.py", *bootstrap.expand_flagfiles(trained.flags),
          f"--workdir={trained.workdir}"])
  assert config == glow_flags.to_train_config(values)
  # The fields that matter, literally.
  assert config.model.image_shape == (8, 8, 1)
  assert (config.model.num_levels, config.model.num_steps_per_level,
          config.model.hidden_width) == (2, 1, 8)
  assert config.model.coupling_scale == "sigmoid" and config.model.seed == 0
  assert config.data.dataset == "toy" and config.data.source == "npz"
  assert config.data.data_dir == trained.data_dir
  assert config.data.pad_to is None
  assert config.eval_datasets == ("constant:128",)
  assert (config.batch_size, config.train_steps) == (16, 4)
  assert config.strategy == "one_device" and config.devices == ("/cpu:0",)
  # The process's own flags were left alone.
  assert sorted(flags.FLAGS) == names_before
  assert flags.FLAGS.is_parsed() == parsed_before


def test_flags_file_names_the_folders_absolutely(trained, tmp_path,
                                                  monkeypatch):
  """flags.cfg relaunches the same run from any folder (`cd /` included)."""
  with open(os.path.join(trained.workdir, "flags.cfg")) as f:
    lines = f.read().splitlines()
  assert f"--workdir={trained.workdir}" in lines
  assert f"--data_dir={trained.data_dir}" in lines
  monkeypatch.chdir(tmp_path)
  values = flags.FlagValues()
  glow_flags.define_train_flags(values)
  values(["train.py", *bootstrap.expand_flagfiles(
      [f"--flagfile={trained.workdir}/flags.cfg"])])
  assert values.workdir == trained.workdir


def test_flags_file_missing(tmp_path):
  with pytest.raises(FileNotFoundError,
                     match=rf"No {tmp_path}/flags.cfg: is {tmp_path} a run "
                           r"folder written by launch/train.py\?"):
    glow_flags.train_config_from_flagfile(str(tmp_path / "flags.cfg"))


# 2. One run.

def test_evaluate_one_run(trained):
  result = run("launch/evaluate.py", f"--workdir={trained.workdir}",
               "--num_examples=32", "--num_bootstrap=50",
               "--graying_factors=1,0", "--num_samples=4",
               "--sample_temperatures=1")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Traceback" not in result.stderr
  output_dir = os.path.join(trained.workdir, "evaluation")
  results, arrays = read_outputs(output_dir)
  # The run's --eval_datasets plus the default constant and random images.
  assert list(results["num_examples"]) == list(SETS)
  assert results["num_examples"]["toy/test"] == 32
  assert "ensemble" not in results
  assert [r["step"] for r in results["runs"]] == [4]
  # The whole test split (32 images), as the trainer scored it.
  bits = results["models"]["toy_run"]["toy/test"]["bits_per_dim"]
  assert bits == pytest.approx(trained.trained["bits_per_dim"]["toy/test"],
                               rel=1e-6)
  assert bits == pytest.approx(
      float(np.mean(arrays["toy_run/toy/test/bits_per_dim"])), rel=1e-9)
  assert results["graying"]["factors"] == [1., 0.]
  assert results["graying"]["mean"]["bits_per_dim"][0] == pytest.approx(
      bits, rel=1e-9)
  assert results["detection"]["toy_run"]["uniform_random/test"]["auroc"] > 0.99
  assert sorted(results["figures"]) == sorted(
      ["log_prob_histograms", "decomposition_histograms",
       "bits_per_dim_curves", "graying", "samples_t1"])
  assert_figures(output_dir, results)
  # stdout: results.md, then where it was written.
  with open(os.path.join(output_dir, "results.md")) as f:
    markdown = f.read()
  assert result.stdout.startswith(markdown)
  assert "## Bits/dim" in result.stdout
  assert f"| toy/test | in-distribution (test) | 32 | {bits:.4f} |" in (
      result.stdout.splitlines())
  assert f"Written to {output_dir}/" in result.stdout
  # Progress bars go to stderr.
  assert "toy_run: toy/test [" in result.stderr


# 3. An ensemble.

def test_evaluate_an_ensemble_of_two_copies(trained):
  parent = os.path.dirname(trained.workdir)
  copy = os.path.join(parent, "toy_copy")
  shutil.copytree(trained.workdir, copy)
  shutil.rmtree(os.path.join(copy, "evaluation"), ignore_errors=True)
  result = run("launch/evaluate.py", f"--workdir={trained.workdir}",
               f"--workdir={copy}", "--step=3", "--datasets=uniform_random",
               "--num_examples=16", "--num_bootstrap=50",
               "--graying_factors=", "--num_samples=0")
  assert result.returncode == 0, result.stderr[-3000:]
  output_dir = os.path.join(parent, "ensemble_evaluation")
  results, arrays = read_outputs(output_dir)
  assert [(r["name"], r["step"]) for r in results["runs"]] == [
      ("toy_run", 3), ("toy_copy", 3)]
  assert list(results["num_examples"]) == ["toy/train", "toy/test",
                                           "uniform_random/test"]
  assert "graying" not in results
  assert results["ensemble"]["members"] == ["toy_run", "toy_copy"]
  member = results["models"]["toy_run"]
  for name, value in results["ensemble"]["bits_per_dim"].items():
    assert value == pytest.approx(member[name]["bits_per_dim"], rel=1e-12)
  np.testing.assert_allclose(arrays["ensemble/toy/test/discrete_log_prob"],
                             arrays["toy_copy/toy/test/discrete_log_prob"],
                             rtol=1e-12)
  # Step 3 is not the final model.
  assert member["toy/test"]["bits_per_dim"] != pytest.approx(
      trained.trained["bits_per_dim"]["toy/test"], rel=1e-6)
  assert_figures(output_dir, results)
  header = [l for l in result.stdout.splitlines()
            if l.startswith("| dataset/split | role | images |")]
  assert header == ["| dataset/split | role | images | toy_run bits/dim | "
                    "toy_copy bits/dim | ensemble bits/dim |"]
  assert "Ensemble of 2" in result.stdout
  assert f"Written to {output_dir}/" in result.stdout


# 4. Errors.

def test_missing_workdir_fails_with_one_line(tmp_path):
  missing = tmp_path / "never_trained"
  result = in_process.run("launch/evaluate.py", f"--workdir={missing}")
  line = launcher_error_line(result, "launch/evaluate.py")
  assert f"{missing} does not exist: pass the folder of a trained run" in line
  assert not missing.exists()


def test_data_is_read_as_training_did_with_training_s_flags_over_it(
    trained, tmp_path):
  """The run's config.json says where its data are; --data_dir, ... override."""
  nowhere = tmp_path / "nowhere"
  line = launcher_error_line(in_process.run(
      "launch/evaluate.py", f"--workdir={trained.workdir}",
      f"--data_dir={nowhere}", f"--output_dir={tmp_path / 'out'}"),
      "launch/evaluate.py")
  assert f"{nowhere}/toy_train.npz" in line and "source='npz'" in line
  # The run's --data_source=npz, overridden: only tfds is asked for 'toy'.
  line = launcher_error_line(in_process.run(
      "launch/evaluate.py", f"--workdir={trained.workdir}",
      "--data_source=tfds", f"--tfds_data_dir={tmp_path / 'tfds'}",
      "--notfds_download", f"--output_dir={tmp_path / 'out'}"),
      "launch/evaluate.py")
  assert "Unknown dataset 'toy'" in line and "tfds" in line
  assert not (tmp_path / "out").exists()


def test_folder_without_config_json_fails_with_what_to_do(trained, tmp_path):
  # A run from before config.json: its flags.cfg and checkpoints only.
  old = tmp_path / "old_run"
  shutil.copytree(trained.workdir, old)
  os.remove(old / "config.json")
  result = in_process.run("launch/evaluate.py", f"--workdir={old}")
  assert result.returncode == 1
  line = launcher_error_line(result, "launch/evaluate.py")
  assert f"{old} has no config.json" in line
  assert (f"python launch/train.py --flagfile={old}/flags.cfg "
          f"--workdir={old}") in line


# 5. A run trained from Python (no flags.cfg) opens in the launcher.

def test_run_trained_from_python_is_evaluated_by_the_launcher(tmp_path):
  data_dir = tmp_path / "data"
  write_dataset(str(data_dir))
  workdir = tmp_path / "python_run"
  config = tiny_train_config(data_dir, eval_datasets=("constant:128",),
                             train_steps=3, log_every=3)
  trained_bits = glow_ood.train.train(config, str(workdir))
  assert not (workdir / "flags.cfg").exists()
  result = run("launch/evaluate.py", f"--workdir={workdir}",
               "--num_examples=0", "--num_bootstrap=20",
               "--graying_factors=", "--num_samples=0")
  assert result.returncode == 0, result.stderr[-3000:]
  results, _ = read_outputs(str(workdir / "evaluation"))
  assert results["runs"][0]["step"] == 3
  # The launcher scored the same run: all test images, the same bits/dim.
  assert results["models"]["python_run"]["toy/test"]["bits_per_dim"] == (
      pytest.approx(trained_bits["toy/test"], abs=1e-5))
