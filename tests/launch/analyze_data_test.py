"""The analysis launcher end to end: statistics only, with a trained run, errors.

Toy `.npz` datasets (the format of ../shared/data) are written to `tmp_path`:
`toyp` (8x8x1, pixels `128 + 4 k`) and `toyq`, whose test split is `toyp`'s
train images grayed by 0.5 exactly, so its variances are a quarter of toyp's.
The run is trained for 2 steps by `launch/train.py` (an additive 8x8x1 Glow,
2 levels of 1 step, width 8).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from glow_ood import configs
from glow_ood import train as train_lib
from tests import REPO
from tests import launcher_error_line
from tests.toy_data import tiny_glow_config
from tests.toy_data import tiny_train_config
from tests.launch import in_process
from glow_ood import runs as runs_lib
from glow_ood import analysis
from glow_ood import data
from glow_ood import likelihood_terms
from glow_ood.data import special as special_datasets
from glow_ood.analysis import second_order

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow

LAUNCHER = os.path.join(REPO, "launch", "analyze_data.py")
NUM_P = 48
ERROR_PREFIX = "launch/analyze_data.py: error:"


def _toy_p_images(num, seed):
  """Blocky 8x8x1 images `128 + 4 k`, k in -32..31."""
  rng = np.random.default_rng(seed)
  blocks = rng.integers(-20, 20, (num, 2, 2, 1))
  k = np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2)
  k = np.clip(k + rng.integers(-8, 9, (num, 8, 8, 1)), -32, 31)
  return (128 + 4 * k).astype(np.uint8)


def _write(folder, name, train, test):
  for split, images in (("train", train), ("test", test)):
    np.savez(os.path.join(str(folder), f"{name}_{split}.npz"), images=images,
             labels=np.zeros([len(images)], np.int64))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
  """`(data_dir, {"toyp": p's train images, "toyq": q's test images})`."""
  folder = tmp_path_factory.mktemp("data")
  p_train = _toy_p_images(NUM_P, 0)
  q_test = special_datasets.grayed_images(p_train, 0.5)
  _write(folder, "toyp", p_train, _toy_p_images(16, 1))
  _write(folder, "toyq", _toy_p_images(8, 2), q_test)
  return str(folder), dict(toyp=p_train, toyq=q_test)


def _run(args, cwd):
  return subprocess.run([sys.executable, *args], cwd=str(cwd),
                        capture_output=True, text=True, timeout=600,
                        check=False)


def _error_line(result):
  return launcher_error_line(result, "launch/analyze_data.py")


def test_statistics_only(toy, tmp_path):
  data_dir, images = toy
  # Run from tmp_path: the default --output_dir is runs/analysis_<p> there.
  result = _run([LAUNCHER, "--datasets=toyp,toyq", f"--data_dir={data_dir}",
                 "--data_source=npz"], tmp_path)
  assert result.returncode == 0, result.stderr[-3000:]
  output_dir = tmp_path / "runs" / "analysis_toyp"
  assert "Written to runs/analysis_toyp/" in result.stdout
  # The printed report is analysis.md.
  markdown = (output_dir / "analysis.md").read_text()
  assert markdown in result.stdout
  assert "# Data analysis: p = toyp" in result.stdout
  assert "| dataset | images | mean of means |" in result.stdout
  with open(output_dir / "analysis.json") as f:
    out = json.load(f)
  assert list(out["data_statistics"]) == ["toyp", "toyq"]
  assert "second_order" not in out
  for name, x in images.items():
    expected = analysis.data_statistics.data_statistics(x).summary()
    for key, value in expected.items():
      np.testing.assert_allclose(out["data_statistics"][name][key], value,
                                 rtol=1e-12, err_msg=f"{name} {key}")
    s = out["data_statistics"][name]
    assert (f"| {name} | {NUM_P} | {s['mean_of_means']:.4f} | "
            f"{s['mean_variance']:.5f} | {s['covariance_trace']:.1f} | "
            in result.stdout), name
  # q = p grayed by 0.5: a quarter of the variance.
  assert out["data_statistics"]["toyq"]["covariance_trace"] == pytest.approx(
      out["data_statistics"]["toyp"]["covariance_trace"] / 4, rel=1e-12)
  for suffix in ("png", "pdf"):
    assert (output_dir / "figures" / f"data_statistics.{suffix}").exists()


def test_with_a_trained_run(toy, tmp_path):
  data_dir, images = toy
  workdir = tmp_path / "run"
  # Trained from Python: the launcher opens it from its config.json.
  train_lib.train(tiny_train_config(
      data_dir, model=tiny_glow_config(coupling_scale="additive",
                                       split_prior="standard",
                                       learn_top=False),
      data=configs.DataConfig(dataset="toyp", data_dir=data_dir,
                              source="npz"),
      train_steps=2, checkpoint_every=2, eval_num_examples=16), str(workdir))

  # p comes from the run; --output_dir defaults to <workdir>/analysis.
  result = in_process.run(
      LAUNCHER, f"--workdir={workdir}", "--datasets=toyq",
      "--hessian_method=exact", "--num_model_examples=32",
      "--graying_factors=0.5", "--batch_size=16", cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-3000:]
  output_dir = workdir / "analysis"
  assert f"Written to {output_dir}/" in result.stdout
  assert "## Second-order prediction" in result.stdout
  with open(output_dir / "analysis.json") as f:
    out = json.load(f)
  assert out["p"] == "toyp"
  assert out["run"] == dict(name="run", workdir=str(workdir), step=2,
                            coupling_scale="additive")
  assert list(out["second_order"]) == ["toyq"]
  gaps = out["second_order"]["toyq"]
  assert gaps["hessian_method"] == "exact" and gaps["num_dims"] == 64
  assert list(out["latent_statistics"]) == ["toyp", "toyq", "toyp grayed x0.5"]

  # The same numbers from the restored run, in this process.
  run = runs_lib.load_run(str(workdir))
  scorer = likelihood_terms.LikelihoodTermsEvaluator(run.model, 16)
  measured = (
      np.mean(scorer(data.subsample(images["toyq"], 32)).discrete_log_prob)
      - np.mean(scorer(data.subsample(images["toyp"], 32)).discrete_log_prob))
  assert gaps["measured_gap"] == pytest.approx(measured, rel=1e-5)
  stats = {n: analysis.data_statistics.data_statistics(x)
           for n, x in images.items()}
  var_p, var_q = stats["toyp"].variance, stats["toyq"].variance
  paper = second_order.paper_prediction(
      second_order.paper_dimension_weights(run.model.flow), var_p, var_q)
  assert gaps["paper_gap"] == pytest.approx(paper["predicted_gap"], rel=1e-5)
  x0 = (stats["toyp"].mean + 1. / 512. - 0.5).astype(np.float32)
  diagonal = second_order.hessian_diagonal(run.model.log_prob, x0)
  assert gaps["hessian_gap"] == pytest.approx(
      0.5 * np.sum(diagonal * (var_q - var_p)), rel=1e-4)
  # q has a quarter of p's variance: both predictions say "more likely".
  assert gaps["paper_gap"] > 0 and gaps["hessian_gap"] > 0


def test_no_datasets_and_no_workdir(tmp_path):
  result = in_process.run(LAUNCHER, cwd=tmp_path)
  line = _error_line(result)
  assert line == (f"{ERROR_PREFIX} Give --datasets=p,q,... or "
                  "--workdir=<trained run>.")
  assert not (tmp_path / "runs").exists()

