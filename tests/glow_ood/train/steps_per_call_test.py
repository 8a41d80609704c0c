"""Several training steps per compiled call (`TrainConfig.steps_per_call`).

A call of `Trainer.train_steps(iterator, k)` runs `k` steps in one
`tf.while_loop`; it must be the same training as `k` calls of one step, and
`train` must cut calls at the logging / checkpoint intervals so that what it
logs and saves does not depend on `steps_per_call`. (No `runs` fixture here:
its `RecordingRun` runs one step per call.)
"""

import json

import numpy as np
import pytest

from glow_ood import data
from glow_ood import train as train_lib
from glow_ood.train import distribution
from glow_ood.train import step as step_lib
from tests.glow_ood.train.recording import checkpoint_paths
from tests.glow_ood.train.recording import checkpoint_tensors
from tests.glow_ood.train.recording import max_difference
from tests.glow_ood.train.recording import read_events
from tests.glow_ood.train.recording import resolved
from tests.glow_ood.train.recording import stepper
from tests.glow_ood.train.recording import tiny_config
from tests.glow_ood.train.recording import training_state

TOLERANCE = 1e-6
SUMMED = ("bits_per_dim", "log_prob_z", "log_det")
LAST = ("loss", "grad_norm", "learning_rate")


@pytest.fixture
def call_sizes(monkeypatch):
  """`num_steps` of each `Trainer.train_steps` call (the real one runs)."""
  sizes = []
  real = step_lib.Trainer.train_steps

  def spy(self, iterator, num_steps):
    sizes.append(num_steps)
    return real(self, iterator, num_steps)

  monkeypatch.setattr(step_lib.Trainer, "train_steps", spy)
  return sizes


def test_train_is_the_same_with_several_steps_per_call(toy_dir, tmp_path,
                                                       call_sizes):
  # 9 steps, logs at 5 and 9, checkpoints at 6 and 9 (the end).
  config = tiny_config(toy_dir, train_steps=9, log_every=5,
                       checkpoint_every=6)
  results, sizes, checkpoints, events, saved = {}, {}, {}, {}, {}
  for steps_per_call in (1, 4):
    workdir = tmp_path / f"steps_per_call_{steps_per_call}"
    del call_sizes[:]
    results[steps_per_call] = train_lib.train(
        config.replace(steps_per_call=steps_per_call), str(workdir))
    sizes[steps_per_call] = list(call_sizes)
    checkpoints[steps_per_call] = checkpoint_paths(workdir)
    events[steps_per_call] = read_events(workdir / "train")
    with open(workdir / "results.json") as f:
      saved[steps_per_call] = json.load(f)

  # Calls of up to 4 steps, cut at the log (5) and checkpoint (6) steps.
  assert sizes == {1: [1] * 9, 4: [4, 1, 1, 3]}
  names = {k: [p.rsplit("/", 1)[1] for p in v] for k, v in checkpoints.items()}
  assert names[1] == names[4] == ["ckpt-6", "ckpt-9"]
  for one, four in zip(checkpoints[1], checkpoints[4]):
    expected, actual = (training_state(checkpoint_tensors(p))
                        for p in (one, four))
    assert sorted(actual) == sorted(expected)
    for key, value in expected.items():
      np.testing.assert_allclose(actual[key], value, rtol=TOLERANCE,
                                 atol=TOLERANCE, err_msg=f"{four} {key}")
  # The state did move between the two checkpoints.
  first, last = (checkpoint_tensors(p) for p in checkpoints[4])
  floats = sorted(k for k, v in last.items()
                  if np.issubdtype(np.asarray(v).dtype, np.floating))
  assert len(floats) > 10
  assert max_difference([last[k] for k in floats],
                        [first[k] for k in floats]) > 1e-4
  assert saved[1]["step"] == saved[4]["step"] == 9
  assert saved[1]["skipped_steps"] == saved[4]["skipped_steps"] == 0
  assert sorted(results[4]) == sorted(results[1]) == ["toy/test", "toy/train"]
  for name, value in results[1].items():
    assert np.isfinite(value)
    assert results[4][name] == pytest.approx(value, rel=TOLERANCE)
    assert saved[4]["bits_per_dim"][name] == pytest.approx(
        saved[1]["bits_per_dim"][name], rel=TOLERANCE)
  # The same train scalars at the same logged steps.
  for tag in SUMMED + ("learning_rate", "grad_norm", "skipped_steps"):
    assert sorted(events[1][tag]) == sorted(events[4][tag]) == [5, 9], tag
    for step in (5, 9):
      assert float(events[4][tag][step]) == pytest.approx(
          float(events[1][tag][step]), rel=TOLERANCE, abs=TOLERANCE), (
              tag, step)
  assert sorted(events[4]["images_per_second"]) == [5, 9]


def _state(config, workdir):
  config = resolved(config)   # in the default precision, as `train` runs it
  strategy = distribution.make_strategy(config.strategy, config.devices)
  images = data.load_images(config.data, "train")
  run = train_lib.TrainState(config, str(workdir), strategy, images)
  assert run.initialize_or_restore(run.find_checkpoint())
  return run


def _numpy(metrics):
  return {name: np.asarray(value) for name, value in metrics.items()}


def test_train_steps_equals_single_steps(toy_dir, tmp_path):
  config = tiny_config(toy_dir, ema_decay=0.9)
  run = _state(config, tmp_path / "run")
  # Both start from the initialized state: saved now, restored (with a new
  # iterator at its step) before the single steps.
  initial = [v.numpy() for v in run.checkpoint_variables()]
  run.save(0)

  steps = stepper(run)
  calls = [_numpy(steps(3)) for _ in range(2)]
  after_calls = [v.numpy() for v in run.checkpoint_variables()]
  assert int(run.step.numpy()) == 6
  assert int(run.optimizer.iterations.numpy()) == 6

  assert not run.initialize_or_restore(run.find_checkpoint())
  assert int(run.step.numpy()) == 0
  for value, variable in zip(initial, run.checkpoint_variables()):
    np.testing.assert_array_equal(variable.numpy(), value)
  single = stepper(run)   # a new iterator, at the restored step
  steps = [_numpy(single()) for _ in range(6)]
  assert all(bool(s["applied"]) for s in steps)
  # The loss did change over the steps (the sums are not of one value).
  assert len({float(s["loss"]) for s in steps}) == 6

  for call, metrics in enumerate(calls):
    assert int(metrics["applied"]) == 3, call
    window = steps[3 * call:3 * call + 3]
    for name in SUMMED:   # sums over the call's steps
      np.testing.assert_allclose(
          metrics[name], sum(float(s[name]) for s in window),
          rtol=TOLERANCE, err_msg=f"call {call} {name}")
    for name in LAST:   # those of the call's last step
      np.testing.assert_allclose(metrics[name], window[-1][name],
                                 rtol=TOLERANCE, err_msg=f"call {call} {name}")
  assert int(run.num_skipped.numpy()) == 0
  # The same state after 2 calls of 3 steps as after 6 single steps.
  assert max_difference(after_calls, initial) > 1e-4
  for value, variable in zip(after_calls, run.checkpoint_variables()):
    np.testing.assert_allclose(variable.numpy(), value, rtol=TOLERANCE,
                               atol=TOLERANCE, err_msg=variable.name)


def test_a_skipped_step_does_not_poison_the_sums_of_its_call(toy_dir,
                                                             tmp_path):
  config = tiny_config(toy_dir, nonfinite_loss_steps=(2,))
  run = _state(config, tmp_path / "run")
  metrics = _numpy(stepper(run)(3))
  assert int(metrics["applied"]) == 2
  assert int(run.num_skipped.numpy()) == 1
  assert int(run.consecutive_skips.numpy()) == 0
  for name in SUMMED:   # over the 2 applied steps only
    assert np.isfinite(metrics[name]), name
