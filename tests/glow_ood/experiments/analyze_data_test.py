"""Tests of `glow_ood.experiments.analyze_data.analyze`: data statistics and the Section 5 analysis.

Toy datasets are written as `.npz` files (the format of ../shared/data) to
`tmp_path`:

  * `toyp`: 8x8x1 blocky images whose pixels are `128 + 4 k`, so graying by
    0.5 and 0.25 (`special_datasets.grayed_images`) is exact, no rounding;
  * `toyq`: test split = `toyp`'s train images grayed by 0.5, so
    `Var_q = Var_p / 4` exactly, dimension by dimension;
  * `toyr`: 6x6x1 images, padded to 8x8x1 by `analyze` (zero border).

With a run, the model is a fresh additive Glow (float64, 2 levels of 1 step,
width 8) with standard split priors and no learned top prior, ActNorm
initialized on `toyp`: its coupling networks output zero, so the flow is
affine, `z = M x + b`, and `log p(x) = -1/2 ||M x + b||^2 + const` is exactly
quadratic, with Hessian `-M^T M`. Every number of the analysis then has a
closed form in `M`, `b` (from `tape.batch_jacobian`) and the data's moments,
computed here without `glow_ood.analysis`.
"""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from glow_ood import configs
from glow_ood import runs as runs_lib
import glow_ood
from glow_ood import analysis
from glow_ood.experiments import analyze_data as analyze_lib
from glow_ood import data
from glow_ood.experiments import evaluate
from glow_ood import likelihood_terms
from glow_ood.data import special as special_datasets
from glow_ood.analysis import second_order
from glow_ood.configs import TrainConfig

IMAGE_SHAPE = (8, 8, 1)
NUM_DIMS = 64
NUM_P = 48            # toyp train images (= toyq test images)
NUM_MODEL = 32        # num_model_examples in the run tests: a strict subset
GRAYING = (0.5, 0.25)


# Data.

def _toy_p_images(num, seed):
  """Blocky 8x8x1 images `128 + 4 k`, k in -32..31: correlated pixels."""
  rng = np.random.default_rng(seed)
  blocks = rng.integers(-20, 20, (num, 2, 2, 1))
  k = np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2)
  k = np.clip(k + rng.integers(-8, 9, (num,) + IMAGE_SHAPE), -32, 31)
  return (128 + 4 * k).astype(np.uint8)


def _write(folder, name, train, test):
  """`<folder>/<name>_{train,test}.npz` in the format of ../shared/data."""
  for split, images in (("train", train), ("test", test)):
    np.savez(os.path.join(str(folder), f"{name}_{split}.npz"), images=images,
             labels=np.zeros([len(images)], np.int64))


def _write_toy_datasets(folder):
  """Writes toyp, toyq, toyr; returns `{name: images analyze should use}`."""
  p_train, p_test = _toy_p_images(NUM_P, 0), _toy_p_images(16, 1)
  q_test = special_datasets.grayed_images(p_train, 0.5)
  r_test = np.random.default_rng(2).integers(
      0, 256, (24, 6, 6, 1)).astype(np.uint8)
  _write(folder, "toyp", p_train, p_test)
  _write(folder, "toyq", _toy_p_images(8, 3), q_test)
  _write(folder, "toyr", r_test[:8], r_test)
  return dict(toyp=p_train, toyp_test=p_test, toyq=q_test, toyr=r_test)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
  folder = tmp_path_factory.mktemp("data")
  return str(folder), _write_toy_datasets(folder)


def _data_config(data_dir):
  return data.DataConfig(dataset="unset", data_dir=data_dir, source="npz")


def _model_scale(images):
  """uint8 -> the model's input at bin centres, flat float64 `[N, D]`."""
  x = np.asarray(images, np.float64).reshape(len(images), -1)
  return x / 256. + 1. / 512. - 0.5


def _biased_covariance(x):
  centred = x - x.mean(0)
  return centred.T @ centred / len(x)


def _assert_summary_close(actual, expected, **tolerance):
  assert sorted(actual) == sorted(expected)
  for key, value in expected.items():
    np.testing.assert_allclose(actual[key], value, err_msg=key, **tolerance)


# 1. Data statistics without a run.

@pytest.mark.slow
def test_data_statistics_without_a_run(toy, tmp_path):
  data_dir, images = toy
  config = configs.AnalysisConfig(
      datasets=("toyp", "toyq", "toyr", "grayed:toyp:0.5"),
      data=_data_config(data_dir), num_examples=40)
  out = analyze_lib.analyze(config, str(tmp_path / "out"))

  assert out["p"] == "toyp"
  assert out["image_shape"] == [8, 8, 1]
  assert list(out["data_statistics"]) == ["toyp", "toyq", "toyr",
                                          "grayed:toyp:0.5"]
  for key in ("run", "second_order", "latent_statistics"):
    assert key not in out
  # p: its train split; the others: their test splits, 6x6 padded to 8x8;
  # a seeded random subset of num_examples=40 images of each.
  expected_images = {
      "toyp": data.subsample(images["toyp"], 40),
      "toyq": data.subsample(images["toyq"], 40),
      "toyr": data.pad_images(images["toyr"], 8),
      "grayed:toyp:0.5": special_datasets.grayed_images(images["toyp_test"],
                                                        0.5)}
  direct = {name: analysis.data_statistics.data_statistics(x)
            for name, x in expected_images.items()}
  for name, stats in direct.items():
    _assert_summary_close(out["data_statistics"][name], stats.summary(),
                          rtol=1e-12)
  summaries = out["data_statistics"]
  assert summaries["toyp"]["num_images"] == 40
  assert summaries["toyr"]["num_images"] == 24
  assert summaries["grayed:toyp:0.5"]["num_images"] == 16
  # Known answers. toyq = toyp grayed by 0.5 without rounding: a quarter of
  # the variance in every dimension, hence of the trace and channel sums.
  p_var = np.var(data.subsample(images["toyp"], 40) / 256., axis=0, ddof=1)
  assert summaries["toyp"]["covariance_trace"] == pytest.approx(p_var.sum())
  assert summaries["toyq"]["covariance_trace"] == pytest.approx(
      p_var.sum() / 4, rel=1e-12)
  np.testing.assert_allclose(summaries["toyq"]["channel_variance_sums"],
                             [p_var.sum() / 4], rtol=1e-12)
  test_var = np.var(images["toyp_test"] / 256., axis=0, ddof=1)
  assert summaries["grayed:toyp:0.5"]["covariance_trace"] == pytest.approx(
      test_var.sum() / 4, rel=1e-12)
  # Zero padding adds only zero-variance pixels: the 6x6 trace, mean / 64.
  r = images["toyr"] / 256.
  assert summaries["toyr"]["covariance_trace"] == pytest.approx(
      np.var(r, axis=0, ddof=1).sum(), rel=1e-12)
  assert summaries["toyr"]["mean_of_means"] == pytest.approx(
      r.mean(0).sum() / 64, rel=1e-12)
  assert summaries["toyr"]["image_shape"] == [8, 8, 1]

  # Figures and the report.
  assert out["figures"] == {"data_statistics": [
      os.path.join("figures", "data_statistics.png"),
      os.path.join("figures", "data_statistics.pdf")]}
  for path in out["figures"]["data_statistics"]:
    assert os.path.getsize(tmp_path / "out" / path) > 1000, path
  with open(tmp_path / "out" / "analysis.json") as f:
    assert json.load(f) == json.loads(json.dumps(out))
  markdown = (tmp_path / "out" / "analysis.md").read_text()
  assert markdown.startswith("# Data analysis: p = toyp\n")
  assert ("| dataset | images | mean of means | mean variance | trace |"
          in markdown)
  for name, s in summaries.items():
    row = (f"| {name} | {s['num_images']} | {s['mean_of_means']:.4f} | "
           f"{s['mean_variance']:.5f} | {s['covariance_trace']:.1f} | ")
    assert row in markdown, (row, markdown)
  assert "Second-order" not in markdown and "Latent codes" not in markdown


def test_image_shape_tiles_gray_to_rgb(toy, tmp_path):
  data_dir, images = toy
  config = configs.AnalysisConfig(
      datasets=("toyp", "toyr"), data=_data_config(data_dir),
      image_shape=(8, 8, 3))
  out = analyze_lib.analyze(config, str(tmp_path / "out"))
  assert out["image_shape"] == [8, 8, 3]
  # Three identical channels: three equal channel sums, 3x the gray trace.
  p_trace = np.var(images["toyp"] / 256., axis=0, ddof=1).sum()
  r_trace = np.var(images["toyr"] / 256., axis=0, ddof=1).sum()
  np.testing.assert_allclose(
      out["data_statistics"]["toyp"]["channel_variance_sums"], [p_trace] * 3,
      rtol=1e-12)
  np.testing.assert_allclose(
      out["data_statistics"]["toyr"]["channel_variance_sums"], [r_trace] * 3,
      rtol=1e-12)


def test_missing_dataset_fails_before_writing(toy, tmp_path):
  data_dir, _ = toy
  config = configs.AnalysisConfig(datasets=("toyp", "no_such_images"),
                                      data=_data_config(data_dir))
  with pytest.raises(data.DatasetNotFoundError,
                     match=re.escape("no_such_images_test.npz")):
    analyze_lib.analyze(config, str(tmp_path / "out"))
  assert not (tmp_path / "out").exists()


def test_no_dataset_and_no_run(tmp_path):
  with pytest.raises(ValueError, match=r"Give at least one dataset"):
    analyze_lib.analyze(configs.AnalysisConfig(), str(tmp_path / "out"))
  assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("changes, match", [
    (dict(hessian_method="diagonal"),
     r"hessian_method='diagonal' is not one of \('exact', "
     r"'hutchinson', 'none'\)"),
    (dict(datasets=("toyp", "constant:0")),
     r"'constant:0' is generated, it has no data statistics"),
    (dict(datasets=("uniform_random",)), r"'uniform_random' is generated"),
    (dict(datasets=("toyp", "constant:300")), r"not in 0\.\.255"),
    (dict(graying_factors=(0.5, 1.5)),
     r"graying_factors must be in \[0, 1\]; got 1\.5"),
    (dict(graying_factors=(-0.1,)), r"graying_factors must be in \[0, 1\]"),
    (dict(num_examples=1), r"num_examples must be >= 2 or None; got 1"),
    (dict(num_model_examples=1), r"num_model_examples must be >= 2; got 1"),
    (dict(num_probes=0), r"num_probes must be >= 1; got 0"),
    (dict(batch_size=0), r"batch_size must be >= 1; got 0"),
], ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items())
   if isinstance(value, dict) else None)
def test_bad_analysis_config(changes, match):
  with pytest.raises(ValueError, match=match):
    configs.AnalysisConfig(**changes)


def test_datasets_given_as_one_str_are_rejected():
  # tuple("toyp") would be the datasets "t", "o", "y", "p" (TrainConfig
  # rejects a str eval_datasets the same way).
  with pytest.raises(TypeError, match=r"datasets must be a sequence"):
    configs.AnalysisConfig(datasets="toyp")


def test_good_analysis_configs():
  # Grayed real data has statistics; factors 0 and 1 are the ends of [0, 1].
  config = configs.AnalysisConfig(
      datasets=("toyp", "grayed:toyp:0.5"), graying_factors=(0., 1.),
      hessian_method="none")
  assert config.datasets == ("toyp", "grayed:toyp:0.5")
  assert configs.AnalysisConfig(hessian_method="hutchinson").num_probes


# 2. With a run: a fresh additive Glow, exactly affine.

def _fresh_additive_run(data_dir, p_images):
  model_config = glow_ood.GlowConfig(
      image_shape=IMAGE_SHAPE, num_levels=2, num_steps_per_level=1,
      hidden_width=8, coupling_scale="additive", split_prior="standard",
      learn_top=False, dtype="float64", seed=4)
  model = glow_ood.Glow(model_config)
  model.initialize(model.preprocess(p_images))
  train_config = TrainConfig(
      model=model_config,
      data=data.DataConfig(dataset="toyp", data_dir=data_dir, source="npz"))
  return runs_lib.Run(name="fresh", workdir="/nowhere/fresh",
                      config=train_config, model=model, step=0)


def _affine_map(model):
  """`(M [D, D], b [D])` with `encode(x) = M x + b`, flat (h, w, c) order."""
  x = tf.zeros([1] + list(IMAGE_SHAPE), tf.float64)
  with tf.GradientTape() as tape:
    tape.watch(x)
    z = model.encode(x)
  jacobian = tape.batch_jacobian(z, x)[0].numpy().reshape(NUM_DIMS, NUM_DIMS)
  return jacobian, z[0].numpy()


@pytest.fixture(scope="module")
def with_run(toy, tmp_path_factory):
  """The analysis of the fresh run with the exact Hessian, and its known parts."""
  data_dir, images = toy
  run = _fresh_additive_run(data_dir, images["toyp"])
  config = configs.AnalysisConfig(
      datasets=("toyp", "toyq", "toyr"), num_model_examples=NUM_MODEL,
      hessian_method="exact", graying_factors=GRAYING, batch_size=16)
  output_dir = tmp_path_factory.mktemp("analysis")
  out = analyze_lib.analyze(config, str(output_dir), run=run)
  m, b = _affine_map(run.model)
  conformed = dict(toyp=images["toyp"], toyq=images["toyq"],
                   toyr=data.pad_images(images["toyr"], 8))
  return dict(out=out, run=run, m=m, b=b, images=conformed,
              output_dir=output_dir, data_dir=data_dir)


def test_fresh_additive_glow_is_affine(with_run):
  # The premise of the closed forms below.
  model, m, b = with_run["run"].model, with_run["m"], with_run["b"]
  for name, images in with_run["images"].items():
    x = _model_scale(images)
    z = model.encode(model.preprocess(images)).numpy()
    np.testing.assert_allclose(z, x @ m.T + b, rtol=1e-9, atol=1e-9,
                               err_msg=name)


def test_measured_gap(with_run):
  out, run, m, b = (with_run[k] for k in ("out", "run", "m", "b"))
  images = with_run["images"]
  assert list(out["second_order"]) == ["toyq", "toyr"]
  scorer = likelihood_terms.LikelihoodTermsEvaluator(run.model, 16)
  log_p = {n: scorer(data.subsample(x, NUM_MODEL)).discrete_log_prob
           for n, x in images.items()}
  x_p = _model_scale(data.subsample(images["toyp"], NUM_MODEL))
  for name in ("toyq", "toyr"):
    result = out["second_order"][name]
    measured = result["measured_gap"]
    assert measured == pytest.approx(
        np.mean(log_p[name]) - np.mean(log_p["toyp"]), rel=1e-10)
    # Gaussian-free: the mean of a quadratic over any sample is fixed by the
    # sample's mean and (biased) covariance.
    x_q = _model_scale(data.subsample(images[name], NUM_MODEL))
    expected_sq_norm = {
        which: np.sum((m @ x.mean(0) + b) ** 2)
               + np.trace(m.T @ m @ _biased_covariance(x))
        for which, x in (("p", x_p), ("q", x_q))}
    assert measured == pytest.approx(
        -0.5 * (expected_sq_norm["q"] - expected_sq_norm["p"]), rel=1e-8)
    assert result["measured_gap_bits_per_dim"] == pytest.approx(
        measured / (NUM_DIMS * np.log(2.)), rel=1e-12)
    assert result["num_dims"] == NUM_DIMS


def test_paper_and_hessian_gaps(with_run):
  out, run, m, b = (with_run[k] for k in ("out", "run", "m", "b"))
  images = with_run["images"]
  stats = {n: analysis.data_statistics.data_statistics(x) for n, x in images.items()}
  weights = second_order.paper_dimension_weights(run.model.flow)
  hessian_diagonal = -np.sum(m ** 2, axis=0)            # diag(-M^T M)
  # analyze's diagonal (HVPs at the mean training image) is -diag(M^T M).
  x0 = stats["toyp"].mean + 1. / 512. - 0.5
  assert out["hessian_diagonal_mean"] == pytest.approx(
      np.mean(hessian_diagonal), rel=1e-8)
  np.testing.assert_allclose(out["hessian_diagonal_per_channel_mean"],
                             [np.mean(hessian_diagonal)], rtol=1e-8)
  var_p = stats["toyp"].variance
  scale = 1. / (NUM_DIMS * np.log(2.))
  for name in ("toyq", "toyr"):
    result = out["second_order"][name]
    var_q = stats[name].variance
    paper = second_order.paper_prediction(weights, var_p, var_q)
    assert result["paper_gap"] == pytest.approx(paper["predicted_gap"],
                                                rel=1e-12)
    assert result["paper_gap_per_channel"] == pytest.approx(
        paper["predicted_gap_per_channel"], rel=1e-12)
    assert result["paper_gap"] == pytest.approx(
        -0.5 * np.sum(weights * (var_q - var_p)), rel=1e-10)
    np.testing.assert_allclose(result["alpha"], paper["alpha"], rtol=1e-12)
    np.testing.assert_allclose(result["channel_variance_sums_p"],
                               [var_p.sum()], rtol=1e-12)
    np.testing.assert_allclose(result["channel_variance_sums_q"],
                               [var_q.sum()], rtol=1e-12)
    # Eq. 5 with the model's own Hessian: exact for this quadratic log p.
    assert result["hessian_method"] == "exact"
    assert result["hessian_gap"] == pytest.approx(
        -0.5 * np.sum(np.sum(m ** 2, axis=0) * (var_q - var_p).reshape(-1)),
        rel=1e-8)
    # The first-order term at x0 = mean training image:
    # grad log p(x0) = -M^T (M x0 + b).
    gradient = -m.T @ (m @ x0.reshape(-1) + b)
    assert result["first_order"] == pytest.approx(
        gradient @ (stats[name].mean - stats["toyp"].mean).reshape(-1),
        rel=1e-7, abs=1e-9)
    for key in ("measured_gap", "paper_gap", "paper_gap_per_channel",
                "hessian_gap", "first_order"):
      assert result[f"{key}_bits_per_dim"] == pytest.approx(
          result[key] * scale, rel=1e-12), key
  # toyq has a quarter of toyp's variance: Eq. 5 and Eq. 6 both predict a
  # higher likelihood, -1/2 sum_d w_d (1/4 - 1) var_p,d = 3/8 sum_d w_d var_p,d.
  toyq = out["second_order"]["toyq"]
  assert toyq["hessian_gap"] == pytest.approx(
      0.375 * np.sum(-hessian_diagonal * var_p.reshape(-1)), rel=1e-8)
  assert toyq["paper_gap"] == pytest.approx(0.375 * np.sum(weights * var_p),
                                            rel=1e-10)
  assert toyq["hessian_gap"] > 0 and toyq["paper_gap"] > 0


def test_latent_statistics(with_run):
  out, m, b = (with_run[k] for k in ("out", "m", "b"))
  images = with_run["images"]
  latent = out["latent_statistics"]
  assert list(latent) == ["toyp", "toyq", "toyr", "toyp grayed x0.5",
                          "toyp grayed x0.25"]
  for name in ("toyp", "toyq", "toyr"):
    x = _model_scale(data.subsample(images[name], NUM_MODEL))
    z = x @ m.T + b
    variance = np.diag(m @ np.cov(x, rowvar=False) @ m.T)
    norms = np.linalg.norm(z, axis=1)
    _assert_summary_close(latent[name], {
        "num_images": len(x), "num_dims": NUM_DIMS,
        "mean_of_means": np.mean(z.mean(0)),
        "mean_abs_mean": np.mean(np.abs(z.mean(0))),
        "mean_std": np.mean(np.sqrt(variance)),
        "covariance_trace": np.sum(variance),
        "mean_norm": np.mean(norms),
        "mean_normalized_norm": np.mean(norms) / np.sqrt(NUM_DIMS)},
                          rtol=1e-8, atol=1e-12)
  # Graying toyp by 0.5 gives toyq's images exactly; graying scales the code
  # deviations z - mean by the factor (the map is affine).
  _assert_summary_close(latent["toyp grayed x0.5"], latent["toyq"], rtol=1e-10)
  for factor in GRAYING:
    grayed = latent[f"toyp grayed x{factor:g}"]
    assert grayed["num_images"] == NUM_MODEL
    assert grayed["mean_std"] == pytest.approx(
        factor * latent["toyp"]["mean_std"], rel=1e-8)
    assert grayed["covariance_trace"] == pytest.approx(
        factor ** 2 * latent["toyp"]["covariance_trace"], rel=1e-8)


def test_outputs_with_a_run(with_run):
  out, output_dir = with_run["out"], with_run["output_dir"]
  assert out["p"] == "toyp"
  assert out["run"] == dict(name="fresh", workdir="/nowhere/fresh", step=0,
                            coupling_scale="additive")
  assert sorted(out["figures"]) == ["data_statistics", "latent_statistics",
                                    "latent_statistics_graying"]
  for name, paths in out["figures"].items():
    assert paths == [os.path.join("figures", f"{name}.png"),
                     os.path.join("figures", f"{name}.pdf")]
    for path in paths:
      assert os.path.getsize(output_dir / path) > 1000, path
  with open(output_dir / "analysis.json") as f:
    assert json.load(f) == json.loads(json.dumps(out))
  markdown = (output_dir / "analysis.md").read_text()
  assert "## Second-order prediction" in markdown and "run fresh" in markdown
  for name, r in out["second_order"].items():
    cells = [f"{r[key]:.1f} ({r[key + '_bits_per_dim']:+.3f})"
             for key in ("measured_gap", "paper_gap", "hessian_gap",
                         "first_order")]
    assert f"| {name} | " + " | ".join(cells) + " | " in markdown, name
  assert "## Latent codes" in markdown
  for name, s in out["latent_statistics"].items():
    assert (f"| {name} | {s['mean_of_means']:.4f} | {s['mean_std']:.4f} | "
            f"{s['mean_normalized_norm']:.4f} |") in markdown, name


def test_hessian_none_and_p_from_the_run(with_run, tmp_path):
  # p is the run's dataset even when --datasets lists it second.
  config = configs.AnalysisConfig(
      datasets=("toyq", "toyp"), num_model_examples=NUM_MODEL,
      hessian_method="none", graying_factors=(), batch_size=16,
      data=data.DataConfig(dataset="unset", data_dir=with_run["data_dir"]))
  out = analyze_lib.analyze(config, str(tmp_path / "out"), run=with_run["run"])
  assert out["p"] == "toyp"
  assert list(out["data_statistics"]) == ["toyp", "toyq"]
  (result,) = out["second_order"].values()
  assert list(out["second_order"]) == ["toyq"]
  assert result["hessian_gap"] is None and result["hessian_method"] is None
  assert "hessian_gap_bits_per_dim" not in result
  assert "hessian_diagonal_mean" not in out
  exact = with_run["out"]["second_order"]["toyq"]
  for key in ("measured_gap", "paper_gap", "first_order"):
    assert result[key] == pytest.approx(exact[key], rel=1e-10), key
  # No graying factors: no grayed latents and no graying figure.
  assert list(out["latent_statistics"]) == ["toyp", "toyq"]
  assert "latent_statistics_graying" not in out["figures"]
  markdown = (tmp_path / "out" / "analysis.md").read_text()
  row = [line for line in markdown.splitlines()
         if line.startswith("| toyq | ") and "(" in line]
  assert len(row) == 1 and row[0].split(" | ")[3] == "-", row
