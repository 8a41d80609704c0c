"""What a training run writes for TensorBoard (`glow_ood.train.summaries`, `hparams`).

One tiny run (tests/toy_data.py, 4 steps, evaluated at steps 2 and 4) is
trained and its event files are read back; the tags of `train/` and `eval/`
are those of runs written before `eval_sets/` existed, so their readers
(`glow_ood.plots.read_scalars`, the resume test in loop_test.py) read old and
resumed runs alike. The other tests use no model. The HTTP check of the
dashboards is tests/scripts/check_tensorboard_test.py.
"""

import json
import os
import types

import numpy as np
import pytest
from tensorboard.plugins.hparams import metadata as hparams_metadata

from glow_ood import likelihood_terms
from glow_ood import plots
from glow_ood import train as train_lib
from glow_ood.train import hparams
from glow_ood.train import summaries
from tests.glow_ood.train.recording import NUM_DIMS
from tests.glow_ood.train.recording import tiny_config
from tests.glow_ood.train.tensorboard_runs import read_events
from tests.toy_data import write_dataset

SETS = ("toy/train", "toy/test", "constant:128/test")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """`(config, workdir, results)` of the 4-step run."""
  root = tmp_path_factory.mktemp("summaries_test")
  write_dataset(str(root / "data"))
  config = tiny_config(root / "data", eval_every=2, ema_decay=0.9,
                       num_samples=0, eval_datasets=("constant:128",))
  workdir = root / "run"
  results = train_lib.train(config, str(workdir))
  return config, workdir, results


def test_train_and_eval_bits_per_dim_share_a_tag_across_runs(trained):
  _, workdir, results = trained
  runs = read_events(workdir, recursive=True)
  assert "bits_per_dim" in runs["train"]
  assert sorted(runs["train"]["bits_per_dim"][1]) == [1, 2, 3, 4]
  for name in SETS:
    run = f"{summaries.EVAL_SETS_DIR}/{name}"
    _, values = runs[run]["bits_per_dim"]
    assert sorted(values) == [2, 4], run
    for step in (2, 4):
      assert float(values[step]) == float(
          runs["eval"][f"bits_per_dim/{name}"][1][step])
    assert float(values[4]) == pytest.approx(results[name], rel=1e-6)
  # The reader of Figure 5b.
  curves = plots.read_scalars(str(workdir / "eval"), "bits_per_dim/")
  for name in SETS:
    np.testing.assert_array_equal(curves[f"bits_per_dim/{name}"][0], [2, 4])


def test_evaluation_sets_get_the_glow_decomposition(trained):
  config, workdir, _ = trained
  runs = read_events(workdir, recursive=True)
  levels = config.model.num_levels
  for name in SETS:
    tags = {tag: float(values[4]) for tag, (_, values) in
            runs[f"{summaries.EVAL_SETS_DIR}/{name}"].items()}
    assert sorted(tags) == sorted(
        ["bits_per_dim", "log_prob_z", "log_det"]
        + [f"{t}/level_{l}" for t in ("log_prob_z", "log_det")
           for l in range(levels)]
        + [f"log_det/{k}" for k in ("actnorm", "coupling", "other",
                                    "permutation")]), name
    # bits/dim = -(log p(z) + log|det| - D log 256) / (D log 2).
    assert tags["bits_per_dim"] == pytest.approx(
        -(tags["log_prob_z"] + tags["log_det"] - NUM_DIMS * 8 * np.log(2.))
        / (NUM_DIMS * np.log(2.)), abs=1e-4)
    for term in ("log_prob_z", "log_det"):
      assert sum(tags[f"{term}/level_{l}"] for l in range(levels)) == (
          pytest.approx(tags[term], rel=1e-5))
    assert sum(tags[f"log_det/{k}"] for k in ("actnorm", "coupling", "other",
                                              "permutation")) == (
                                                  pytest.approx(
                                                      tags["log_det"],
                                                      rel=1e-5))


def test_every_scalar_has_a_description_with_its_units(trained):
  _, workdir, _ = trained
  runs = read_events(workdir, recursive=True)
  for run, tags in runs.items():
    for tag, (metadata, _) in tags.items():
      if metadata.plugin_data.plugin_name != "scalars":
        continue
      description = metadata.summary_description
      assert description, (run, tag)
      if tag.startswith("bits_per_dim"):
        assert "Bits per dimension" in description, (run, tag)
      elif tag.startswith(("log_prob_z", "log_det")):
        assert "nats per image" in description, (run, tag)


def test_run_folder_holds_the_hparams_and_the_config_text(trained):
  config, workdir, _ = trained
  root = read_events(workdir)["."]
  metadata, _ = root[hparams_metadata.SESSION_START_INFO_TAG]
  assert metadata.plugin_data.plugin_name == hparams_metadata.PLUGIN_NAME
  start = hparams_metadata.parse_session_start_info_plugin_data(
      metadata.plugin_data.content)
  values = {name: value.WhichOneof("kind") and getattr(
      value, value.WhichOneof("kind")) for name, value in start.hparams.items()}
  flat = hparams.flatten(config)
  assert sorted(values) == sorted(flat)
  assert values["model.family"] == "glow" and values["data.dataset"] == "toy"
  assert values["learning_rate"] == pytest.approx(config.learning_rate)
  assert values["model.image_shape"] == "8,8,1"
  _, texts = root["config"]
  assert sorted(texts) == [0]   # the step the launch started at
  text = texts[0].item().decode()
  assert text.startswith("```json\n") and text.endswith("\n```")
  with open(workdir / "config.json", encoding="utf-8") as f:
    saved = json.load(f)
  # config.json also keeps the data's fingerprints beside the config; the
  # text summary is the config alone.
  assert "data_fingerprints" in saved
  saved.pop("data_fingerprints")
  assert json.loads(text[len("```json\n"):-len("\n```")]) == saved


def test_flatten_gives_dotted_scalar_hyperparameters(tmp_path):
  flat = hparams.flatten(tiny_config(tmp_path, grad_clip_norm=None,
                                     eval_datasets=("mnist", "constant:0")))
  assert flat["model.family"] == "glow"
  assert flat["model.hidden_width"] == 8 and flat["batch_size"] == 8
  assert flat["data.dataset"] == "toy" and flat["data.source"] == "npz"
  assert flat["grad_clip_norm"] == "None"
  assert flat["eval_datasets"] == "mnist,constant:0"
  assert flat["nonfinite_loss_steps"] == ""
  assert all(isinstance(v, (bool, int, float, str)) for v in flat.values())


def test_a_model_without_decomposition_gets_bits_per_dim_only(tmp_path):
  # (PixelCNN, VAE: `scorer` is None, and their scores have no decomposition.)
  scores = likelihood_terms.LikelihoodTerms(
      discrete_log_prob=np.array([-100.]), bits_per_dim=np.array([2.]),
      log_prob_z=None, log_prob_z_per_level=None, log_det=None,
      log_det_per_level=None, log_det_per_kind=None, num_dims=64, n_bits=8)
  assert summaries.likelihood_scalars(scores) == {}
  writers = summaries.RunWriters(str(tmp_path))
  results = summaries.evaluate(
      types.SimpleNamespace(ema=None), lambda images: np.full([len(images)], 3.),
      {"a/test": np.zeros([2, 8, 8, 1], np.uint8)}, writers, 7)
  writers.flush()
  assert results == {"a/test": 3.}
  runs = read_events(tmp_path, recursive=True)
  assert list(runs[f"{summaries.EVAL_SETS_DIR}/a/test"]) == ["bits_per_dim"]
  assert list(runs["eval"]) == ["bits_per_dim/a/test"]


def test_writers_of_a_worker_that_is_not_the_chief_write_nothing(tmp_path):
  writers = summaries.RunWriters(str(tmp_path / "run"), enabled=False)
  summaries.write_scalars(writers.eval_set("a/test"), 1, {"bits_per_dim": 1.})
  hparams.write_run_config(writers.root, tiny_config(tmp_path), 0)
  writers.flush()
  assert not os.path.exists(tmp_path / "run")
