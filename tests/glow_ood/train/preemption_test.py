"""Tests of `glow_ood.train.preemption`: signals recorded, agreed on, and what `train` does with them.

The watcher is tested alone (real signals sent to this process, a fake
`agree` for the workers of a cluster); `train` on the toy data (tests/toy_data.py)
gets a real SIGTERM or SIGINT from inside its step call, at a fixed step, and
must save there, stop, and resume to the weights of an uninterrupted run.
The launcher's line and exit code: tests/launch/train_preemption_test.py.
"""

import json
import os
import signal
import threading

import numpy as np
import pytest

from glow_ood import train as train_lib
from glow_ood.train import preemption
from tests.glow_ood.train.recording import checkpoint_tensors
from tests.glow_ood.train.recording import tiny_config
from tests.glow_ood.train.recording import training_state


def _watching(watcher):
  """Whether `watcher`'s handler is SIGTERM's and SIGINT's (so that sending
  them cannot end or interrupt the test process)."""
  return all(getattr(signal.getsignal(s), "__self__", None) is watcher
             for s in preemption.SIGNALS)


def test_signals_are_recorded_not_acted_on_and_the_handlers_put_back():
  before = {s: signal.getsignal(s) for s in preemption.SIGNALS}
  with preemption.SignalWatcher() as watcher:
    assert watcher.check() is None and watcher.received() is None
    assert watcher.start()
    assert _watching(watcher)
    os.kill(os.getpid(), signal.SIGTERM)
    assert watcher.received() == "SIGTERM"
    # Repeated signals while stopping are ignored: no KeyboardInterrupt.
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGTERM)
    assert watcher.ignored == 2 and watcher.received() == "SIGTERM"
    assert watcher.check() == preemption.Request("SIGTERM", here=True)
  assert {s: signal.getsignal(s) for s in preemption.SIGNALS} == before


def test_every_worker_takes_part_and_learns_of_another_workers_signal():
  offered = []

  def agree(number):   # the cluster's largest: another worker got SIGTERM
    offered.append(number)
    return max(number, signal.SIGTERM)

  with preemption.SignalWatcher() as watcher:
    watcher.start()
    request = watcher.check(agree)
    assert request == preemption.Request("SIGTERM", here=False)
    assert "on another worker of the cluster" in request.describe()
    assert _watching(watcher)
    os.kill(os.getpid(), signal.SIGINT)
    assert watcher.check(agree) == preemption.Request("SIGTERM", here=False)
    # No signal anywhere: still one exchange per boundary.
    assert preemption.SignalWatcher().check(lambda n: offered.append(n) or 0) is None
  assert offered == [0, int(signal.SIGINT), 0]


def test_release_passes_a_signal_it_did_not_act_on_to_the_previous_handler():
  seen = []
  previous = signal.signal(signal.SIGTERM, lambda number, _: seen.append(number))
  try:
    with preemption.SignalWatcher() as watcher:
      watcher.start()
      assert _watching(watcher)
      os.kill(os.getpid(), signal.SIGTERM)
      assert not seen
      watcher.release()
      assert seen == [signal.SIGTERM]
    assert seen == [signal.SIGTERM]   # once
  finally:
    signal.signal(signal.SIGTERM, previous)


def test_off_the_main_thread_nothing_is_installed_but_it_still_agrees():
  before = signal.getsignal(signal.SIGTERM)
  results = []

  def run():
    with preemption.SignalWatcher() as watcher:
      results.append(watcher.start())
      results.append(watcher.check(lambda n: signal.SIGINT))

  thread = threading.Thread(target=run)
  thread.start()
  thread.join()
  assert results == [False, preemption.Request("SIGINT", here=False)]
  assert signal.getsignal(signal.SIGTERM) == before


def test_the_error_is_one_line_naming_the_checkpoint_and_the_command():
  error = preemption.TrainingPreemptedError(
      preemption.Request("SIGTERM", here=True), 30, 6000,
      "runs/x/checkpoints/ckpt-30")
  line = error.describe("python launch/train.py --workdir=runs/x")
  assert line == ("Stopped by SIGTERM at step 30 of 6000: saved "
                  "runs/x/checkpoints/ckpt-30; resume with the same command: "
                  "python launch/train.py --workdir=runs/x")
  assert "\n" not in str(error) and "train(config, workdir)" in str(error)
  assert preemption.EXIT_CODE not in (0, 1, 2) and preemption.EXIT_CODE < 128


def _signalling(monkeypatch, signal_number, at_step, repeat_during_save):
  """Makes `train` send itself `signal_number` while it runs step `at_step`
  (before the call of its `Trainer` that holds it) and, if
  `repeat_during_save`, SIGTERM and SIGINT again while its `TrainState`
  writes the next checkpoint."""
  sent = []

  class SignallingTrainer(train_lib.Trainer):

    def train_steps(self, iterator, num_steps):
      first = int(self.state.step.numpy()) + 1
      if not sent and first <= at_step < first + num_steps:
        handler = signal.getsignal(signal_number)
        assert isinstance(getattr(handler, "__self__", None),
                          preemption.SignalWatcher), handler
        os.kill(os.getpid(), signal_number)
        sent.append(signal_number)
      return super().train_steps(iterator, num_steps)

  class SignallingState(train_lib.TrainState):

    def save(self, step):
      if sent and repeat_during_save:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
      return super().save(step)

  monkeypatch.setattr(train_lib.step, "Trainer", SignallingTrainer)
  monkeypatch.setattr(train_lib.state, "TrainState", SignallingState)


@pytest.mark.parametrize("signal_number, steps_per_call, stop_step", [
    (signal.SIGTERM, 1, 3),
    # Several steps per call: the boundary is the end of the call (3-4).
    (signal.SIGINT, 2, 4),
])
def test_a_signal_saves_at_the_next_boundary_and_the_resume_is_exact(
    toy_dir, tmp_path, monkeypatch, signal_number, steps_per_call, stop_step):
  config = tiny_config(toy_dir, train_steps=6, warmup_steps=4, ema_decay=0.8,
                       learning_rate=1e-2, steps_per_call=steps_per_call,
                       log_every=2, checkpoint_every=1000)
  handlers = {s: signal.getsignal(s) for s in preemption.SIGNALS}
  workdir, full_dir = tmp_path / "preempted", tmp_path / "full"
  _signalling(monkeypatch, signal_number, at_step=3, repeat_during_save=True)
  with pytest.raises(train_lib.TrainingPreemptedError) as info:
    train_lib.train(config, str(workdir))
  error = info.value
  name = signal.Signals(signal_number).name
  assert error.request == preemption.Request(name, here=True)
  assert (error.step, error.train_steps) == (stop_step, 6)
  assert error.checkpoint == str(workdir / "checkpoints" / f"ckpt-{stop_step}")
  assert str(error).startswith(f"Stopped by {name} at step {stop_step} of 6")
  assert {s: signal.getsignal(s) for s in preemption.SIGNALS} == handlers
  # The state of the stop step is saved (whole: it loads), nothing after it;
  # no final evaluation; training.json says why it ended.
  saved = checkpoint_tensors(error.checkpoint)
  assert int(saved["step/.ATTRIBUTES/VARIABLE_VALUE"]) == stop_step
  assert sorted(os.listdir(workdir / "checkpoints")) == [
      "checkpoint", f"ckpt-{stop_step}.data-00000-of-00001",
      f"ckpt-{stop_step}.index"]
  assert not (workdir / "results.json").exists()
  record = json.loads((workdir / "training.json").read_text())
  assert (record["stop_reason"], record["step"]) == ("preempted", stop_step)
  assert record["message"] == str(error) and record["final_bits_per_dim"] is None

  # Re-running resumes there and ends with an uninterrupted run's weights.
  monkeypatch.setattr(train_lib.step, "Trainer", train_lib.Trainer)
  monkeypatch.setattr(train_lib.state, "TrainState", train_lib.TrainState)
  resumed = train_lib.train(config, str(workdir))
  full = train_lib.train(config, str(full_dir))
  assert resumed == full
  final = training_state(checkpoint_tensors(str(workdir / "checkpoints" /
                                                "ckpt-6")))
  expected = training_state(checkpoint_tensors(str(full_dir / "checkpoints" /
                                                   "ckpt-6")))
  assert sorted(final) == sorted(expected)
  # Bit for bit; `save_counter` counts the saves (one more here).
  for key, value in expected.items():
    if key.startswith("save_counter/"):
      continue
    np.testing.assert_array_equal(final[key], value, err_msg=key)
  # ... which is a real check: the steps after the stop moved the weights.
  # (The model's weights are saved once, under the EMA that tracks them.)
  weights = [k for k in expected if k.startswith("ema/_variables/")]
  assert weights and all(not np.array_equal(saved[k], final[k])
                         for k in weights)
