"""Tests of `glow_ood.experiments.ood_benchmark`: the OOD-score benchmark end to end on toy data.

One module-scoped run trains 2 seeds x (model + background model) of a tiny
Glow (8x8x1, 2 levels of 1 step, width 8) for a few steps on synthetic `.npz`
files written to a temporary folder in ../shared/data's format:

  * "toyin" (in-distribution): 8x8 blocky images (2x2 random blocks + noise);
  * "toyout": 6x6 fine checkerboards, a different kind of image, which the
    benchmark zero-pads to the model's 8x8 (`data.load_images_as`);
  * "toynear": 8x8 blocky images, every other one with twice the noise: half
    in-distribution, so its AUROCs are not all 1 (and recomputed cells could
    disagree);

and scores the pairs toyin -> toyout, toyin -> toynear, toyin -> constant:0
and toyin -> uniform_random. The tests check the shape of the results (every
row of `benchmark_rows.score_rows`, DoSE and the latents' goodness-of-fit
included, one example and batches of 5 and 10), recompute cells from the
trained models by hand, resume, score finished training runs instead of
training, and reject bad settings.
Training uses the default mirrored strategy over tests/conftest.py's two
logical CPUs, hence even batch sizes.
"""

import dataclasses
import json
import os
import shutil
from typing import Any, Dict, List, NamedTuple

from absl import flags
import numpy as np
import pytest

from launch import bootstrap
from tests import REPO
from glow_ood import configs
from glow_ood import flags as glow_flags
from glow_ood import likelihood_terms
from glow_ood import metrics
from glow_ood import models
from glow_ood import runs as runs_lib
from glow_ood import scores as scores_lib
from glow_ood.experiments import benchmark_rows
from glow_ood.experiments import ood_benchmark
from glow_ood.runs import folder as run_folder

IN_SHAPE = (8, 8, 1)
OUT_SHAPE = (6, 6, 1)
NUM_TRAIN, NUM_TEST = 300, 100
PAIRS = (("toyin", "toyout"), ("toyin", "toynear"), ("toyin", "constant:0"),
         ("toyin", "uniform_random"))
COLUMNS = tuple(f"{a} -> {b}" for a, b in PAIRS)
NLL_ROW = "nll"
RATIO_ROW = "likelihood_ratio_mu0.2_lambda0"
BACKGROUND = "background_mu0.2_l20"
# Every row of the toy Glow's table, in order.
ROWS = [
    NLL_ROW, "typicality", "typicality_batch_5", "typicality_batch_10",
    "waic", "input_complexity_png", RATIO_ROW, "level_1", "level_2",
    "dose_kde", "dose_kde_batch_5", "dose_kde_batch_10",
    "dose_svm", "dose_svm_batch_5", "dose_svm_batch_10",
    "latent_gof", "latent_gof_batch_5", "latent_gof_batch_10"]
PADDED_NOTE = "6x6 images zero-padded to 8x8; the in-distribution images are 8x8 as stored"


# Data and configs.

def _blocky_images(num, seed, shape=IN_SHAPE, noise=30):
  """2x2 random blocks (values 40..215), upsampled, plus uniform noise."""
  rng = np.random.default_rng(seed)
  h, w, c = shape
  blocks = rng.integers(40, 216, (num, 2, 2, c))
  images = np.repeat(np.repeat(blocks, h // 2, axis=1), w // 2, axis=2)
  images = images + rng.integers(-noise, noise + 1, (num,) + tuple(shape))
  return np.clip(images, 0, 255).astype(np.uint8)


def _checkerboard_images(num, seed, shape=OUT_SHAPE):
  """Pixel-level checkerboards of random mean and contrast: another kind."""
  rng = np.random.default_rng(seed)
  h, w, c = shape
  sign = np.where((np.arange(h)[:, None] + np.arange(w)[None, :]) % 2, 1, -1)
  mean = rng.integers(80, 176, (num, 1, 1, 1))
  contrast = rng.integers(20, 70, (num, 1, 1, 1))
  images = mean + contrast * sign[None, :, :, None]
  images = np.broadcast_to(images, (num, h, w, c))
  return np.clip(images, 0, 255).astype(np.uint8)


def _near_images(num, seed):
  """`_blocky_images`, every other one (1, 3, ...) with noise +-60, not +-30."""
  images = _blocky_images(num, seed)
  images[1::2] = _blocky_images(num, seed, noise=60)[1::2]
  return images


def write_dataset(folder, name, make_images, seed):
  """`<folder>/<name>_{train,test}.npz`: uint8 `images` NHWC, int64 `labels`."""
  for split, num in (("train", NUM_TRAIN), ("test", NUM_TEST)):
    np.savez(os.path.join(folder, f"{name}_{split}.npz"),
             images=make_images(num, seed=(seed, len(split))),
             labels=np.zeros([num], np.int64))


# The Glow's settings (`BenchmarkConfig.model`) the tests change.
GLOW_FIELDS = ("num_levels", "num_steps_per_level", "hidden_width",
               "coupling_scale")


def benchmark_config(base=None, **values):
  """`BenchmarkConfig(**values)` (or `base.replace`), the Glow's fields in its model."""
  glow = {name: values.pop(name) for name in GLOW_FIELDS if name in values}
  if base is None:
    model = configs.families.get("glow").benchmark
    return configs.BenchmarkConfig(model=model.replace(**glow), **values)
  return base.replace(model=base.model.replace(**glow), **values)


def toy_config(data_dir, **overrides):
  """The toy benchmark: 2 seeds of a tiny Glow, 16 steps each, 50 examples."""
  values = dict(
      pairs=PAIRS, num_seeds=2, image_size=8, num_levels=2,
      num_steps_per_level=1, hidden_width=8, train_steps=16, batch_size=16,
      learning_rate=3e-3, warmup_steps=0, validation_size=50, num_examples=50,
      batch_sizes=(5, 10), num_bootstrap=50, data_dir=str(data_dir),
      eval_batch_size=50)
  values.update(overrides)
  return benchmark_config(**values)


class ToyRun(NamedTuple):
  """The toy run: its config, data folder, workdir, results and log lines."""
  config: configs.BenchmarkConfig
  data_dir: str
  workdir: str
  results: Dict[str, Any]
  log: List[str]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp("data"))
  write_dataset(data_dir, "toyin", _blocky_images, seed=0)
  write_dataset(data_dir, "toyout", _checkerboard_images, seed=1)
  write_dataset(data_dir, "toynear", _near_images, seed=2)
  workdir = str(tmp_path_factory.mktemp("toy_run"))
  config = toy_config(data_dir)
  log = []
  results = ood_benchmark.run_benchmark(config, workdir, log=log.append)
  return ToyRun(config, data_dir, workdir, results, log)


def _rows(config):
  return [row for row, _, _ in ood_benchmark.score_rows(config)]


def _cells(results, family="glow"):
  """`{pair: {row: cell}}` of one family."""
  return results["families"][family]["cells"]


def _copy_workdir(toy_run, tmp_path):
  """A copy of the toy run's workdir, for runs that write into it."""
  copy = str(tmp_path / "toy_run")
  shutil.copytree(toy_run.workdir, copy)
  return copy


# The toy run.

def test_results_json_has_every_pair_and_every_score(toy_run):
  with open(os.path.join(toy_run.workdir, "results.json"),
            encoding="utf-8") as f:
    saved = json.load(f)
  assert saved == json.loads(json.dumps(toy_run.results))
  assert saved["format_version"] == 5 and list(saved["families"]) == ["glow"]
  family = saved["families"]["glow"]
  expected = json.loads(json.dumps(dataclasses.asdict(toy_run.config)))
  expected["model"]["family"] = "glow"
  assert family["config"] == expected
  assert configs.from_dict({"format_version": 1, "type": "BenchmarkConfig",
                            "config": family["config"]}) == toy_run.config
  assert set(family["cells"]) == set(COLUMNS)
  rows = _rows(toy_run.config)
  assert rows == ROWS
  assert all(row.replace("_", "").replace(".", "").isalnum() for row in rows)
  score_rows = ood_benchmark.score_rows(toy_run.config)
  kinds = {row: kind for row, _, kind in score_rows}
  names = {row: score.name for row, score, _ in score_rows}
  for column in COLUMNS:
    assert list(family["cells"][column]) == rows, column
    for row in rows:
      score = family["cells"][column][row]["score"]
      assert score["kind"] == kinds[row] and score["name"] == names[row]
  for size in (5, 10):
    for row in ("typicality", "dose_kde", "dose_svm", "latent_gof"):
      score = family["cells"][COLUMNS[0]][f"{row}_batch_{size}"]["score"]
      assert score["batch_size"] == size and score["kind"] == "batches", row
  assert family["cells"][COLUMNS[0]]["dose_svm"]["score"]["estimator"] == "svm"
  # The one-example test of the latents is Anderson-Darling's; batches are
  # tested by the KS test of random projections.
  assert family["cells"][COLUMNS[0]]["latent_gof"]["score"]["test"] == (
      "anderson_darling")
  assert family["preprocessing"] == {
      "toyin -> toyout": [PADDED_NOTE], "toyin -> toynear": [],
      "toyin -> constant:0": [], "toyin -> uniform_random": []}
  assert "model_runs" not in family
  ratio = family["cells"][COLUMNS[0]][RATIO_ROW]["score"]
  assert (ratio["mutation_rate"], ratio["l2_weight"]) == (0.2, 0.)
  assert family["elapsed_seconds"] > 0.
  assert ["toyin: 4 cell(s) written to "
          + os.path.join(toy_run.workdir, "results.json")] == [
              line for line in toy_run.log if "cell(s) written" in line]


def test_each_cell_is_the_mean_over_seeds_inside_its_interval(toy_run):
  kinds = {row: kind for row, _, kind in ood_benchmark.score_rows(toy_run.config)}
  for column in COLUMNS:
    for row, cell in _cells(toy_run.results)[column].items():
      where = f"{column} / {row}: {cell}"
      per_seed = cell["auroc_per_seed"]
      assert len(per_seed) == (1 if kinds[row] == "ensemble" else 2), where
      assert cell["auroc"] == pytest.approx(np.mean(per_seed), abs=1e-12), where
      assert cell["auroc_low"] <= cell["auroc"] <= cell["auroc_high"], where
      for key in ("auroc", "auroc_low", "auroc_high", "aupr_in", "aupr_out",
                  "fpr_at_95_tpr"):
        assert 0. <= cell[key] <= 1., where
      assert all(0. <= value <= 1. for value in per_seed), where


def test_likelihood_flags_uniform_noise(toy_run):
  # A trained model gives 8-bit noise far lower likelihood than its data.
  cell = _cells(toy_run.results)["toyin -> uniform_random"][NLL_ROW]
  assert min(cell["auroc_per_seed"]) > 0.95, cell
  assert cell["auroc_low"] > 0.9 and cell["fpr_at_95_tpr"] < 0.2, cell


def test_models_and_background_models_were_trained(toy_run):
  config = toy_run.config
  for seed in range(config.num_seeds):
    for kind in ("model", BACKGROUND):
      run = os.path.join(toy_run.workdir, "toyin", f"seed_{seed}", kind)
      assert os.path.isfile(os.path.join(run, "checkpoints", "checkpoint")), run
      with open(os.path.join(run, "results.json"), encoding="utf-8") as f:
        assert json.load(f)["step"] == config.train_steps, run
    model = ood_benchmark._train_config(config, "toyin", 1, seed)
    background = ood_benchmark._train_config(config, "toyin", 1, seed,
                                             background=(0.2, 0.))
    assert model.data.mutation_rate == 0. and model.l2_weight == 0.
    assert background.data.mutation_rate == 0.2
    assert config.background_settings == ((0.2, 0.),)
    # Every run holds out the same validation split (data seed 0) ...
    assert model.data.seed == background.data.seed == 0
    assert model.data.validation_size == config.validation_size
    # ... and starts from its own initialization.
    assert model.model.seed == seed and background.model.seed == seed + 1000
  assert sum(line.startswith("training ") for line in toy_run.log) == 4


def _restore(toy_run, seed, background):
  config = toy_run.config
  train = ood_benchmark._train_config(config, "toyin", 1, seed,
                                      (0.2, 0.) if background else None)
  kind = BACKGROUND if background else "model"
  model, step = runs_lib.restore_model(
      train, os.path.join(toy_run.workdir, "toyin", f"seed_{seed}", kind))
  assert step == config.train_steps
  return model


def _npz_images(toy_run, name, split):
  with np.load(os.path.join(toy_run.data_dir, f"{name}_{split}.npz")) as f:
    return f["images"]


@pytest.fixture(scope="module")
def recomputed(toy_run):
  """`(scores, images)`: per seed, per set, `LikelihoodTerms` of the model (with
  its latents) and the background model; the images of each set.

  The sets are built from the npz files by hand: the validation split the
  benchmark holds out (`rng(0).permutation(300)[:50]`, in file order), the
  first 50 test images of "toyin" and "toynear", and the first 50 of "toyout"
  zero-padded 6x6 -> 8x8 (one row / column of zeros on every side).
  """
  train = _npz_images(toy_run, "toyin", "train")
  held_out = np.sort(np.random.default_rng(0).permutation(NUM_TRAIN)[:50])

  def subset(images):  # 50 at most: a seeded random subset in file order
    if len(images) <= 50:
      return images
    return images[np.sort(np.random.default_rng(0).choice(
        len(images), 50, replace=False))]

  images = {
      "validation": train[held_out],
      "test": subset(_npz_images(toy_run, "toyin", "test")),
      "toynear": subset(_npz_images(toy_run, "toynear", "test")),
      "toyout": np.pad(subset(_npz_images(toy_run, "toyout", "test")),
                       ((0, 0), (1, 1), (1, 1), (0, 0)))}
  scores = []
  for seed in range(toy_run.config.num_seeds):
    model = likelihood_terms.LikelihoodTermsEvaluator(_restore(toy_run, seed, False), 50,
                                         latents=True)
    background = likelihood_terms.LikelihoodTermsEvaluator(_restore(toy_run, seed, True), 50)
    scores.append({name: (model(x), background(x))
                   for name, x in images.items()})
  return scores, images


@pytest.mark.parametrize("out", ["toyout", "toynear"])
def test_cells_recomputed_from_the_trained_models(toy_run, recomputed, out):
  """Each score's formula applied to the restored models' log-likelihoods."""
  cells = _cells(toy_run.results)[f"toyin -> {out}"]
  recomputed, images = recomputed
  sets = ("test", out)
  nll, ratio, typical, batches, last_level, entropies = [], [], [], [], [], []
  batches_of_10 = []
  for scored in recomputed:
    own = {name: scored[name][0] for name in ("validation",) + sets}
    background = {name: scored[name][1] for name in sets}
    nll.append(tuple(-own[k].discrete_log_prob / (64 * np.log(2.))
                     for k in sets))
    ratio.append(tuple(background[k].discrete_log_prob
                       - own[k].discrete_log_prob
                       for k in sets))
    entropy = np.mean(-own["validation"].discrete_log_prob)
    entropies.append(entropy)
    typical.append(tuple(np.abs(-own[k].discrete_log_prob - entropy)
                         for k in sets))
    batches.append(tuple(   # 10 batches of 5 consecutive examples
        np.abs(np.mean(-own[k].discrete_log_prob.reshape(10, 5), axis=1)
               - entropy)
        for k in sets))
    batches_of_10.append(tuple(
        np.abs(np.mean(-own[k].discrete_log_prob.reshape(5, 10), axis=1)
               - entropy)
        for k in sets))
    # The last level's latent of an 8x8x1 two-level Glow: 2x2x8 = 32 dims.
    last_level.append(tuple(
        -(own[k].log_prob_z_per_level[:, 1] + own[k].log_det_per_level[:, 1])
        / (32 * np.log(2.)) for k in sets))
  members = {k: np.stack([scored[k][0].discrete_log_prob
                          for scored in recomputed])
             for k in sets}
  waic = [tuple(np.var(members[k], axis=0) - np.mean(members[k], axis=0)
                for k in sets)]

  def check(row, pairs):
    expected = [metrics.auroc(a, b) for a, b in pairs]
    np.testing.assert_allclose(cells[row]["auroc_per_seed"], expected,
                               atol=1e-9, err_msg=row)
    assert cells[row]["auroc"] == pytest.approx(np.mean(expected), abs=1e-9)

  check(NLL_ROW, nll)
  check(RATIO_ROW, ratio)
  check("typicality_batch_10", batches_of_10)
  # DoSE and the latents' test: the scores on Features made by hand from the
  # restored models' latents (levels of 32 and 32 values) and the images,
  # fitted on the held-out split.
  def features(scored, name):
    return scores_lib.from_likelihood_terms(scored[name][0], images=images[name],
                                        num_dims_per_level=(32, 32))

  for row, make, batched in [
      ("dose_kde", lambda: scores_lib.DoSE(estimator="kde"), False),
      ("dose_svm_batch_10",
       lambda: scores_lib.DoSE(estimator="svm", batch_size=10), True),
      ("latent_gof", scores_lib.LatentGoodnessOfFit, False),
      ("latent_gof_batch_5",
       lambda: scores_lib.LatentGoodnessOfFit(batch_size=5), True)]:
    pairs = []
    for scored in recomputed:
      score = make().fit(features(scored, "validation"))
      apply = score.score_batches if batched else score
      pairs.append(tuple(apply(features(scored, k)) for k in sets))
    check(row, pairs)
  check("typicality", typical)
  check("typicality_batch_5", batches)
  check("level_2", last_level)
  check("waic", waic)
  # The typicality score is fitted on each seed's validation set.
  fitted = cells["typicality"]["score"]["fitted_per_seed"]
  assert [f["entropy"] for f in fitted] == pytest.approx(entropies, rel=1e-12)
  cell = cells[NLL_ROW]
  assert cell["aupr_in"] == pytest.approx(np.mean(
      [metrics.aupr(a, b, positive="in") for a, b in nll]), abs=1e-9)
  assert cell["aupr_out"] == pytest.approx(np.mean(
      [metrics.aupr(a, b, positive="out") for a, b in nll]), abs=1e-9)
  assert cell["fpr_at_95_tpr"] == pytest.approx(np.mean(
      [metrics.fpr_at_tpr(a, b, 0.95) for a, b in nll]), abs=1e-9)


def test_near_pair_is_not_trivially_separated(toy_run):
  # Else the recomputed cells above could agree by chance (all AUROCs 1).
  cells = _cells(toy_run.results)["toyin -> toynear"]
  values = [v for cell in cells.values() for v in cell["auroc_per_seed"]]
  assert sum(0.05 < v < 0.95 for v in values) >= 5, cells


def test_results_md_has_one_row_per_score_and_one_column_per_pair(toy_run):
  with open(os.path.join(toy_run.workdir, "results.md"),
            encoding="utf-8") as f:
    text = f.read()
  assert text == ood_benchmark.benchmark_markdown(toy_run.results,
                                                  toy_run.config)
  assert ("- Glow: 2 seeds of Glow (2 levels x 1 steps, width 8, sigmoid "
          "coupling), 16 steps of batch 16; backgrounds (mu, lambda) in "
          "(0.2, 0).") in text
  header, body = _markdown_table(text)
  # The padded OOD set is marked, and what differs is said below the table.
  assert header == ["score (AUROC, higher = better)", "model",
                    "toyin → toyout †", "toyin → toynear",
                    "toyin → constant:0", "toyin → uniform_random"]
  assert f"† toyin → toyout: {PADDED_NOTE}." in text
  assert ("Every other out-of-distribution set went through the "
          "in-distribution images' preprocessing.") in text
  assert [r[0] for r in body] == [
      benchmark_rows.row_label(row, 2) for row in _rows(toy_run.config)]
  assert body[8][0] == "level 2 likelihood (bits/dim) = last level"
  assert body[-1][0] == ("latent goodness-of-fit, random-projection KS, "
                         "batches of 10")
  assert {r[1] for r in body} == {"Glow"}
  cell = _cells(toy_run.results)["toyin -> uniform_random"][NLL_ROW]
  assert body[0][5] == (f"{cell['auroc']:.3f} [{cell['auroc_low']:.3f}, "
                        f"{cell['auroc_high']:.3f}]")


def _markdown_table(text):
  """`(header, body rows)` of the markdown table in `text`, cells stripped."""
  table = [[c.strip() for c in line.strip("|").split("|")]
           for line in text.splitlines() if line.startswith("|")]
  return table[0], table[2:]


# Resuming.

def test_rerun_resumes_without_training_and_returns_the_same_cells(
    toy_run, tmp_path):
  workdir = _copy_workdir(toy_run, tmp_path)
  log = []
  again = ood_benchmark.run_benchmark(toy_run.config, workdir, log=log.append)
  assert log == ["toyin: all cells done (resumed)"]
  assert again == json.loads(json.dumps(toy_run.results))


def test_a_new_pair_computes_only_that_pair(toy_run, tmp_path):
  workdir = _copy_workdir(toy_run, tmp_path)
  config = toy_run.config.replace(
      pairs=PAIRS + (("toyin", "constant:255"),))
  log = []
  results = ood_benchmark.run_benchmark(config, workdir, log=log.append)
  assert not [line for line in log if line.startswith("training")], log
  assert [line for line in log if "cell(s) written" in line] == [
      f"toyin: 1 cell(s) written to {workdir}/results.json"]
  old = json.loads(json.dumps(_cells(toy_run.results)))
  assert {k: _cells(results)[k] for k in COLUMNS} == old
  assert list(_cells(results)["toyin -> constant:255"]) == _rows(config)
  with open(os.path.join(workdir, "results.md"), encoding="utf-8") as f:
    assert "toyin → constant:255" in f.read()


@pytest.mark.parametrize("change", [dict(hidden_width=16),
                                    dict(train_steps=17),
                                    dict(num_examples=40)])
def test_changed_settings_do_not_resume_a_workdir(toy_run, tmp_path,
                                                  change):
  workdir = _copy_workdir(toy_run, tmp_path)
  (name, _), = change.items()
  name = f"model.{name}" if name in GLOW_FIELDS else name
  with pytest.raises(ValueError, match=rf"other settings \({name}="):
    ood_benchmark.run_benchmark(benchmark_config(toy_run.config, **change),
                                workdir, log=lambda line: None)
  with open(os.path.join(workdir, "results.json"), encoding="utf-8") as f:
    saved = json.load(f)["families"]["glow"]["config"]
  assert saved["model"]["hidden_width"] == 8


def test_a_new_batch_size_adds_only_its_rows(toy_run, tmp_path):
  """Batch sizes are free: a new one scores its rows with the same models."""
  workdir = _copy_workdir(toy_run, tmp_path)
  config = toy_run.config.replace(batch_sizes=(5, 10, 20), pairs=PAIRS[:1])
  log = []
  results = ood_benchmark.run_benchmark(config, workdir, log=log.append)
  assert not [line for line in log if line.startswith("training")], log
  cells = _cells(results)[COLUMNS[0]]
  new = ["typicality_batch_20", "dose_kde_batch_20", "dose_svm_batch_20",
         "latent_gof_batch_20"]
  assert list(cells) == _rows(config) and set(new) <= set(cells)
  assert set(cells) - set(ROWS) == set(new)
  old = json.loads(json.dumps(_cells(toy_run.results)[COLUMNS[0]]))
  assert {row: cells[row] for row in old} == old   # same models, same cells
  assert results["families"]["glow"]["config"]["batch_sizes"] == [5, 10, 20]
  assert cells["latent_gof_batch_20"]["score"]["batch_size"] == 20


def _write_results(workdir, results):
  with open(os.path.join(workdir, "results.json"), "w",
            encoding="utf-8") as f:
    json.dump(results, f)


def _resumed_from(toy_run, workdir, old_results):
  """The toy benchmark re-run on `old_results` (an older format): all resumed."""
  _write_results(workdir, old_results)
  log = []
  results = ood_benchmark.run_benchmark(toy_run.config, workdir,
                                        log=log.append)
  assert log == ["toyin: all cells done (resumed)"]
  return results


def _format_4(toy_run):
  """The toy run's results as format 4 wrote them: the family's name in `model`.

  Format 4's config had `"model": "glow"` and the models' config, with its
  `"family"`, in `"template"`.
  """
  results = json.loads(json.dumps(toy_run.results))
  config = results["families"]["glow"]["config"]
  config["template"] = config.pop("model")
  config["model"] = "glow"
  return dict(results, format_version=4)


def _format_3(toy_run):
  """The toy run's results as format 3 wrote them: the Glow's settings flattened."""
  results = _format_4(toy_run)
  config = results["families"]["glow"]["config"]
  template = config.pop("template")
  config.update({name: template[name] for name in GLOW_FIELDS})
  return dict(results, format_version=3)


@pytest.mark.parametrize("old_format", [_format_4, _format_3])
def test_an_older_results_file_resumes(toy_run, tmp_path, old_format):
  workdir = _copy_workdir(toy_run, tmp_path)
  results = _resumed_from(toy_run, workdir, old_format(toy_run))
  assert results == json.loads(json.dumps(toy_run.results))
  # Changed settings are still told apart from the old file's.
  _write_results(workdir, old_format(toy_run))
  with pytest.raises(ValueError, match=r"other settings \(model.num_levels="):
    ood_benchmark.run_benchmark(benchmark_config(toy_run.config, num_levels=1),
                                workdir, log=lambda line: None)


def test_a_results_file_of_a_newer_format_is_refused(toy_run, tmp_path):
  workdir = _copy_workdir(toy_run, tmp_path)
  newer = dict(json.loads(json.dumps(toy_run.results)), format_version=6)
  _write_results(workdir, newer)
  with pytest.raises(ValueError) as raised:
    ood_benchmark.run_benchmark(toy_run.config, workdir, log=lambda line: None)
  assert str(raised.value) == (
      f"{workdir}/results.json is of results format 6, newer than this "
      "glow_ood's 5; use the glow_ood that wrote it, or another workdir.")


def _format_2(toy_run):
  """The toy run's results as the benchmark wrote them before format 3."""
  family = _format_3(toy_run)["families"]["glow"]
  config = dict(family["config"], typicality_batch_size=5)
  del config["batch_sizes"], config["model_runs"]
  cells = {pair: {benchmark_rows.row_label(row, 2): cell
                  for row, cell in rows.items()}
           for pair, rows in family["cells"].items()}
  assert "likelihood ratio (background μ=0.2, λ=0)" in cells[COLUMNS[0]]
  return {"format_version": 2, "families": {"glow": {
      "config": config, "cells": cells,
      "elapsed_seconds": family["elapsed_seconds"]}}}


def test_a_format_2_results_file_is_read_by_row_identifiers(toy_run,
                                                             tmp_path):
  workdir = _copy_workdir(toy_run, tmp_path)
  results = _resumed_from(toy_run, workdir, _format_2(toy_run))
  assert results["format_version"] == 5
  family = results["families"]["glow"]
  assert family["cells"] == json.loads(json.dumps(_cells(toy_run.results)))
  assert family["config"] == toy_run.results["families"]["glow"]["config"]
  with open(os.path.join(workdir, "results.md"), encoding="utf-8") as f:
    text = f.read()
  # Cells scored before the preprocessing was recorded say so.
  assert "Not recorded (scored before the benchmark recorded it): " in text
  header, _ = _markdown_table(text)
  assert "toyin → toyout" in header


# Finished training runs as the models (--model_runs).

def test_model_runs_are_scored_without_training(toy_run, tmp_path):
  """One finished run as the model of toyin; the scores fitted on test images.

  The run held out 50 training images, fewer than the 60 asked for, so the
  scores are fitted on 60 test images disjoint from the 30 scored. Its
  background is the toy run's own (copied where the benchmark keeps the
  backgrounds of model runs), so nothing is trained.
  """
  run = os.path.join(toy_run.workdir, "toyin", "seed_0", "model")
  workdir = str(tmp_path / "benchmark")
  shutil.copytree(
      os.path.join(toy_run.workdir, "toyin", "seed_0", BACKGROUND),
      os.path.join(workdir, "toyin", "run_0", BACKGROUND))
  config = toy_run.config.replace(model_runs=(run,), pairs=PAIRS[:2],
                                  num_examples=30, validation_size=60)
  log = []
  results = ood_benchmark.run_benchmark(config, workdir, log=log.append)
  assert not [line for line in log if line.startswith("training")], log
  assert f"scoring the model run {run} (Glow of toyin)" in log
  family = results["families"]["glow"]
  cells = family["cells"][COLUMNS[0]]
  # Every row but WAIC, which needs several models.
  assert list(cells) == [row for row in ROWS if row != "waic"]
  record = family["model_runs"]["toyin"]
  assert record["runs"] == [run] and record["fit_split"] == "test"
  assert record["steps"] == [16] and record["fit_size"] == 60
  for cell in cells.values():
    assert len(cell["auroc_per_seed"]) == 1
  # The fit set: 60 of the 70 test images that the 30 scored leave out.
  test = _npz_images(toy_run, "toyin", "test")
  scored = np.sort(np.random.default_rng(0).choice(NUM_TEST, 30,
                                                   replace=False))
  rest = np.setdiff1d(np.arange(NUM_TEST), scored)
  fit = np.sort(np.random.default_rng(1).choice(rest, 60, replace=False))
  model = runs_lib.load_run(run).model
  entropy = np.mean(-likelihood_terms.LikelihoodTermsEvaluator(model, 60)(
      test[fit]).discrete_log_prob)
  fitted = cells["typicality"]["score"]["fitted_per_seed"][0]
  assert fitted["entropy"] == pytest.approx(entropy, rel=1e-9)
  with open(os.path.join(workdir, "results.md"), encoding="utf-8") as f:
    text = f.read()
  assert (f"- Glow on toyin: the model run(s) {run}, Glow (2 levels x 1 "
          "steps, width 8, sigmoid coupling), 16 steps of batch 16; scores "
          "fitted on 60 test images disjoint from the scored ones") in text
  assert "- Glow: 2 seeds" not in text   # no model trained by the benchmark


@pytest.mark.parametrize("change, message", [
    (dict(model=configs.families.get("vae").benchmark),
     "is a glow run; this benchmark is --model=vae"),
    (dict(pairs=(("toyout", "toyin"),)),
     "is a model of toyin, which no --pairs entry has"),
])
def test_bad_model_runs_fail_before_any_work(toy_run, tmp_path, change,
                                             message):
  run = os.path.join(toy_run.workdir, "toyin", "seed_0", "model")
  workdir = tmp_path / "benchmark"
  config = toy_run.config.replace(model_runs=(run,), **change)
  with pytest.raises(ValueError, match=message):
    ood_benchmark.run_benchmark(config, str(workdir), log=lambda line: None)
  assert not (workdir / "results.json").exists()


def test_an_unfinished_model_run_is_refused(toy_run, tmp_path):
  run = str(tmp_path / "unfinished")
  shutil.copytree(os.path.join(toy_run.workdir, "toyin", "seed_0", "model"),
                  run)
  os.remove(os.path.join(run, "results.json"))
  with pytest.raises(ValueError, match="has not finished its 16 training"):
    ood_benchmark.run_benchmark(toy_run.config.replace(model_runs=(run,)),
                                str(tmp_path / "benchmark"),
                                log=lambda line: None)


@pytest.mark.slow
def test_a_background_sweep_trains_only_the_new_backgrounds(toy_run, tmp_path):
  """A second mutation rate adds its row; the models and old cells are kept."""
  workdir = _copy_workdir(toy_run, tmp_path)
  config = toy_run.config.replace(mutation_rate=(0.2, 0.4),
                                  pairs=PAIRS[:1])
  log = []
  results = ood_benchmark.run_benchmark(config, workdir, log=log.append)
  trained = [line for line in log if line.startswith("training")]
  assert len(trained) == 2 and all("(mu=0.4, lambda=0)" in line
                                   for line in trained), log
  for seed in range(2):
    folder = os.path.join(workdir, "toyin", f"seed_{seed}",
                          "background_mu0.4_l20")
    saved = run_folder.read_config(folder)
    assert saved.data.mutation_rate == 0.4 and saved.l2_weight == 0.
  cells = _cells(results)[COLUMNS[0]]
  new_row = "likelihood_ratio_mu0.4_lambda0"
  assert list(cells) == _rows(config) and new_row in cells
  old = json.loads(json.dumps(_cells(toy_run.results)[COLUMNS[0]]))
  assert {row: cells[row] for row in old} == old   # same models, same cells
  assert cells[new_row]["score"]["mutation_rate"] == 0.4


def test_model_scores_add_their_rows_with_the_same_models(toy_run, tmp_path):
  """The scores that run the model: their rows beside the others, no retraining.

  The gradient test's and gradient norms' rows are scored on the trained
  models; the one-example and batched rows of a score share their passes,
  and the in-distribution test set is as likely to be flagged as not.
  """
  workdir = _copy_workdir(toy_run, tmp_path)
  scores = ("gradient_score_test", "gradient_norms")
  config = toy_run.config.replace(model_scores=scores, pairs=PAIRS[:1])
  log = []
  results = ood_benchmark.run_benchmark(config, workdir, log=log.append)
  assert not [line for line in log if line.startswith("training")], log
  cells = _cells(results)[COLUMNS[0]]
  new = [f"{name}{suffix}" for name in scores
         for suffix in ("", "_batch_5", "_batch_10")]
  assert list(cells) == _rows(config) and list(cells)[-len(new):] == new
  old = json.loads(json.dumps(_cells(toy_run.results)[COLUMNS[0]]))
  assert {row: cells[row] for row in old} == old
  for row in new:
    cell = cells[row]
    assert 0. <= cell["auroc_low"] <= cell["auroc"] <= cell["auroc_high"] <= 1.
    assert len(cell["score"]["fitted_per_seed"]) == 2
  # Checkerboards are far from the blocky training images: the gradients see it.
  assert cells["gradient_score_test"]["auroc"] > 0.9, cells[
      "gradient_score_test"]
  assert cells["gradient_norms_batch_10"]["score"]["batch_size"] == 10
  assert results["families"]["glow"]["config"]["model_scores"] == list(scores)
  with open(os.path.join(workdir, "results.md"), encoding="utf-8") as f:
    text = f.read()
  assert "| score test + typicality, batches of 5 |" in text
  assert "| gradient norms, KDE (one example) |" in text


def test_likelihood_regret_needs_a_vae(toy_run):
  config = toy_run.config.replace(model_scores=("likelihood_regret",))
  with pytest.raises(models.MissingCapabilityError) as raised:
    ood_benchmark.score_rows(config)
  assert str(raised.value) == (
      "--model_scores=likelihood_regret needs the model capability 'elbo', "
      "which a glow model does not have (its capabilities: "
      "coupling_precision, decomposition, temperature). Use a VAE run for "
      "it, or drop likelihood_regret from --model_scores.")


def test_rows_follow_the_capabilities_the_scores_require(toy_run):
  # A family without the decomposition gets neither the per-level rows nor
  # the latents' goodness-of-fit; one with it gets both.
  without = [row for row, *_ in ood_benchmark.score_rows(
      toy_run.config, capabilities=("statistics",))]
  assert not [r for r in without if r.startswith(("level_", "latent_gof"))]
  with_it = [row for row, *_ in ood_benchmark.score_rows(
      toy_run.config, capabilities=("decomposition",), num_levels=2)]
  assert {"level_1", "level_2", "latent_gof"} <= set(with_it)
  assert scores_lib.LikelihoodRegret.missing_capabilities(
      ("decomposition",)) == ("elbo",)
  assert scores_lib.score_class("likelihood_regret").offered_by(("elbo",))


def test_model_scores_are_the_scores_that_run_the_model():
  assert configs.ood_benchmark.MODEL_SCORES == scores_lib.SCORES_WITH_MODEL


@pytest.mark.slow
def test_another_family_adds_its_cells_beside_glow(toy_run, tmp_path):
  """A PixelCNN++ run in the Glow run's folder: its own models, rows, L2."""
  workdir = _copy_workdir(toy_run, tmp_path)
  config = toy_run.config.replace(
      model=configs.families.get("pixelcnn").benchmark.replace(num_filters=4),
      pairs=PAIRS[:1], train_steps=4, background_l2=(10.,))
  log = []
  results = ood_benchmark.run_benchmark(config, workdir, log=log.append)
  assert sum(line.startswith("training PixelCNN++") for line in log) == 4, log
  seed_dir = os.path.join(workdir, "toyin", "seed_1", "pixelcnn")
  background = run_folder.read_config(
      os.path.join(seed_dir, "background_mu0.2_l210"))
  assert background.family == "pixelcnn" and background.l2_weight == 10.
  assert background.data.mutation_rate == 0.2
  assert background.model.num_filters == 4 and background.model.seed == 1001
  assert list(results["families"]) == ["glow", "pixelcnn"]
  assert _cells(results) == json.loads(json.dumps(_cells(toy_run.results)))
  rows = _rows(config)
  assert "likelihood_ratio_mu0.2_lambda10" in rows
  # No decomposition: no per-level rows, no latents to test; DoSE uses the
  # PixelCNN++'s own statistics.
  assert not [row for row in rows if row.startswith(("level_", "latent_gof"))]
  assert "dose_svm_batch_10" in rows
  dose = _cells(results, "pixelcnn")[COLUMNS[0]]["dose_kde"]["score"]
  assert {"pixel_nll_std", "pixel_nll_q50", "log_prob",
          "compressed_bits"} <= set(dose["used"] + dose["dropped"]), dose
  assert list(_cells(results, "pixelcnn")[COLUMNS[0]]) == rows
  saved = results["families"]["pixelcnn"]["config"]
  assert saved["model"]["family"] == "pixelcnn"
  assert saved["model"]["num_filters"] == 4
  with open(os.path.join(workdir, "results.md"), encoding="utf-8") as f:
    text = f.read()
  assert "- PixelCNN++: 2 seeds of PixelCNN++ (1 hierarchy x 1 ResNet layer" in text
  header, body = _markdown_table(text)
  assert header[:3] == ["score (AUROC, higher = better)", "model",
                        "toyin → toyout †"]
  by_row = {}
  for row in body:
    by_row.setdefault(row[0], []).append(row[1])
  nll_label = benchmark_rows.row_label(NLL_ROW)
  assert by_row[nll_label] == ["Glow", "PixelCNN++"]
  assert by_row["DoSE, KDE (one example)"] == ["Glow", "PixelCNN++"]
  assert by_row["latent goodness-of-fit, Anderson-Darling (one example)"] == [
      "Glow"]
  assert by_row["level 1 likelihood (bits/dim)"] == ["Glow"]
  # The PixelCNN++ has no cells of the other pairs.
  nll = [row for row in body if row[:2] == [nll_label, "PixelCNN++"]][0]
  assert nll[2] != "-" and nll[3:] == ["-"] * 3


@pytest.mark.slow
def test_a_format_1_results_file_resumes(toy_run, tmp_path):
  """Results and background folders of the Glow-only benchmark are reused."""
  workdir = _copy_workdir(toy_run, tmp_path)
  family = json.loads(json.dumps(toy_run.results["families"]["glow"]))
  # The Glow's settings flattened into the config, as in format 3.
  old_config = dict(_format_3(toy_run)["families"]["glow"]["config"],
                    mutation_rate=0.2, typicality_batch_size=5)
  for name in ("model", "background_l2", "batch_sizes", "model_runs"):
    del old_config[name]
  # Rows keyed by their labels; the one likelihood ratio without settings.
  old_cells = {pair: {("likelihood ratio (background)" if row == RATIO_ROW
                       else benchmark_rows.row_label(row, 2)): cell
                      for row, cell in rows.items()}
               for pair, rows in family["cells"].items()}
  _write_results(workdir, {"config": old_config, "cells": old_cells,
                           "elapsed_seconds": 1.})
  for seed in range(2):
    seed_dir = os.path.join(workdir, "toyin", f"seed_{seed}")
    os.rename(os.path.join(seed_dir, BACKGROUND),
              os.path.join(seed_dir, "background"))
  log = []
  results = ood_benchmark.run_benchmark(toy_run.config, workdir,
                                        log=log.append)
  assert log == ["toyin: all cells done (resumed)"]
  assert _cells(results) == family["cells"]
  # A new pair scores the old "background" folders: no training.
  log = []
  config = toy_run.config.replace(pairs=PAIRS + (("toyin", "constant:255"),))
  ood_benchmark.run_benchmark(config, workdir, log=log.append)
  assert not [line for line in log if line.startswith("training")], log


def test_a_damaged_results_file_is_refused_and_kept(toy_run, tmp_path):
  workdir = _copy_workdir(toy_run, tmp_path)
  path = os.path.join(workdir, "results.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump({"format_version": 2, "cells": {}}, f)
  with pytest.raises(ValueError, match="no benchmark results file"):
    ood_benchmark.run_benchmark(toy_run.config, workdir, log=lambda line: None)
  with open(path, encoding="utf-8") as f:
    assert json.load(f) == {"format_version": 2, "cells": {}}


# Validation.

@pytest.mark.parametrize("change, message", [
    (dict(pairs=()), "pairs is empty"),
    (dict(pairs=(("constant:0", "toyout"),)), "'constant:0' must be a real"),
    (dict(pairs=(("toyin", "constant:300"),)), "constant:300"),
    (dict(num_seeds=1), "num_seeds must be >= 2"),
    (dict(num_seeds=0), "num_seeds must be >= 2; got 0"),
    (dict(mutation_rate=(0.,)), r"mutation_rate must be in \(0, 1\)"),
    (dict(mutation_rate=(0.2, 1.)), r"mutation_rate must be in \(0, 1\)"),
    (dict(mutation_rate=(0.2, 0.2)), "mutation_rate needs distinct values"),
    (dict(background_l2=()), "background_l2 needs distinct values"),
    (dict(background_l2=(-1.,)), "background_l2 must be >= 0"),
    (dict(coupling_scale="affine"), "coupling_scale='affine' is not one of"),
    (dict(hidden_width=0), "hidden_width must be >= 1"),
    # One example is always scored: batches hold 2 or more.
    (dict(batch_sizes=(1,)), r"batch_sizes must be >= 2; got 1\."),
    (dict(batch_sizes=(5, 0)), "batch_sizes must be >= 2; got 0"),
    (dict(batch_sizes=(5, 5)), "batch_sizes needs distinct sizes .*got 5,5"),
    (dict(batch_sizes=()), "batch_sizes needs distinct sizes .*got none"),
    (dict(batch_sizes=(5, 10), num_examples=8),
     "batch_sizes=5,10 has a batch larger than num_examples=8"),
    (dict(batch_sizes=(64,), validation_size=50),
     "batch_sizes=64 has a batch larger than validation_size=50"),
    (dict(validation_size=9), "validation_size must be >= 10"),
    (dict(model_runs=("runs/a", "runs/a")), "model_runs names a run twice"),
])
def test_bad_config_raises(change, message):
  with pytest.raises(ValueError, match=message):
    benchmark_config(**change)


@pytest.mark.parametrize("model, message", [
    ("vae", "BenchmarkConfig.model is the models' config (e.g. "
            "families.get('vae').benchmark), not a family name; got 'vae'."),
    (configs.DataConfig(), "BenchmarkConfig.model must be one of GlowConfig, "
                           "PixelCNNConfig, VAEConfig"),
])
def test_the_model_is_a_model_config(model, message):
  with pytest.raises(TypeError) as raised:
    configs.BenchmarkConfig(model=model)
  assert str(raised.value).startswith(message)


def test_the_model_is_the_families_benchmark_model_by_default():
  config = configs.BenchmarkConfig()
  assert config.model == configs.families.get("glow").benchmark
  assert config.family == "glow"
  assert config.model_config((8, 8, 1), 3) == config.model.replace(
      image_shape=(8, 8, 1), seed=3)


def test_batch_sizes_must_be_ints():
  with pytest.raises(TypeError, match="batch_sizes must be an int; got 2.5"):
    configs.BenchmarkConfig(batch_sizes=(5, 2.5))


def test_config_pairs_become_string_tuples():
  config = configs.BenchmarkConfig(pairs=[["a", "b"], ("a", "c")])
  assert config.pairs == (("a", "b"), ("a", "c"))
  assert config.in_distributions == ("a",)


# Flags.

def test_pair_parses_in_arrow_out():
  assert glow_flags.parse_pair("a->b") == ("a", "b")
  assert glow_flags.parse_pair(" cifar10_jpeg -> grayed:cifar10_jpeg:0.5 ") == (
      "cifar10_jpeg", "grayed:cifar10_jpeg:0.5")


@pytest.mark.parametrize("text", ["a-b", "a->b->c", "->b", "a->", " -> "])
def test_bad_pair_text_raises(text):
  with pytest.raises(ValueError, match=r"in->out .*" + repr(text)):
    glow_flags.parse_pair(text)


def _parsed(*argv):
  values = flags.FlagValues()
  glow_flags.define_ood_benchmark_flags(values)
  values(["prog", *argv])
  return values


def test_default_flags_give_the_default_config():
  config = glow_flags.to_benchmark_config(_parsed())
  defaults = configs.BenchmarkConfig()
  for field in dataclasses.fields(defaults):
    assert getattr(config, field.name) == getattr(defaults, field.name), (
        field.name)


def test_flagfile_is_the_default_benchmark():
  values = _parsed(
      f"--flagfile={os.path.join(REPO, 'launch/flagfiles/ood_benchmark.cfg')}")
  assert values.workdir == "runs/ood_benchmark"
  config = glow_flags.to_benchmark_config(values)
  assert config == configs.BenchmarkConfig()


def test_cifar10_flagfile_scores_the_issue_pairs_with_the_cpu_glow_run():
  flagfile = os.path.join(REPO, "launch/flagfiles/ood_benchmark_cifar10.cfg")
  values = _parsed(f"--flagfile={flagfile}")
  config = glow_flags.to_benchmark_config(values)
  assert values.workdir == "runs/ood_benchmark_cifar10"
  assert config.family == "glow" and config.model_runs == (
      "runs/cifar10_glow_cpu",)
  assert config.pairs == tuple(("cifar10_jpeg", out) for out in (
      "svhn_cropped", "jpeg:svhn_cropped:75", "celeba32", "tiny_imagenet32",
      "mnist", "grayed:cifar10_jpeg:0.5", "constant:128", "uniform_random",
      "flipped:cifar10_jpeg"))
  assert config.batch_sizes == (5, 10)
  # Every issue-21 pair is in the fast default benchmark too.
  assert set(config.pairs) | {
      ("fashion_mnist", "mnist"), ("notmnist", "mnist"), ("mnist", "notmnist"),
      ("fashion_mnist", "flipped:fashion_mnist")} <= set(
          configs.BenchmarkConfig().pairs)


def test_fashion_mnist_flagfile_runs_the_gradient_scores_on_the_main_job():
  flagfile = os.path.join(REPO,
                          "launch/flagfiles/ood_benchmark_fashion_mnist.cfg")
  values = _parsed(f"--flagfile={flagfile}")
  config = glow_flags.to_benchmark_config(values)
  assert values.workdir == "runs/ood_benchmark_fashion_mnist"
  assert config.model_runs == ("runs/fashion_mnist_glow_cpu",)
  assert config.model_scores == ("gradient_score_test", "gradient_norms")
  assert config.pairs == tuple(("fashion_mnist", out) for out in (
      "mnist", "notmnist", "flipped:fashion_mnist"))
  # The background trains as long as the main job.
  train_values = flags.FlagValues()
  glow_flags.define_train_flags(train_values)
  train_values(["train.py", *bootstrap.expand_flagfiles([
      "--flagfile=" + os.path.join(
          REPO, "launch/flagfiles/fashion_mnist_glow_cpu.cfg")])])
  assert config.train_steps == glow_flags.to_train_config(
      train_values).train_steps


@pytest.mark.parametrize("in_shape, out_shape, notes", [
    ((28, 28, 1), (28, 28, 1), []),            # fashion_mnist -> mnist
    ((32, 32, 3), (32, 32, 3), []),            # cifar10 -> svhn, flipped
    ((32, 32, 3), None, []),                   # generated at 32x32x3
    ((32, 32, 3), (28, 28, 1),                 # cifar10 -> mnist
     ["28x28 images zero-padded to 32x32; the in-distribution images are "
      "32x32 as stored",
      "grayscale tiled to RGB (R = G = B); the in-distribution images are "
      "colour"]),
    ((28, 28, 1), None,                        # fashion_mnist -> constant
     ["generated at 32x32, without the zero border that padding gives the "
      "in-distribution images (28x28 stored)"]),
    ((28, 28, 1), (30, 30, 1),
     ["30x30 images zero-padded to 32x32; the in-distribution images are "
      "28x28, zero-padded to 32x32 too"]),
])
def test_preprocessing_notes_say_what_only_the_ood_set_got(in_shape,
                                                           out_shape, notes):
  model_shape = (32, 32, in_shape[-1])
  assert ood_benchmark._preprocessing_notes(in_shape, out_shape,
                                            model_shape) == notes


def test_flags_set_every_field():
  config = glow_flags.to_benchmark_config(_parsed(
      "--pairs=toyin->toyout,toyin->constant:0", "--num_seeds=2",
      "--image_size=8", "--num_levels=2", "--num_steps_per_level=1",
      "--hidden_width=8", "--coupling_scale=additive", "--train_steps=16",
      "--batch_size=16", "--learning_rate=0.003", "--warmup_steps=0",
      "--mutation_rate=0.1", "--validation_size=50", "--num_examples=50",
      "--batch_sizes=5,10", "--num_bootstrap=50",
      "--eval_batch_size=50", "--data_dir=toy_data_dir"))
  assert config == toy_config("toy_data_dir", coupling_scale="additive",
                              mutation_rate=(0.1,),
                              pairs=(PAIRS[0], PAIRS[2]))


def test_bad_flags_raise():
  with pytest.raises(ValueError, match="in->out"):
    glow_flags.to_benchmark_config(_parsed("--pairs=a->b,a-c"))
  with pytest.raises(ValueError, match=r"mutation_rate must be in \(0, 1\)"):
    glow_flags.to_benchmark_config(_parsed("--mutation_rate=0"))
  with pytest.raises(flags.IllegalFlagValueError, match="num_seeds"):
    _parsed("--num_seeds=1")
  with pytest.raises(flags.IllegalFlagValueError, match="coupling_scale"):
    _parsed("--coupling_scale=affine")
  with pytest.raises(ValueError, match="--batch_sizes must be a comma-"
                     "separated list of integers; got 5,x"):
    glow_flags.to_benchmark_config(_parsed("--batch_sizes=5,x"))
  with pytest.raises(ValueError, match="batch_sizes must be >= 2; got 1"):
    glow_flags.to_benchmark_config(_parsed("--batch_sizes=1,5"))
  config = glow_flags.to_benchmark_config(_parsed(
      "--model_runs=runs/a,runs/b", "--batch_sizes=10"))
  assert config.model_runs == ("runs/a", "runs/b")
  assert config.batch_sizes == (10,)
