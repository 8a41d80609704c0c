"""Tests of `glow_ood.runs`: restoring a trained run's model.

One tiny run (8x8x1 Glow, 2 levels of 1 step, width 8, 4 steps with EMA
decay 0.5 and a checkpoint every step, of which the last 3 are kept) is
trained with `glow_ood.train.train` on toy `.npz` files in a temporary folder.
Known answers: the run's own results.json (bits/dim of the EMA weights at the
end), the tensors the checkpoint files hold, and the EMA recursion
`shadow_t = decay shadow_{t-1} + (1 - decay) weights_t` between two steps.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import glow_ood
from glow_ood import data
from glow_ood import runs as runs_lib
from glow_ood import train as train_lib
from glow_ood.configs import TrainConfig
from tests.toy_data import tiny_train_config
from tests.toy_data import toy_images
from tests.toy_data import write_dataset

IMAGE_SHAPE = (8, 8, 1)
EMA_DECAY = 0.5


def tiny_config(data_dir, **overrides):
  """The shared tiny run (tests/toy_data.py) with EMA and a checkpoint every step."""
  values = dict(learning_rate=1e-2, log_every=4, checkpoint_every=1,
                ema_decay=EMA_DECAY)
  values.update(overrides)
  return tiny_train_config(data_dir, **values)


class TrainedRun:
  """The trained run: `config`, `workdir`, `results` (its results.json)."""

  def __init__(self, config, workdir):
    self.config = config
    self.workdir = workdir
    with open(os.path.join(workdir, "results.json")) as f:
      self.results = json.load(f)
    self.test_images = data.load_images(config.data, "test")

  def tensors(self, step):
    """`{key: numpy}` of the checkpoint of `step`."""
    reader = tf.train.load_checkpoint(
        os.path.join(self.workdir, "checkpoints", f"ckpt-{step}"))
    return {key: reader.get_tensor(key)
            for key in reader.get_variable_to_shape_map()}

  def test_bits_per_dim(self, model):
    return float(np.mean(model.bits_per_dim(self.test_images).numpy()))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  folder = tmp_path_factory.mktemp("checkpoints_test")
  data_dir = folder / "data"
  data_dir.mkdir()
  write_dataset(str(data_dir))
  config = tiny_config(data_dir)
  workdir = str(folder / "run")
  train_lib.train(config, workdir)
  return TrainedRun(config, workdir)


def _weights(model):
  return [v.numpy() for v in model.trainable_variables]


def _max_difference(first, second):
  return max(float(np.max(np.abs(a - b))) for a, b in zip(first, second))


def test_latest_checkpoint_gives_the_trained_model(run):
  assert runs_lib.checkpoint_path(run.workdir) == os.path.join(
      run.workdir, "checkpoints", "ckpt-4")
  model, step = runs_lib.restore_model(run.config, run.workdir)
  assert step == 4 == run.results["step"]
  assert model.is_initialized
  # The trainer's final evaluation (EMA weights) of the same test images.
  assert run.test_bits_per_dim(model) == pytest.approx(
      run.results["bits_per_dim"]["toy/test"], rel=1e-6)


def test_a_loaded_run_says_which_weights_it_holds(run):
  assert runs_lib.load_run(run.workdir).weights == "ema"
  assert runs_lib.load_run(run.workdir, use_ema=False).weights == "raw"


def test_ema_weights_are_the_averages_in_the_checkpoint(run):
  averaged, _ = runs_lib.restore_model(run.config, run.workdir)
  raw, _ = runs_lib.restore_model(run.config, run.workdir, use_ema=False)
  tensors = run.tensors(4)
  num = len(averaged.trainable_variables)
  assert num > 10
  shadows = [tensors[f"ema/shadows/{i}/.ATTRIBUTES/VARIABLE_VALUE"]
             for i in range(num)]
  weights = [tensors[f"ema/_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE"]
             for i in range(num)]
  for value, expected in zip(_weights(averaged), shadows):
    np.testing.assert_array_equal(value, expected)
  for value, expected in zip(_weights(raw), weights):
    np.testing.assert_array_equal(value, expected)
  # The two differ (so the check above can fail), and so do their numbers.
  assert _max_difference(shadows, weights) > 1e-3
  assert run.test_bits_per_dim(raw) != pytest.approx(
      run.test_bits_per_dim(averaged), rel=1e-6)
  # A config without EMA loads the raw weights too.
  plain, _ = runs_lib.restore_model(run.config.replace(ema_decay=None),
                                       run.workdir)
  for value, expected in zip(_weights(plain), weights):
    np.testing.assert_array_equal(value, expected)


def test_ema_recursion_between_two_checkpoints(run):
  """average_4 = decay average_3 + (1 - decay) weights_4."""
  average_3, step_3 = runs_lib.restore_model(run.config, run.workdir, 3)
  average_4, step_4 = runs_lib.restore_model(run.config, run.workdir, 4)
  weights_4, _ = runs_lib.restore_model(run.config, run.workdir, 4,
                                           use_ema=False)
  assert (step_3, step_4) == (3, 4)
  for a3, a4, w4 in zip(_weights(average_3), _weights(average_4),
                        _weights(weights_4)):
    np.testing.assert_allclose(a4, EMA_DECAY * a3 + (1. - EMA_DECAY) * w4,
                               rtol=1e-5, atol=1e-6)


def test_step_picks_an_older_checkpoint(run):
  assert runs_lib.checkpoint_path(run.workdir, step=2) == os.path.join(
      run.workdir, "checkpoints", "ckpt-2")
  older, step = runs_lib.restore_model(run.config, run.workdir, step=2)
  latest, _ = runs_lib.restore_model(run.config, run.workdir)
  assert step == 2
  assert _max_difference(_weights(older), _weights(latest)) > 1e-3
  assert run.test_bits_per_dim(older) != pytest.approx(
      run.test_bits_per_dim(latest), rel=1e-6)
  # The checkpoint's own step counter agrees with its file name.
  assert run.tensors(2)["step/.ATTRIBUTES/VARIABLE_VALUE"] == 2


def test_missing_step_lists_the_kept_steps(run):
  with pytest.raises(FileNotFoundError,
                     match=r"No checkpoint of step 1 in .*checkpoints; kept "
                           r"steps: 2, 3, 4\."):
    runs_lib.restore_model(run.config, run.workdir, step=1)


def test_missing_checkpoints_say_train_first(tmp_path, run):
  with pytest.raises(FileNotFoundError, match=r"No checkpoint in .*Train first "
                                              r"\(launch/train.py"):
    runs_lib.checkpoint_path(str(tmp_path / "never_trained"))
  with pytest.raises(FileNotFoundError, match=r"Train first"):
    runs_lib.restore_model(run.config, str(tmp_path))


def test_uninitialized_model_is_not_a_trained_run(tmp_path, run):
  model = glow_ood.Glow(run.config.model)
  assert not model.is_initialized
  step = tf.Variable(0, dtype=tf.int64)
  tf.train.CheckpointManager(
      tf.train.Checkpoint(model=model, step=step),
      str(tmp_path / "checkpoints"), max_to_keep=1).save(checkpoint_number=0)
  with pytest.raises(ValueError, match=r"ckpt-0 holds a model whose "
                                       r"data-dependent init never ran"):
    runs_lib.restore_model(run.config.replace(ema_decay=None),
                              str(tmp_path))


def test_wrong_architecture_is_not_silently_restored(run):
  """A config of another width cannot read the run's weights."""
  wider = run.config.replace(model=run.config.model.replace(hidden_width=16))
  with pytest.raises(ValueError, match=r"incompatible tensor with shape "
                                       r"\(3, 3, 8, 4\).*\(3, 3, 16, 4\)"):
    runs_lib.restore_model(wider, run.workdir)
