"""Tests of `glow_ood.experiments.evaluate`: scoring trained runs and writing the report.

Two tiny runs (tests/toy_data.py's tiny Glow; model seeds 3 and 4, same toy
data) are trained for a few steps with `glow_ood.train.train`, then reopened
from their config.json with `glow_ood.runs.load_run`.
Known answers: the models' own `bits_per_dim`, the trainer's results.json,
the ensemble's `log((p_1 + p_2) / 2)`, an ensemble of two copies of one run
(= the run), and graying by 1 (= the images) and by 0 (= constant 128).
"""

import contextlib
import dataclasses
import io
import json
import os
import shutil

import numpy as np
import pytest

from glow_ood import configs
from glow_ood import runs as runs_lib
from glow_ood import data
from glow_ood.experiments import evaluate
from glow_ood import metrics
from glow_ood import likelihood_terms
from glow_ood import train as train_lib
from tests.toy_data import tiny_glow_config
from tests.toy_data import tiny_train_config
from tests.toy_data import toy_images
from tests.toy_data import write_dataset

IMAGE_SHAPE = (8, 8, 1)
NUM_DIMS = 8 * 8 * 1
NUM_EXAMPLES = 40
SPECIAL = ("constant:0", "constant:128", "uniform_random")
SETS = ("toy/train", "toy/test", "constant:0/test", "constant:128/test",
        "uniform_random/test")
TERMS = ("discrete_log_prob", "bits_per_dim", "log_prob_z", "log_det",
         "log_prob_z_per_level", "log_det_per_level")
FIGURES = ("log_prob_histograms", "decomposition_histograms",
           "ensemble_log_prob_histograms", "bits_per_dim_curves", "graying",
           "samples_t1")


def png_and_pdf(paths):
  png, pdf = paths
  assert png.endswith(".png") and pdf.endswith(".pdf")
  with open(png, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n", png
  with open(pdf, "rb") as f:
    assert f.read(5) == b"%PDF-", pdf
  assert os.path.getsize(png) > 1000 and os.path.getsize(pdf) > 1000


class Experiment:
  """Two trained runs and their folders."""

  def __init__(self, root):
    self.root = root
    self.data_dir = os.path.join(root, "data")
    write_dataset(self.data_dir, num_test=32)
    self.workdirs = [os.path.join(root, "runs", f"seed{s}") for s in (3, 4)]
    self.trained = []    # results.json of each training run
    for seed, workdir in zip((3, 4), self.workdirs):
      config = tiny_train_config(
          self.data_dir, model=tiny_glow_config(seed=seed), train_steps=6,
          learning_rate=0.01, log_every=6)
      train_lib.train(config, workdir)
      with open(os.path.join(workdir, "results.json")) as f:
        self.trained.append(json.load(f))
    self.runs = [runs_lib.load_run(w) for w in self.workdirs]

  def images(self, set_name, data_dir=None, limit=NUM_EXAMPLES):
    """The images of `set_name`, loaded independently of `evaluate`."""
    config = self.runs[0].config.data.replace(data_dir=data_dir or
                                              self.data_dir)
    dataset, split = set_name.rsplit("/", 1)
    return data.subsample(data.load_images_as(
        config.replace(dataset=dataset), split, IMAGE_SHAPE), limit)


class Evaluation:
  """`evaluate`'s return value, output folder, files and progress output."""

  def __init__(self, runs, config, output_dir):
    progress, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr):
      self.results = evaluate.evaluate(runs, config, output_dir,
                                       stream=progress)
    self.progress = progress.getvalue()
    self.stderr = stderr.getvalue()
    self.output_dir = output_dir
    with open(os.path.join(output_dir, "results.json")) as f:
      self.json = json.load(f)
    with open(os.path.join(output_dir, "results.md")) as f:
      self.markdown = f.read()
    with np.load(os.path.join(output_dir, "scores.npz")) as arrays:
      self.arrays = dict(arrays)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
  return Experiment(str(tmp_path_factory.mktemp("evaluate_test")))


@pytest.fixture(scope="module")
def ensemble(experiment):
  """Both runs, with the special sets, graying and sample grids."""
  config = configs.EvaluationConfig(
      datasets=SPECIAL, num_examples=NUM_EXAMPLES, batch_size=16,
      graying_factors=(1., 0.5, 0.), num_bootstrap=50, num_samples=4,
      sample_temperatures=(1.,))
  return Evaluation(experiment.runs, config,
                    os.path.join(experiment.root, "ensemble_evaluation"))


# 1. Loading runs.

def test_load_run(experiment):
  first = experiment.runs[0]
  assert [r.name for r in experiment.runs] == ["seed3", "seed4"]
  assert first.step == 6 and first.workdir == experiment.workdirs[0]
  assert [r.config.model.seed for r in experiment.runs] == [3, 4]
  assert first.config.data.dataset == "toy"
  assert first.config.model.image_shape == IMAGE_SHAPE
  named = runs_lib.load_run(experiment.workdirs[0], step=6, name="first")
  assert named.name == "first" and named.step == 6
  # The loaded model is the trained one: the trainer's final numbers.
  test = experiment.images("toy/test")
  assert float(np.mean(named.model.bits_per_dim(test))) == pytest.approx(
      experiment.trained[0]["bits_per_dim"]["toy/test"], rel=1e-6)


def test_load_run_of_a_folder_without_config(tmp_path):
  with pytest.raises(FileNotFoundError,
                     match=rf"{tmp_path} has no config.json, so it is not a "
                           "run folder"):
    runs_lib.load_run(str(tmp_path))


# 2. The numbers.

def test_results_json_is_what_evaluate_returns(ensemble):
  assert ensemble.json == json.loads(json.dumps(ensemble.results))
  assert sorted(ensemble.json) == sorted(
      ["in_distribution", "runs", "num_examples", "models", "detection",
       "ensemble", "graying", "figures"])
  assert ensemble.json["in_distribution"] == "toy"
  assert [(r["name"], r["step"]) for r in ensemble.json["runs"]] == [
      ("seed3", 6), ("seed4", 6)]
  assert ensemble.json["runs"][1]["model"]["seed"] == 4
  assert {r["weights"] for r in ensemble.json["runs"]} <= {"ema", "raw"}
  # The first NUM_EXAMPLES of each set; the toy test split has only 32.
  assert ensemble.json["num_examples"] == {
      "toy/train": 40, "toy/test": 32, "constant:0/test": 40,
      "constant:128/test": 40, "uniform_random/test": 40}


def test_bits_per_dim_are_the_models(experiment, ensemble):
  for run, trained in zip(experiment.runs, experiment.trained):
    models = ensemble.json["models"][run.name]
    assert sorted(models) == sorted(SETS)
    for name in SETS:
      expected = run.model.bits_per_dim(experiment.images(name)).numpy()
      assert models[name]["bits_per_dim"] == pytest.approx(
          np.mean(expected), rel=1e-6), (run.name, name)
    # The whole test split, as the trainer scored it at the end.
    assert models["toy/test"]["bits_per_dim"] == pytest.approx(
        trained["bits_per_dim"]["toy/test"], rel=1e-6)
  # The two seeds are different models.
  first, second = (ensemble.json["models"][r.name]["toy/test"]["bits_per_dim"]
                   for r in experiment.runs)
  assert first != pytest.approx(second, rel=1e-5)


def test_scores_npz_holds_every_term_per_example(experiment, ensemble):
  expected = {f"{run}/{name}/{term}" for run in ("seed3", "seed4")
              for name in SETS for term in TERMS}
  expected |= {f"ensemble/{name}/discrete_log_prob" for name in SETS}
  assert set(ensemble.arrays) == expected
  counts = ensemble.json["num_examples"]
  for key, values in ensemble.arrays.items():
    name = "/".join(key.split("/")[1:3])
    per_level = key.endswith("_per_level")
    assert values.shape == ((counts[name], 2) if per_level else
                            (counts[name],)), key
  # The arrays are LikelihoodTermsEvaluator's (and their means the results.json numbers).
  run = experiment.runs[1]
  scores = likelihood_terms.LikelihoodTermsEvaluator(run.model, 7)(experiment.images("toy/test"))
  for term in TERMS:
    np.testing.assert_allclose(ensemble.arrays[f"seed4/toy/test/{term}"],
                               getattr(scores, term), rtol=1e-6, atol=1e-4,
                               err_msg=term)
  summary = ensemble.json["models"]["seed4"]["toy/test"]
  for term, value in scores.summary().items():
    if isinstance(value, dict):
      assert summary[term] == pytest.approx(value, rel=1e-6, abs=1e-4), term
    else:
      np.testing.assert_allclose(summary[term], value, rtol=1e-6, atol=1e-4,
                                 err_msg=term)


def test_ensemble_is_the_log_of_the_mean_density(experiment, ensemble):
  results = ensemble.json["ensemble"]
  assert results["members"] == ["seed3", "seed4"]
  for name in SETS:
    members = np.stack([ensemble.arrays[f"{r}/{name}/discrete_log_prob"]
                        for r in ("seed3", "seed4")])
    # log((p_1 + p_2) / 2), computed stably by hand.
    top = members.max(0)
    expected = top + np.log(np.exp(members - top).mean(0))
    np.testing.assert_allclose(
        ensemble.arrays[f"ensemble/{name}/discrete_log_prob"], expected,
        rtol=1e-12)
    np.testing.assert_allclose(
        ensemble.arrays[f"ensemble/{name}/discrete_log_prob"],
        metrics.ensemble_log_prob(members), rtol=1e-12)
    # Between the best member halved and the best member.
    assert np.all(expected <= top) and np.all(expected >= top - np.log(2.))
    assert results["discrete_log_prob"][name] == pytest.approx(
        np.mean(expected), rel=1e-12)
    assert results["bits_per_dim"][name] == pytest.approx(
        np.mean(-expected / (NUM_DIMS * np.log(2.))), rel=1e-12)
  assert sorted(results["detection"]) == sorted(SETS[2:])


def test_detection_of_generated_sets(experiment, ensemble):
  detections = dict(ensemble.json["detection"],
                    ensemble=ensemble.json["ensemble"]["detection"])
  for who, detection in detections.items():
    # Every other set against the test split; not the toy splits.
    assert sorted(detection) == sorted(SETS[2:]), who
    for name, d in detection.items():
      assert d["auroc_low"] <= d["auroc"] <= d["auroc_high"], (who, name)
      for key in ("aupr_in", "aupr_out", "fpr_at_95_tpr"):
        assert 0. <= d[key] <= 1., (who, name, key)
    # Uniform noise is far from the blocky toy images: bits/dim tell them
    # apart perfectly, even after 6 steps.
    assert detection["uniform_random/test"]["auroc"] > 0.99, who
    assert detection["uniform_random/test"]["fpr_at_95_tpr"] < 0.05, who
  # The AUROC is the one of the per-example bits/dim arrays.
  for run in ("seed3", "seed4"):
    in_scores = ensemble.arrays[f"{run}/toy/test/bits_per_dim"]
    for name in SETS[2:]:
      out_scores = ensemble.arrays[f"{run}/{name}/bits_per_dim"]
      d = ensemble.json["detection"][run][name]
      assert d["auroc"] == pytest.approx(metrics.auroc(in_scores, out_scores))
      assert d["aupr_out"] == pytest.approx(
          metrics.aupr(in_scores, out_scores, positive="out"))
      assert d["fpr_at_95_tpr"] == pytest.approx(
          metrics.fpr_at_tpr(in_scores, out_scores, 0.95))


def test_graying_by_one_is_the_test_split_and_by_zero_constant_gray(ensemble):
  graying = ensemble.json["graying"]
  assert graying["dataset"] == "toy/test" and graying["num_images"] == 32
  assert graying["factors"] == [1., 0.5, 0.]
  bits = graying["mean"]["bits_per_dim"]
  models = ensemble.json["models"]["seed3"]
  assert bits[0] == pytest.approx(models["toy/test"]["bits_per_dim"],
                                  rel=1e-9)
  # Factor 0 makes every image constant 128, like the constant:128 set.
  assert bits[2] == pytest.approx(models["constant:128/test"]["bits_per_dim"],
                                  rel=1e-9)
  assert graying["std"]["bits_per_dim"][2] == pytest.approx(0., abs=1e-9)
  assert bits[1] != pytest.approx(bits[0], rel=1e-4)


# 3. The files.

def test_figures_are_png_and_pdf(ensemble):
  figures = ensemble.json["figures"]
  assert sorted(figures) == sorted(FIGURES)
  for name, paths in figures.items():
    assert paths == [f"figures/{name}.png", f"figures/{name}.pdf"]
    png_and_pdf([os.path.join(ensemble.output_dir, p) for p in paths])


def test_results_markdown_has_the_tables(ensemble):
  text = ensemble.markdown
  lines = text.splitlines()
  models = ensemble.json["models"]
  bits = ensemble.json["ensemble"]["bits_per_dim"]
  assert ("| dataset/split | role | images | seed3 bits/dim | seed4 bits/dim "
          "| ensemble bits/dim |") in lines
  for name in SETS:
    cells = [f"{models[r][name]['bits_per_dim']:.4f}" for r in models]
    assert any(line.startswith(f"| {name} |") and
               line.endswith(" | ".join(cells + [f"{bits[name]:.4f}"]) + " |")
               for line in lines), name
  uniform = ensemble.json["detection"]["seed3"]["uniform_random/test"]
  assert f"| uniform_random/test | {uniform['auroc']:.3f} [" in text
  assert "## Graying toy/test (paper Fig. 6c)" in text
  assert "Ensemble of 2" in text
  assert "- graying: figures/graying.png, figures/graying.pdf" in lines


def test_progress_goes_to_the_given_stream(ensemble):
  lines = ensemble.progress.splitlines()
  counts = ensemble.json["num_examples"]
  for run in ("seed3", "seed4"):
    for name in SETS:
      mine = [l for l in lines if l.startswith(f"{run}: {name} [")]
      # One bar per set and run, over its batches of 16 (40 -> 3, 32 -> 2),
      # ending complete.
      batches = -(-counts[name] // 16)
      assert mine and f"] {batches}/{batches} " in mine[-1], (run, name, mine)
  # Nothing of the evaluation (graying included) goes to stderr instead.
  assert "[#" not in ensemble.stderr, ensemble.stderr


def test_ensemble_of_two_copies_is_the_run(experiment):
  """Copies of one run in two folders: log((p + p) / 2) = log p.

  Also checks `EvaluationConfig.data_dir`: the runs' --data_dir is replaced
  by a folder of other toy images.
  """
  copy = os.path.join(experiment.root, "runs", "copy")
  shutil.copytree(experiment.workdirs[0], copy)
  runs = [experiment.runs[0], runs_lib.load_run(copy)]
  other_data = os.path.join(experiment.root, "other_data")
  write_dataset(other_data, num_test=16, seed=7)
  config = configs.EvaluationConfig(
      datasets=("uniform_random",), num_examples=16, batch_size=16,
      graying_factors=(), num_bootstrap=20, num_samples=0, data_dir=other_data)
  result = Evaluation(runs, config, os.path.join(experiment.root, "copies"))
  results = result.json
  assert [r["name"] for r in results["runs"]] == ["seed3", "copy"]
  assert "graying" not in results
  assert sorted(results["figures"]) == sorted(
      ["log_prob_histograms", "decomposition_histograms",
       "ensemble_log_prob_histograms", "bits_per_dim_curves"])
  member = results["models"]["seed3"]
  assert results["models"]["copy"] == member
  for name in ("toy/train", "toy/test", "uniform_random/test"):
    assert results["ensemble"]["bits_per_dim"][name] == pytest.approx(
        member[name]["bits_per_dim"], rel=1e-12)
    np.testing.assert_allclose(
        result.arrays[f"ensemble/{name}/discrete_log_prob"],
        result.arrays[f"seed3/{name}/discrete_log_prob"], rtol=1e-12)
  assert results["ensemble"]["detection"] == results["detection"]["seed3"]
  # The numbers are those of the other folder's images.
  test = experiment.images("toy/test", data_dir=other_data, limit=16)
  assert member["toy/test"]["bits_per_dim"] == pytest.approx(
      float(np.mean(runs[0].model.bits_per_dim(test))), rel=1e-6)
  assert member["toy/test"]["bits_per_dim"] != pytest.approx(
      experiment.trained[0]["bits_per_dim"]["toy/test"], rel=1e-4)


# 4. Errors.

def test_incompatible_runs(experiment, tmp_path):
  first = experiment.runs[0]
  config = first.config
  other_data = dataclasses.replace(
      first, name="other", config=config.replace(
          data=config.data.replace(dataset="other_toy")))
  other_shape = dataclasses.replace(
      first, name="other", config=config.replace(
          model=config.model.replace(image_shape=(16, 16, 1))))
  evaluation = configs.EvaluationConfig(num_bootstrap=5, num_samples=0)
  for other in (other_data, other_shape):
    with pytest.raises(ValueError, match=r"Runs seed3 and other differ in "
                                         r"dataset, image shape or n_bits"):
      evaluate.evaluate([first, other], evaluation, str(tmp_path / "out"))
  with pytest.raises(ValueError, match=r"Run names must differ; got "
                                       r"\['seed3', 'seed3'\]"):
    evaluate.evaluate([first, runs_lib.load_run(experiment.workdirs[0])],
                      evaluation, str(tmp_path / "out"))
  with pytest.raises(ValueError, match=r"at least one run"):
    evaluate.evaluate([], evaluation, str(tmp_path / "out"))
  assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("changes, match", [
    (dict(num_examples=1), r"num_examples must be >= 2 or None; got 1"),
    (dict(batch_size=0), r"batch_size must be >= 1; got 0"),
    (dict(graying_factors=(1., 1.5)), r"graying_factors must be in \[0, 1\]"),
    (dict(graying_factors=(-0.1,)), r"graying_factors must be in \[0, 1\]"),
    (dict(num_bootstrap=0), r"num_bootstrap must be >= 1; got 0"),
    (dict(num_samples=-1), r"num_samples must be >= 0; got -1"),
    (dict(sample_temperatures=(1., 0.)), r"sample_temperatures must be > 0"),
    (dict(datasets=("constant:300",)), r"Bad special dataset name "
                                       r"'constant:300'"),
    (dict(datasets=("grayed:toy",)), r"Bad special dataset name"),
], ids=lambda value: "-".join(value) if isinstance(value, dict) else None)
def test_bad_evaluation_config(changes, match):
  with pytest.raises(ValueError, match=match):
    configs.EvaluationConfig(**changes)


def test_a_str_is_not_a_sequence_of_dataset_names():
  # tuple("mnist") would be its letters: datasets "m", "n", ... (TrainConfig
  # refuses a str in eval_datasets the same way).
  with pytest.raises(TypeError, match=r"datasets must be a sequence, not a "
                                      r"str"):
    configs.EvaluationConfig(datasets="mnist")


def test_evaluation_config_defaults():
  config = configs.EvaluationConfig()
  assert config.num_examples == 2000 and config.num_bootstrap == 1000
  assert config.graying_factors == (1., 0.8, 0.6, 0.4, 0.2, 0.)
  assert configs.EvaluationConfig(num_examples=None).num_examples is None
