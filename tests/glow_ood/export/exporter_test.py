"""Tests of `glow_ood.export.export_run` on an untrained tiny Glow (no training run).

The run is a `glow_ood.runs.Run` made by hand: the tiny Glow of
`tests.toy_data` (initialized on toy images) with a `TrainConfig` whose data
are 6x6 toy images padded to 8x8 with a carved validation split, so every
step of the export runs: the fit on the held-out split, `pad_like_training`,
save, reload check, move into place. The trained families, evaluate.py's
numbers and the reload without `glow_ood` are `tests/launch/export_test.py`'s
(slow tier).
"""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from glow_ood import configs
from glow_ood import models
from glow_ood import runs
from glow_ood import scores as scores_lib
from glow_ood import export
from glow_ood.export import calibration
from tests.toy_data import tiny_glow_config
from tests.toy_data import tiny_train_config
from tests.toy_data import toy_images
from tests.toy_data import write_dataset

NUM_BOOTSTRAP = 200   # fewer bootstrap batches than the default, same code


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  root = tmp_path_factory.mktemp("exporter_test")
  write_dataset(str(root / "data"), num_train=48, num_test=16,
                shape=(6, 6, 1))
  config = tiny_train_config(root / "data")
  config = dataclasses.replace(
      config, data=config.data.replace(pad_to=8, validation_size=16))
  model = models.build_model(tiny_glow_config())
  model.data_init(model.preprocess(toy_images(32, seed=1)))
  return runs.Run(name="tiny", workdir=str(root / "run"), config=config,
                  model=model, step=0)


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
  output_dir = str(tmp_path_factory.mktemp("exports") / "tiny")
  lines = []
  info = export.export_run(
      run, configs.ExportConfig(typicality_num_bootstrap=NUM_BOOTSTRAP),
      output_dir, log=lines.append)
  return output_dir, info, lines


def test_writes_a_saved_model_and_says_what(exported):
  output_dir, info, lines = exported
  assert os.path.exists(os.path.join(output_dir, "saved_model.pb"))
  with open(os.path.join(output_dir, export.INFO_FILE)) as f:
    assert json.load(f) == info
  assert lines[0].startswith("Exporting tiny (step 0): Glow")
  assert any(line.startswith("Typicality fitted on toy/validation (16 of 16")
             for line in lines)
  assert ("Signatures: log_prob, bits_per_dim, decomposition, typicality, "
          "input_complexity, serving_default, pad_like_training, metadata."
          in lines)
  assert any(line.startswith("Verified: the reloaded SavedModel")
             for line in lines)
  assert info["verified_max_abs_difference"] == 0.
  assert info["left_out"] == {}
  assert not [name for name in os.listdir(os.path.dirname(output_dir))
              if name.endswith(".tmp")]


def test_typicality_is_fitted_on_the_carved_validation_split(run, exported):
  _, info, _ = exported
  fitted = info["typicality"]
  assert fitted["fitted_on"]["split"] == "validation"
  assert fitted["fitted_on"]["validation_size"] == 16
  assert fitted["num_bootstrap"] == NUM_BOOTSTRAP
  images = calibration.load_fit_images(run.config, "validation", None).images
  assert images.shape == (16, 8, 8, 1)
  loaded = tf.saved_model.load(exported[0])
  log_prob = loaded.signatures["log_prob"](
      images=tf.constant(images))["log_prob"].numpy()
  score = scores_lib.Typicality(num_bootstrap=NUM_BOOTSTRAP).fit(
      scores_lib.Features(discrete_log_prob=log_prob))
  assert fitted["entropy"] == pytest.approx(score.entropy, rel=1e-12)
  assert fitted["threshold"] == pytest.approx(score.threshold, rel=1e-12)
  assert info["pad_like_training"] == {"input_shape": [6, 6, 1], "pad_to": 8,
                                       "to_rgb": False}


def test_refuses_a_non_empty_output_dir_and_never_overwrites(run, tmp_path):
  (tmp_path / "mine.txt").write_text("keep")
  with pytest.raises(ValueError, match="exists and is not empty; an export "
                     "never overwrites"):
    export.export_run(run, configs.ExportConfig(), str(tmp_path), log=None)
  assert os.listdir(tmp_path) == ["mine.txt"]


def test_validation_split_needs_one(run):
  config = dataclasses.replace(
      run.config, data=run.config.data.replace(validation_size=0))
  assert calibration.fit_split(config, "auto") == "test"
  with pytest.raises(ValueError, match="the run has no validation split"):
    calibration.fit_split(config, "validation")
  assert calibration.fit_split(run.config, "auto") == "validation"


def test_fit_images_are_the_pipelines_padded_and_raw(run):
  fit = calibration.load_fit_images(run.config, "test", 10)
  assert fit.images.shape == (10, 8, 8, 1) and fit.raw_images.shape == (
      10, 6, 6, 1)
  np.testing.assert_array_equal(
      fit.images, np.pad(fit.raw_images, ((0, 0), (1, 1), (1, 1), (0, 0))))
  assert fit.num_available == 16
