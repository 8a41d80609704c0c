"""Every model family through the same launchers: train, resume, relaunch, evaluate.

The smoke flagfiles `smoke_pixelcnn.cfg` and `smoke_vae.cfg` run on toy data
(8x8x1 blocky images in a temporary folder, `tests.toy_data`) through
`launch/train.py` and `launch/evaluate.py`, in this process
(`tests.launch.in_process`): the run folder (config.json with the family,
flags.cfg, checkpoints, TensorBoard events, results.json) and the evaluation
(results.json / results.md / scores.npz / figures) are those of a Glow run,
minus what needs Glow's decomposition, plus the VAE's standard errors.
"""

import json
import os

import numpy as np
import pytest

from tests import launcher_error_line
from tests.launch import in_process
from tests.toy_data import write_dataset

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow

FAMILIES = ("pixelcnn", "vae")


def toy_flags(family, data_dir):
  return [f"--flagfile=launch/flagfiles/smoke_{family}.cfg",
          f"--data_dir={data_dir}", "--data_source=npz", "--dataset=toy",
          "--pad_to=0", "--image_shape=8,8,1", "--eval_datasets=constant:128",
          "--train_steps=4", "--checkpoint_every=2", "--log_every=2",
          "--init_batch_size=32", "--strategy=one_device", "--devices=/cpu:0",
          "--num_samples=0"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  folder = str(tmp_path_factory.mktemp("model_families_data"))
  write_dataset(folder, num_test=32)
  return folder


@pytest.fixture(scope="module", params=FAMILIES)
def trained(request, data_dir, tmp_path_factory):
  family = request.param
  workdir = str(tmp_path_factory.mktemp(f"run_{family}") / "run")
  result = in_process.run("launch/train.py", *toy_flags(family, data_dir),
                          f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  return family, workdir, result


def read_json(*parts):
  with open(os.path.join(*parts)) as f:
    return json.load(f)


def test_the_run_folder_is_a_glow_run_folder(trained):
  family, workdir, result = trained
  config = read_json(workdir, "config.json")
  assert config["type"] == "TrainConfig"
  assert config["config"]["model"]["family"] == family
  for name in ("flags.cfg", "results.json", "checkpoints", "train", "eval"):
    assert os.path.exists(os.path.join(workdir, name)), name
  with open(os.path.join(workdir, "flags.cfg")) as f:
    text = f.read()
  assert f"--model={family}" in text
  assert "--num_levels" not in text   # no other family's flags
  results = read_json(workdir, "results.json")
  assert results["step"] == 4
  assert set(results["bits_per_dim"]) == {"toy/train", "toy/test",
                                          "constant:128/test"}
  assert all(np.isfinite(v) and v > 0 for v in results["bits_per_dim"].values())
  assert "Training PixelCNN++" in result.stdout or "Training VAE" in result.stdout


def test_a_vae_run_resumes_and_relaunches_from_flags_cfg(data_dir, tmp_path):
  # Resuming is the family-independent trainer's (tests/glow_ood/train); what
  # is PixelCNN's own, its weight-norm init surviving a checkpoint, is
  # tests/glow_ood/models/pixelcnn_test.py's.
  workdir = str(tmp_path / "run")
  result = in_process.run("launch/train.py", *toy_flags("vae", data_dir),
                          f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  flags_file = os.path.join(workdir, "flags.cfg")
  result = in_process.run("launch/train.py", f"--flagfile={flags_file}",
                          f"--workdir={workdir}", "--train_steps=6")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Resumed from" in result.stdout and "ckpt-4" in result.stdout
  assert read_json(workdir, "results.json")["step"] == 6


def evaluate_run(workdir, output_dir):
  """`launch/evaluate.py` on 32 images of the run's sets and a constant image."""
  result = in_process.run("launch/evaluate.py", f"--workdir={workdir}",
                          f"--output_dir={output_dir}", "--num_examples=32",
                          "--datasets=constant:128", "--num_samples=2",
                          "--graying_factors=1,0.5")
  assert result.returncode == 0, result.stderr[-3000:]


def test_evaluate_writes_the_same_outputs(trained, tmp_path):
  family, workdir, _ = trained
  output_dir = str(tmp_path / "evaluation")
  evaluate_run(workdir, output_dir)
  results = read_json(output_dir, "results.json")
  assert results["runs"][0]["family"] == family
  summary = results["models"]["run"]["toy/test"]
  assert np.isfinite(summary["bits_per_dim"])
  assert "log_prob_z" not in summary   # Glow's decomposition only
  with np.load(os.path.join(output_dir, "scores.npz")) as arrays:
    names = set(arrays.files)
    bits = arrays["run/toy/test/bits_per_dim"]
    log_p = arrays["run/toy/test/discrete_log_prob"]
  np.testing.assert_allclose(bits, -log_p / (64 * np.log(2.)), rtol=1e-6)
  assert not any(n.endswith("/log_prob_z") for n in names)
  if family == "vae":   # an importance-sampled estimate, with its error
    assert "run/toy/test/log_prob_stderr" in names
    assert summary["discrete_log_prob_stderr"] > 0
  else:                 # exact
    assert "run/toy/test/log_prob_stderr" not in names
  for name in ("log_prob_histograms", "graying", "samples"):
    for path in results["figures"][name]:
      assert os.path.getsize(os.path.join(output_dir, path)) > 1000
  assert "decomposition_histograms" not in results["figures"]
  with open(os.path.join(output_dir, "results.md")) as f:
    assert "log P(image), means in nats" in f.read()


@pytest.mark.parametrize("family", FAMILIES)
def test_another_familys_flag_is_refused(family, data_dir, tmp_path):
  result = in_process.run("launch/train.py", *toy_flags(family, data_dir),
                          "--num_levels=2", f"--workdir={tmp_path / 'run'}")
  line = launcher_error_line(result, "launch/train.py")
  assert (f"--num_levels=2 is a flag of --model=glow; this run is "
          f"--model={family}") in line
  assert not os.path.exists(tmp_path / "run" / "checkpoints")


def test_glow_only_options_are_refused(data_dir, tmp_path):
  result = in_process.run("launch/train.py", *toy_flags("vae", data_dir),
                          "--mixed_precision=bfloat16",
                          f"--workdir={tmp_path / 'run'}")
  line = launcher_error_line(result, "launch/train.py")
  assert "--mixed_precision applies to Glow's coupling networks only" in line


def test_analyze_data_says_its_model_analyses_need_a_glow(trained, tmp_path):
  family, workdir, _ = trained
  result = in_process.run("launch/analyze_data.py", f"--workdir={workdir}",
                          f"--output_dir={tmp_path / 'analysis'}")
  line = launcher_error_line(result, "launch/analyze_data.py")
  assert (f"run is a {family} run: the second-order analysis and the latent "
          "statistics need a Glow") in line
  assert not os.path.exists(tmp_path / "analysis")
