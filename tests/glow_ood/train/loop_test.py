"""Tests of `glow_ood.train.train`: outputs, learning, distribution, resume, faults.

Most tests train a tiny Glow (8x8x1, 2 levels of 1 step, width 8) for a few
steps on small synthetic `.npz` files written to `tmp_path`; one learns on the
real NotMNIST from GLOW_OOD_DATA_DIR (default ../shared/data) and skips when it
is absent. Two-replica tests use the two logical CPUs of tests/conftest.py.

To look inside a run, `TrainState` is replaced by a subclass that records
the state after the restore / ActNorm initialization and after every step.
"""

import json
import os
import re
from typing import List, NamedTuple

import numpy as np
import pytest
import tensorflow as tf

from glow_ood import configs
import glow_ood
from glow_ood import data
from glow_ood.train import distribution
from glow_ood.data import transforms
from glow_ood import likelihood_terms
from glow_ood import train as train_lib
from glow_ood.configs import TrainConfig
from tests.toy_data import tiny_train_config
from tests.toy_data import toy_images
from tests.toy_data import write_dataset

DATA_DIR = data.default_data_dir()
IMAGE_SHAPE = (8, 8, 1)
NUM_DIMS = 8 * 8 * 1
ONE_CPU = ("/cpu:0",)
TWO_CPUS = ("/cpu:0", "/cpu:1")

needs_two_cpus = pytest.mark.skipif(
    len(tf.config.list_logical_devices("CPU")) < 2,
    reason="needs the 2 logical CPU devices that tests/conftest.py configures "
           "(the TF runtime was initialized before it ran)")
needs_notmnist = pytest.mark.skipif(
    not all(os.path.exists(os.path.join(DATA_DIR, f"notmnist_{split}.npz"))
            for split in ("train", "test")),
    reason=f"real data not found: no notmnist_{{train,test}}.npz in {DATA_DIR} "
           "(set GLOW_OOD_DATA_DIR to the folder of ../shared/data's files)")


# Data and configs.


def tiny_config(data_dir, **overrides):
  """The shared tiny run (tests/toy_data.py), learning at 3e-3, logging every step."""
  return tiny_train_config(data_dir, **overrides)


@pytest.fixture
def toy_dir(tmp_path):
  folder = tmp_path / "data"
  folder.mkdir()
  write_dataset(str(folder))
  return folder


# Looking inside a run.

class State(NamedTuple):
  """Everything a checkpoint holds, as numpy, after one step (or the restore)."""
  step: int
  applied: bool
  loss: float
  weights: List[np.ndarray]      # model.trainable_variables
  model: List[np.ndarray]        # model.variables (ActNorm flags included)
  first_moments: List[np.ndarray]
  second_moments: List[np.ndarray]
  iterations: int
  ema: List[np.ndarray]

  def arrays(self):
    return (self.model + self.first_moments + self.second_moments + self.ema)


def _state(run, applied=True, loss=float("nan")):
  numpy = lambda variables: [v.numpy() for v in variables]
  return State(
      step=int(run.step.numpy()), applied=applied, loss=loss,
      weights=numpy(run.model.trainable_variables),
      model=numpy(run.model.variables),
      first_moments=numpy(run.optimizer.first_moments),
      second_moments=numpy(run.optimizer.second_moments),
      iterations=int(run.optimizer.iterations.numpy()),
      ema=numpy(run.ema.shadows) if run.ema is not None else [])


class _RecordingRun(train_lib.TrainState):
  """`TrainState` that keeps `State`s: `initial` (after restore / init), `history`."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.initial = None
    self.history = []
    step = self.train_step

    def recorded_step(iterator):
      metrics = step(iterator)
      self.history.append(_state(self, applied=bool(metrics["applied"]),
                                 loss=float(metrics["loss"])))
      return metrics

    self.train_step = recorded_step

  def initialize_or_restore(self):
    result = super().initialize_or_restore()
    self.initial = _state(self)
    return result


@pytest.fixture
def runs(monkeypatch):
  """The `_RecordingRun`s made by `train` calls in this test, in order."""
  made = []

  def make(*args, **kwargs):
    run = _RecordingRun(*args, **kwargs)
    made.append(run)
    return run

  monkeypatch.setattr(train_lib.step, "TrainState", make)
  return made


def read_events(directory):
  """`{tag: {step: numpy value}}` of every summary in `directory`'s event files."""
  values = {}
  paths = sorted(tf.io.gfile.glob(os.path.join(str(directory),
                                               "events.out.tfevents.*")))
  assert paths, f"no event files in {directory}"
  for path in paths:
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        values.setdefault(value.tag, {})[event.step] = tf.make_ndarray(
            value.tensor)
  return values


def checkpoint_tensors(path):
  """`{key: numpy value}` of every tensor saved in the checkpoint `path`."""
  reader = tf.train.load_checkpoint(path)
  return {key: reader.get_tensor(key)
          for key in reader.get_variable_to_shape_map()
          if key != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def checkpoint_paths(workdir):
  state = tf.train.get_checkpoint_state(os.path.join(str(workdir),
                                                     "checkpoints"))
  return list(state.all_model_checkpoint_paths) if state else []


def assert_finite_checkpoint(path):
  tensors = checkpoint_tensors(path)
  floats = {k: v for k, v in tensors.items()
            if np.issubdtype(np.asarray(v).dtype, np.floating)}
  assert len(floats) > 10, f"{path}: {sorted(tensors)}"
  for key, value in floats.items():
    assert np.all(np.isfinite(value)), f"{path}: {key} is not finite"
  return tensors


def assert_all_close(actual, expected, **tolerance):
  assert len(actual) == len(expected)
  for i, (a, e) in enumerate(zip(actual, expected)):
    np.testing.assert_allclose(a, e, err_msg=f"array {i}", **tolerance)


def max_difference(first, second):
  return max(float(np.max(np.abs(np.asarray(a, np.float64) - b)))
             for a, b in zip(first, second) if np.size(a))


def expected_bits_per_dim(log_prob_z, log_det, n_bits=8):
  return -(log_prob_z + log_det - NUM_DIMS * n_bits * np.log(2.)) / (
      NUM_DIMS * np.log(2.))


# 1. Outputs of a run.

def test_smoke_run_writes_checkpoints_summaries_and_results(toy_dir, tmp_path,
                                                            runs):
  write_dataset(str(toy_dir), name="other", seed=1)
  config = tiny_config(toy_dir, train_steps=4, eval_every=2,
                       checkpoint_every=2, ema_decay=0.9,
                       eval_datasets=("other", "constant:128"))
  workdir = tmp_path / "run"
  results = train_lib.train(config, str(workdir))

  sets = ("toy/train", "toy/test", "other/test", "constant:128/test")
  assert sorted(results) == sorted(sets)
  for name in sets:
    assert np.isfinite(results[name]) and 0. < results[name] < 16., name
  # A constant image is far from the toy images: the model says so.
  assert results["constant:128/test"] != pytest.approx(results["toy/test"],
                                                       abs=0.1)

  with open(workdir / "results.json") as f:
    saved = json.load(f)
  assert saved["step"] == 4 and saved["skipped_steps"] == 0
  assert saved["bits_per_dim"] == pytest.approx(results)

  paths = checkpoint_paths(workdir)
  assert [int(p.rsplit("-", 1)[1]) for p in paths] == [2, 4]
  tensors = assert_finite_checkpoint(paths[-1])
  assert tensors["step/.ATTRIBUTES/VARIABLE_VALUE"] == 4
  assert tensors["optimizer/iterations/.ATTRIBUTES/VARIABLE_VALUE"] == 4
  assert any(key.startswith("ema/") for key in tensors)

  train_events = read_events(workdir / "train")
  for tag in ("bits_per_dim", "log_prob_z", "log_det", "learning_rate",
              "grad_norm", "images_per_second", "skipped_steps"):
    assert sorted(train_events.get(tag, {})) == [1, 2, 3, 4], tag
  for step in (1, 2, 3, 4):
    scalars = {tag: float(values[step]) for tag, values in train_events.items()}
    assert scalars["bits_per_dim"] == pytest.approx(
        expected_bits_per_dim(scalars["log_prob_z"], scalars["log_det"]),
        abs=1e-3)
    assert scalars["learning_rate"] == pytest.approx(3e-3)
    assert scalars["grad_norm"] > 0. and scalars["images_per_second"] > 0.
    assert scalars["skipped_steps"] == 0.
  # The logged loss is the loss of the step (log_every=1).
  history = runs[0].history
  np.testing.assert_allclose(
      [float(train_events["bits_per_dim"][s]) for s in (1, 2, 3, 4)],
      [state.loss for state in history], rtol=1e-5)

  eval_events = read_events(workdir / "eval")
  for name in sets:
    values = eval_events[f"bits_per_dim/{name}"]
    assert sorted(values) == [2, 4], name
    assert float(values[4]) == pytest.approx(results[name], rel=1e-6)
  samples = eval_events["samples/temperature_1"]
  assert sorted(samples) == [2, 4]
  width, height, png = samples[4]
  image = tf.io.decode_png(png).numpy()
  # 4 samples of 8x8x1 in a 2x2 grid.
  assert (int(width), int(height)) == (16, 16)
  assert image.shape == (16, 16, 1) and image.dtype == np.uint8


def test_evaluation_uses_the_averaged_weights(toy_dir, tmp_path, runs):
  config = tiny_config(toy_dir, train_steps=3, ema_decay=0.5,
                       learning_rate=1e-2)
  results = train_lib.train(config, str(tmp_path / "run"))
  run = runs[0]
  final = run.history[-1]
  # The run ends with the raw weights in place, not the averages.
  assert_all_close([v.numpy() for v in run.model.trainable_variables],
                   final.weights, rtol=0, atol=0)
  assert max_difference(final.ema, final.weights) > 1e-4
  evaluator = likelihood_terms.BitsPerDimEvaluator(run.model, 32)
  images = data.load_images(config.data, "test")
  raw = float(np.mean(evaluator(images)))
  with run.ema.averaged_weights():
    averaged = float(np.mean(evaluator(images)))
  assert results["toy/test"] == pytest.approx(averaged, rel=1e-6)
  assert averaged != pytest.approx(raw, rel=1e-6)


# 2. Learning on real data.

@needs_notmnist
def test_loss_falls_on_real_notmnist(tmp_path, capsys):
  config = TrainConfig(
      model=glow_ood.GlowConfig(image_shape=(32, 32, 1), num_levels=2,
                                num_steps_per_level=1, hidden_width=16),
      data=data.DataConfig(dataset="notmnist", data_dir=DATA_DIR,
                           source="npz", pad_to=32, shuffle_buffer=2048),
      batch_size=32, init_batch_size=256, eval_batch_size=256,
      eval_num_examples=512, train_steps=50, learning_rate=3e-3,
      log_every=1, eval_every=0, checkpoint_every=1000,
      sample_temperatures=(1.0,), num_samples=4, strategy="one_device",
      devices=ONE_CPU)
  workdir = tmp_path / "run"
  results = train_lib.train(config, str(workdir))
  init = re.search(r"Initialized ActNorm on 256 images: ([\d.]+) bits/dim",
                   capsys.readouterr().out)
  assert init, "no initialization line printed"
  bpd = read_events(workdir / "train")["bits_per_dim"]
  assert sorted(bpd) == list(range(1, 51))
  first = np.mean([float(bpd[s]) for s in range(1, 6)])
  last = np.mean([float(bpd[s]) for s in range(46, 51)])
  # About 8.6 -> 7.8 bits/dim; a broken update or data path gives ~0.
  assert first - last > 0.4, (first, last)
  # Held-out images improved too (not just the training batches), from the
  # initial model's level.
  assert results["notmnist/test"] < float(init.group(1)) - 0.5
  assert results["notmnist/test"] < first - 0.3
  assert abs(results["notmnist/test"] - results["notmnist/train"]) < 0.1


# 3. Two replicas vs one device.

@needs_two_cpus
def test_mirrored_matches_one_device(toy_dir, tmp_path, runs):
  config = tiny_config(toy_dir, train_steps=3, ema_decay=0.9,
                       warmup_steps=2)
  variants = {"one": dict(strategy="one_device", devices=ONE_CPU),
              "two": dict(strategy="mirrored", devices=TWO_CPUS),
              # XLA (one compiled forward/backward per replica) too.
              "two_xla": dict(strategy="mirrored", devices=TWO_CPUS,
                              jit_compile=True)}
  results, checkpoints, events = {}, {}, {}
  for name, changes in variants.items():
    workdir = tmp_path / name
    results[name] = train_lib.train(config.replace(**changes), str(workdir))
    checkpoints[name] = checkpoint_tensors(checkpoint_paths(workdir)[-1])
    events[name] = read_events(workdir / "train")
  made = dict(zip(variants, runs))
  one = made["one"]
  assert one.strategy.num_replicas_in_sync == 1
  # The weights did move: the agreement below is not the initial state's.
  assert max_difference(one.history[-1].weights, one.initial.weights) > 1e-3
  for name in ("two", "two_xla"):
    two = made[name]
    assert two.strategy.num_replicas_in_sync == 2, name
    # Same initialization (one global init batch in both).
    assert_all_close(two.initial.model, one.initial.model, rtol=1e-5,
                     atol=1e-6)
    # Same loss at every step, same weights and optimizer state after.
    np.testing.assert_allclose([s.loss for s in two.history],
                               [s.loss for s in one.history], rtol=1e-5,
                               err_msg=name)
    for tag in ("bits_per_dim", "log_prob_z", "log_det", "grad_norm"):
      np.testing.assert_allclose(
          [float(events[name][tag][s]) for s in (1, 2, 3)],
          [float(events["one"][tag][s]) for s in (1, 2, 3)],
          rtol=1e-4, atol=1e-5, err_msg=f"{name} {tag}")
    assert_all_close(two.history[-1].arrays(), one.history[-1].arrays(),
                     rtol=1e-4, atol=1e-5)
    assert two.history[-1].iterations == one.history[-1].iterations == 3
    # What they saved agrees too, tensor by tensor.
    assert sorted(checkpoints[name]) == sorted(checkpoints["one"])
    for key, value in checkpoints["one"].items():
      np.testing.assert_allclose(checkpoints[name][key], value, rtol=1e-4,
                                 atol=1e-5, err_msg=f"{name} {key}")
    assert results[name] == pytest.approx(results["one"], rel=1e-5)


def _local_values(strategy, variable):
  values = strategy.experimental_local_results(variable)
  return [v.numpy() for v in values], [v.device for v in values]


@needs_two_cpus
def test_replicas_agree_after_actnorm_init_and_steps(toy_dir, tmp_path):
  config = tiny_config(toy_dir, strategy="mirrored", devices=TWO_CPUS,
                       ema_decay=0.9)
  strategy = distribution.make_strategy(config.strategy, config.devices)
  images = data.load_images(config.data, "train")
  run = train_lib.TrainState(config, str(tmp_path / "run"), strategy, images)
  assert run.initialize_or_restore()  # a fresh run initializes
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
  one.initialize_or_restore()
  for layer, reference in zip(layers, one.model.actnorm_layers()):
    np.testing.assert_allclose(layer.loc.numpy(), reference.loc.numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.log_scale.numpy(),
                               reference.log_scale.numpy(), rtol=1e-5,
                               atol=1e-6)

  before = [v.numpy() for v in run.model.trainable_variables]
  for _ in range(2):
    metrics = run.train_step(run.iterator)
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


# 4. Resume.

def test_resume_continues_exactly_like_an_uninterrupted_run(toy_dir, tmp_path,
                                                            runs, capsys):
  # Warm-up makes the learning rate depend on the step; a shuffled, repeated
  # stream (64 images, batches of 8) makes the batches depend on it.
  config = tiny_config(toy_dir, warmup_steps=5, ema_decay=0.8,
                       learning_rate=1e-2)
  k, m = 3, 3
  resumed_dir, full_dir = tmp_path / "resumed", tmp_path / "full"
  train_lib.train(config.replace(train_steps=k), str(resumed_dir))
  assert "Resumed" not in capsys.readouterr().out
  results = train_lib.train(config.replace(train_steps=k + m),
                            str(resumed_dir))
  output = capsys.readouterr().out
  assert re.search(rf"Resumed from \S+ckpt-{k} at step {k}\.", output), output
  assert "Initialized ActNorm" not in output
  full_results = train_lib.train(config.replace(train_steps=k + m),
                                 str(full_dir))
  first, second, full = runs

  # The restored state is exactly the state the first run ended with.
  restored, saved = second.initial, first.history[-1]
  assert restored.step == saved.step == k
  assert restored.iterations == saved.iterations == k
  for name in ("model", "first_moments", "second_moments", "ema"):
    for a, b in zip(getattr(restored, name), getattr(saved, name)):
      np.testing.assert_array_equal(a, b, err_msg=name)
  assert [s.step for s in second.history] == list(range(k + 1, k + m + 1))

  # Then it goes on exactly as a run that was never stopped.
  np.testing.assert_allclose([s.loss for s in second.history],
                             [s.loss for s in full.history[k:]], rtol=1e-6)
  assert_all_close(second.history[-1].arrays(), full.history[-1].arrays(),
                   rtol=1e-5, atol=1e-6)
  assert full.history[-1].iterations == second.history[-1].iterations == k + m
  assert results == pytest.approx(full_results, rel=1e-6)
  # ... which is a real check: the last m steps moved the weights much more
  # than the tolerance, and restarting the data stream would change the loss.
  assert max_difference(second.history[-1].weights, saved.weights) > 1e-3
  assert not np.allclose([s.loss for s in second.history],
                         [s.loss for s in first.history[:m]], rtol=1e-4)
  # The schedule continued: warm-up learning rates of steps k+1..k+m.
  learning_rates = read_events(resumed_dir / "train")["learning_rate"]
  for step in range(1, k + m + 1):
    assert float(learning_rates[step]) == pytest.approx(
        1e-2 * min(1., step / 5)), step
  steps = [int(p.rsplit("-", 1)[1]) for p in checkpoint_paths(resumed_dir)]
  assert steps == [k, k + m]
  with open(resumed_dir / "results.json") as f:
    assert json.load(f)["step"] == k + m


def test_rerunning_a_finished_run_only_evaluates(toy_dir, tmp_path, runs,
                                                 capsys):
  config = tiny_config(toy_dir, train_steps=2)
  workdir = str(tmp_path / "run")
  first = train_lib.train(config, workdir)
  again = train_lib.train(config, workdir)
  assert "Resumed from" in capsys.readouterr().out
  assert runs[1].history == []
  assert again == pytest.approx(first, rel=1e-6)


# 5. Non-finite steps.

def test_nonfinite_step_is_skipped(toy_dir, tmp_path, runs):
  config = tiny_config(toy_dir, train_steps=6, nonfinite_loss_steps=(3,),
                       checkpoint_every=1, ema_decay=0.9)
  workdir = tmp_path / "run"
  results = train_lib.train(config, str(workdir))
  history = runs[0].history
  assert [s.applied for s in history] == [True, True, True, False, True, True]
  assert np.isnan(history[3].loss)
  assert all(np.isfinite(s.loss) for i, s in enumerate(history) if i != 3)
  before, skipped, after = history[2], history[3], history[4]
  # Nothing but the step counter moved at the skipped step.
  assert skipped.step == before.step + 1
  assert skipped.iterations == before.iterations == 3
  for a, b in zip(skipped.arrays(), before.arrays()):
    np.testing.assert_array_equal(a, b)
  assert after.iterations == 4
  assert max_difference(after.weights, skipped.weights) > 1e-4

  with open(workdir / "results.json") as f:
    saved = json.load(f)
  assert saved["skipped_steps"] == 1 and saved["step"] == 6
  assert all(np.isfinite(v) for v in results.values())
  events = read_events(workdir / "train")
  assert float(events["skipped_steps"][6]) == 1.
  assert 4 not in events["bits_per_dim"]   # nothing applied in that window
  # Checkpoints every step, but none right after the skipped one (the last 3
  # are kept); every one is finite.
  paths = checkpoint_paths(workdir)
  assert [int(p.rsplit("-", 1)[1]) for p in paths] == [3, 5, 6]
  for path in paths:
    tensors = assert_finite_checkpoint(path)
    assert tensors["num_skipped/.ATTRIBUTES/VARIABLE_VALUE"] == (
        0 if path.endswith("-3") else 1)


def test_too_many_nonfinite_steps_raise_and_keep_the_last_good_checkpoint(
    toy_dir, tmp_path, runs):
  config = tiny_config(toy_dir, train_steps=20, checkpoint_every=1,
                       max_consecutive_skips=2,
                       nonfinite_loss_steps=tuple(range(2, 20)))
  workdir = tmp_path / "run"
  with pytest.raises(train_lib.TrainingDivergedError,
                     match=r"2 consecutive training steps had a non-finite "
                           r"loss.*latest checkpoint.*last good state"):
    train_lib.train(config, str(workdir))
  history = runs[0].history
  assert [s.applied for s in history] == [True, True, False, False]
  paths = checkpoint_paths(workdir)
  assert paths[-1].endswith("ckpt-2")
  tensors = assert_finite_checkpoint(paths[-1])
  assert tensors["step/.ATTRIBUTES/VARIABLE_VALUE"] == 2
  assert tensors["num_skipped/.ATTRIBUTES/VARIABLE_VALUE"] == 0
  for path in paths:
    assert_finite_checkpoint(path)
  assert not (workdir / "results.json").exists()
  # The last good checkpoint resumes: a run without the fault finishes.
  results = train_lib.train(
      config.replace(nonfinite_loss_steps=(), train_steps=4), str(workdir))
  # ... from exactly the state after the last good step.
  restored, last_good = runs[1].initial, history[1]
  assert restored.step == last_good.step == 2
  for a, b in zip(restored.arrays(), last_good.arrays()):
    np.testing.assert_array_equal(a, b)
  assert all(np.isfinite(v) for v in results.values())


# 6. Bad inputs fail before training.

def _assert_fails_before_training(config, workdir, match, cause=None):
  """`train` raises one `ConfigurationError` and writes nothing."""
  with pytest.raises(train_lib.ConfigurationError, match=match) as info:
    train_lib.train(config, str(workdir))
  assert not os.path.exists(str(workdir)), os.listdir(str(workdir))
  if cause is not None:
    assert isinstance(info.value.__cause__, cause), repr(info.value.__cause__)
  return str(info.value)


def test_unknown_dataset(toy_dir, tmp_path):
  config = tiny_config(toy_dir).replace(data=data.DataConfig(
      dataset="no_such_images", data_dir=str(toy_dir),
      tfds_data_dir=str(tmp_path / "tfds")))
  path = os.path.join(str(toy_dir), "no_such_images_train.npz")
  message = _assert_fails_before_training(
      config, tmp_path / "run", re.escape(path), data.DatasetNotFoundError)
  assert "tensorflow_datasets" in message
  # An unknown evaluation set fails as early.
  _assert_fails_before_training(
      tiny_config(toy_dir, eval_datasets=("no_such_images",)),
      tmp_path / "run2",
      re.escape(os.path.join(str(toy_dir), "no_such_images_test.npz")),
      data.DatasetNotFoundError)


def test_missing_data_dir(tmp_path):
  missing = tmp_path / "not_there"
  _assert_fails_before_training(
      tiny_config(missing), tmp_path / "run",
      re.escape(os.path.join(str(missing), "toy_train.npz")),
      data.DatasetNotFoundError)


@needs_two_cpus
def test_batch_not_divisible_by_the_replicas(toy_dir, tmp_path):
  config = tiny_config(toy_dir, batch_size=3, strategy="mirrored",
                       devices=TWO_CPUS)
  _assert_fails_before_training(
      config, tmp_path / "run",
      r"batch_size=3 \(global\) is not divisible by the 2 replicas")


def test_wrong_image_shape_for_the_model(tmp_path):
  write_dataset(str(tmp_path), shape=(28, 28, 1))
  config = tiny_config(tmp_path).replace(model=glow_ood.GlowConfig(
      image_shape=(32, 32, 1), num_levels=2, num_steps_per_level=1,
      hidden_width=8))
  _assert_fails_before_training(
      config, tmp_path / "run",
      r"'toy' has images of shape \(28, 28, 1\) but the model expects "
      r"\(32, 32, 1\).*pad_to")
  # With pad_to=32 the same data is accepted (and trains).
  padded = config.replace(data=config.data.replace(pad_to=32), train_steps=1)
  results = train_lib.train(padded, str(tmp_path / "padded"))
  assert all(np.isfinite(v) for v in results.values())


def test_wrong_image_shape_of_an_evaluation_set(toy_dir, tmp_path):
  write_dataset(str(toy_dir), name="rgb", shape=(8, 8, 3))
  _assert_fails_before_training(
      tiny_config(toy_dir, eval_datasets=("rgb",)), tmp_path / "run",
      r"rgb/test of shape \(8, 8, 3\) cannot be conformed to \(8, 8, 1\)")


def test_devices_for_multi_worker_fail_before_training(toy_dir, tmp_path):
  config = tiny_config(toy_dir, strategy="multi_worker_mirrored",
                       devices=ONE_CPU)
  _assert_fails_before_training(config, tmp_path / "run",
                                r"leave --devices empty")


def test_n_bits_mismatch(toy_dir):
  with pytest.raises(ValueError, match=r"data.n_bits=5 differs from "
                                       r"model.n_bits=8"):
    tiny_config(toy_dir).replace(
        data=data.DataConfig(dataset="toy", data_dir=str(toy_dir), n_bits=5))


@pytest.mark.parametrize("changes, error, match", [
    (dict(optimizer="sgd"), ValueError, r"optimizer='sgd' is not one of"),
    (dict(strategy="tpu"), ValueError, r"strategy='tpu' is not one of"),
    (dict(batch_size=0), ValueError, r"batch_size must be >= 1"),
    (dict(learning_rate=0.), ValueError, r"learning_rate must be > 0"),
    (dict(ema_decay=1.), ValueError, r"ema_decay must be in \(0, 1\)"),
    (dict(grad_clip_norm=-1.), ValueError, r"grad_clip_norm must be > 0"),
    (dict(warmup_steps=-1), ValueError, r"warmup_steps must be >= 0"),
    (dict(eval_num_examples=0), ValueError, r"eval_num_examples must be >= 1"),
    (dict(model={"num_levels": 2}), TypeError, r"model must be a GlowConfig"),
    (dict(data="toy"), TypeError, r"data must be a DataConfig"),
    # A str is not a tuple of names (tuple("mnist") would be its letters).
    (dict(eval_datasets="mnist"), TypeError,
     r"eval_datasets must be a sequence, not a str"),
    (dict(devices="/cpu:0"), TypeError, r"devices must be a sequence"),
], ids=lambda value: "-".join(value) if isinstance(value, dict) else None)
def test_bad_train_config(toy_dir, changes, error, match):
  with pytest.raises(error, match=match):
    tiny_config(toy_dir, **changes)


def test_bad_enum_values_in_the_model_and_data_configs(toy_dir):
  with pytest.raises(ValueError, match=r"coupling_scale='affine' is not one"):
    glow_ood.GlowConfig(coupling_scale="affine")
  with pytest.raises(ValueError, match=r"source='disk' is not one of"):
    data.DataConfig(dataset="toy", source="disk")


def test_gradient_clipping_in_float64_with_adam(toy_dir, tmp_path, runs):
  """Clipping to a tiny global norm shrinks Adam's steps far below the rate."""
  learning_rate, clip = 1e-2, 1e-9
  config = tiny_config(
      toy_dir, optimizer="adam", learning_rate=learning_rate,
      grad_clip_norm=clip, train_steps=2,
      model=tiny_config(toy_dir).model.replace(dtype="float64"))
  workdir = tmp_path / "run"
  results = train_lib.train(config, str(workdir))
  run = runs[0]
  assert all(v.dtype == tf.float64 for v in run.model.trainable_variables)
  assert all(np.isfinite(v) for v in results.values())
  # Each clipped gradient entry is <= 1e-9, so an Adam step is at most
  # lr * 1e-9 / (1e-9 + eps=1e-7) ~ lr / 100 (unclipped: ~lr per entry).
  moved = max_difference(run.history[-1].weights, run.initial.weights)
  assert 0. < moved < 0.05 * learning_rate
  # The logged norm is the gradient's, before clipping.
  grad_norm = read_events(workdir / "train")["grad_norm"]
  assert float(grad_norm[2]) > 1e3 * clip


def test_learning_rate_schedule():
  config = TrainConfig(learning_rate=0.1, warmup_steps=4)
  rates = [float(train_lib.learning_rate_at(config, tf.constant(step,
                                                                tf.int64)))
           for step in range(6)]
  np.testing.assert_allclose(rates, [0.025, 0.05, 0.075, 0.1, 0.1, 0.1],
                             rtol=1e-6)
  constant = TrainConfig(learning_rate=0.1)
  assert float(train_lib.learning_rate_at(constant, 7)) == pytest.approx(0.1)
