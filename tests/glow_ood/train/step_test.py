"""Tests of `glow_ood.train.step`: two replicas vs one device, non-finite steps, clipping, schedule.

Two-replica tests use the two logical CPUs of tests/conftest.py; the `runs`
fixture records every state of a run (tests/glow_ood/train/recording.py).
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from glow_ood import train as train_lib
from glow_ood.configs import TrainConfig
from tests.glow_ood.train.recording import ONE_CPU
from tests.glow_ood.train.recording import TWO_CPUS
from tests.glow_ood.train.recording import assert_all_close
from tests.glow_ood.train.recording import assert_finite_checkpoint
from tests.glow_ood.train.recording import checkpoint_paths
from tests.glow_ood.train.recording import checkpoint_tensors
from tests.glow_ood.train.recording import max_difference
from tests.glow_ood.train.recording import needs_two_cpus
from tests.glow_ood.train.recording import read_events
from tests.glow_ood.train.recording import tiny_config
from tests.glow_ood.train.recording import training_state


@pytest.mark.slow
@needs_two_cpus
def test_mirrored_matches_one_device(toy_dir, tmp_path, runs):
  # float32: the test is about how replicas share a step, to 1e-4; bfloat16
  # sums in another order per replica split (its own test:
  # bfloat16_tracking_test.py).
  config = tiny_config(toy_dir, train_steps=3, ema_decay=0.9,
                       warmup_steps=2, mixed_precision="none")
  variants = {"one": dict(strategy="one_device", devices=ONE_CPU),
              "two": dict(strategy="mirrored", devices=TWO_CPUS),
              # XLA (one compiled forward/backward per replica) too.
              "two_xla": dict(strategy="mirrored", devices=TWO_CPUS,
                              jit_compile=True)}
  results, checkpoints, events = {}, {}, {}
  for name, changes in variants.items():
    workdir = tmp_path / name
    results[name] = train_lib.train(config.replace(**changes), str(workdir))
    checkpoints[name] = training_state(
        checkpoint_tensors(checkpoint_paths(workdir)[-1]))
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


def test_nonfinite_step_is_skipped(toy_dir, tmp_path, runs):
  config = tiny_config(toy_dir, train_steps=6, nonfinite_loss_steps=(4,),
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
                       nonfinite_loss_steps=tuple(range(3, 21)))
  workdir = tmp_path / "run"
  with pytest.raises(train_lib.TrainingDivergedError,
                     match=r"2 consecutive training steps had a non-finite "
                           r"loss.*the last was step 4.*newest good state is "
                           r".*ckpt-2 \(step 2\), which a re-run resumes "
                           r"from.*learning_rate=0.0003") as info:
    train_lib.train(config, str(workdir))
  assert info.value.checkpoint.endswith("ckpt-2") and info.value.step == 2
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


@pytest.mark.slow
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
