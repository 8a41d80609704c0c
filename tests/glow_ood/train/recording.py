"""Looking inside training runs, for the tests of `glow_ood.train`.

`RecordingRun` replaces `TrainState` and `RecordingTrainer` its `Trainer`
(see the `runs` fixture in conftest.py): they record the state after the
restore / ActNorm initialization and after every step; the other helpers read a run folder's events and checkpoints.
"""

import os
from typing import List, NamedTuple

import numpy as np
import pytest
import tensorflow as tf

from glow_ood import data
from glow_ood import train as train_lib
from glow_ood.train import precision
from tests import shared_data
from tests.toy_data import tiny_train_config


DATA_DIR = data.default_data_dir()


IMAGE_SHAPE = (8, 8, 1)


NUM_DIMS = 8 * 8 * 1


ONE_CPU = ("/cpu:0",)


TWO_CPUS = ("/cpu:0", "/cpu:1")


needs_two_cpus = pytest.mark.skipif(
    len(tf.config.list_logical_devices("CPU")) < 2,
    reason="needs the 2 logical CPU devices that tests/conftest.py configures "
           "(the TF runtime was initialized before it ran)")


needs_notmnist = shared_data.needs("notmnist_train.npz", "notmnist_test.npz")


def tiny_config(data_dir, **overrides):
  """The shared tiny run (tests/toy_data.py), learning at 3e-3, logging every step."""
  return tiny_train_config(data_dir, **overrides)


def resolved(config):
  """`config` with `mixed_precision` as `train` resolves it on `config.devices`
  (`TrainState` takes resolved configs only)."""
  return precision.resolve_config(config, config.devices)[0]


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


def record_state(run, applied=True, loss=float("nan")):
  numpy = lambda variables: [v.numpy() for v in variables]
  return State(
      step=int(run.step.numpy()), applied=applied, loss=loss,
      weights=numpy(run.model.trainable_variables),
      model=numpy(run.model.variables),
      first_moments=numpy(run.optimizer.first_moments),
      second_moments=numpy(run.optimizer.second_moments),
      iterations=int(run.optimizer.iterations.numpy()),
      ema=numpy(run.ema.shadows) if run.ema is not None else [])


class RecordingRun(train_lib.TrainState):
  """`TrainState` that keeps `State`s: `initial` (after restore / init), and
  `history` (after each step of its `RecordingTrainer`)."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.initial = None
    self.history = []

  def initialize_or_restore(self, found, *args, **kwargs):
    result = super().initialize_or_restore(found, *args, **kwargs)
    self.initial = record_state(self)
    return result


class RecordingTrainer(train_lib.Trainer):
  """`Trainer` of a `RecordingRun` that records its state after every step."""

  def train_steps(self, iterator, num_steps):
    # One step per call, so that every step's state is recorded.
    total = {}
    for _ in range(num_steps):
      metrics = super().train_steps(iterator, 1)
      self.state.history.append(record_state(
          self.state, applied=bool(metrics["applied"]),
          loss=float(metrics["loss"])))
      for name in ("bits_per_dim", "log_prob_z", "log_det", "applied"):
        total[name] = total.get(name, 0) + metrics[name].numpy()
      total.update({name: metrics[name].numpy()
                    for name in ("loss", "grad_norm", "learning_rate")})
    return total


def stepper(run):
  """Steps `run` (a restored or initialized `TrainState`) as `train` does:
  `steps(k)` runs `k` steps (default 1) of one `Trainer` on one input
  iterator made at the run's step (`glow_ood.train.inputs`)."""
  trainer = train_lib.Trainer(run)
  iterator = train_lib.inputs.make_iterator(run)
  return lambda num_steps=1: trainer.train_steps(iterator, num_steps)


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


# The one checkpoint value that is no training state: the wall time of the
# run (glow_ood.train.clock), which two runs of the same training differ in.
WALL_TIME_KEY = "train_seconds/.ATTRIBUTES/VARIABLE_VALUE"


def training_state(tensors):
  """`checkpoint_tensors(...)` without the wall time, to compare two runs."""
  return {k: v for k, v in tensors.items() if k != WALL_TIME_KEY}


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
