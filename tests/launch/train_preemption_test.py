"""`launch/train.py` preempted: SIGTERM or Ctrl-C, one line, exit 75, and an exact resume.

A real `python launch/train.py` with the smoke flagfile (long enough to be
caught, no checkpoint interval in reach) gets the signal once a fixed step
shows up in its output; it must save at the next step boundary, say so in
one line with the command that resumes, and exit with
`glow_ood.train.preemption.EXIT_CODE`. That command, run again, must end
with the weights of an uninterrupted run of the same flags, bit for bit.
Two workers of a cluster: tests/launch/train_multi_worker_test.py.
"""

import os
import re
import shlex
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from glow_ood.train import preemption
from tests import REPO
from tests.launch.train_test import DATA_DIR
from tests.launch.train_test import needs_data

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = [pytest.mark.slow, needs_data]

# Long enough (seconds) for the signal to land well before the end.
TRAIN_STEPS = 500
SIGNAL_AFTER = 2   # the step whose progress line triggers the signal
FLAGS = ("--flagfile=launch/flagfiles/smoke.cfg", f"--data_dir={DATA_DIR}",
         f"--train_steps={TRAIN_STEPS}", "--log_every=1",
         "--checkpoint_every=1000", "--eval_num_examples=32",
         "--num_samples=0")
LINE = re.compile(r"^launch/train\.py: Stopped by (?P<signal>SIG\w+)"
                  r"(?P<elsewhere> on another worker of the cluster)? at step "
                  rf"(?P<step>\d+) of {TRAIN_STEPS}: saved (?P<checkpoint>\S+); "
                  r"resume with the same command: (?P<command>.+)$")


def _command(workdir):
  return ["launch/train.py", *FLAGS, f"--workdir={workdir}"]


def _run(args):
  return subprocess.run([sys.executable, *args], cwd=REPO,
                        capture_output=True, text=True, timeout=900,
                        check=False)


def signal_at_step(process, step, train_steps, signals):
  """Reads `process`'s stdout up to the progress line `step {step}/{train_steps}`,
  then sends it `signals`; returns the lines read."""
  seen = []
  for line in process.stdout:
    seen.append(line)
    if re.match(rf"step +{step}/{train_steps} ", line):
      for number in signals:
        process.send_signal(number)
      break
  return "".join(seen)


def interrupt(args, step, train_steps, signals):
  """`(exit code, stdout, stderr)` of `python *args` (in the repository),
  sent `signals` once it prints the progress line of `step`."""
  process = subprocess.Popen([sys.executable, *args], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
  try:
    seen = signal_at_step(process, step, train_steps, signals)
    stdout, stderr = process.communicate(timeout=600)
  finally:
    if process.poll() is None:
      process.kill()
  return process.returncode, seen + stdout, stderr


def _weights(checkpoint):
  """Every tensor of `checkpoint` but the wall time and the save count."""
  reader = tf.train.load_checkpoint(checkpoint)
  return {key: reader.get_tensor(key)
          for key in reader.get_variable_to_shape_map()
          if not key.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH",
                                 "train_seconds/", "save_counter/"))}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
  """The final checkpoint of the same command, never interrupted."""
  workdir = tmp_path_factory.mktemp("uninterrupted") / "run"
  result = _run(_command(workdir))
  assert result.returncode == 0, result.stderr[-3000:]
  return _weights(str(workdir / "checkpoints" / f"ckpt-{TRAIN_STEPS}"))


@pytest.mark.parametrize("signals", [
    (signal.SIGTERM,),
    # Ctrl-C twice: the second one, while stopping, is ignored.
    (signal.SIGINT, signal.SIGINT),
], ids=["sigterm", "sigint-twice"])
def test_a_signal_saves_says_one_line_exits_75_and_the_resume_is_exact(
    tmp_path, uninterrupted, signals):
  workdir = tmp_path / "run"
  code, stdout, stderr = interrupt(_command(workdir), SIGNAL_AFTER,
                                   TRAIN_STEPS, signals)
  assert code == preemption.EXIT_CODE, (stdout[-2000:], stderr[-3000:])
  assert "Traceback" not in stderr, stderr[-3000:]
  lines = [line for line in stderr.splitlines() if LINE.match(line)]
  assert len(lines) == 1, stderr[-3000:]
  assert "Stopped by SIG" not in stdout and stderr.count("Stopped by SIG") == 1
  match = LINE.match(lines[0])
  name, step = match["signal"], int(match["step"])
  checkpoint, command = match["checkpoint"], match["command"]
  assert match["elsewhere"] is None
  assert name == signal.Signals(signals[0]).name
  assert SIGNAL_AFTER <= step < TRAIN_STEPS
  # The checkpoint named, at the step named, and no other; no final evaluation.
  assert checkpoint == str(workdir / "checkpoints" / f"ckpt-{step}")
  assert sorted(os.listdir(workdir / "checkpoints")) == [
      "checkpoint", f"ckpt-{step}.data-00000-of-00001", f"ckpt-{step}.index"]
  assert int(tf.train.load_checkpoint(checkpoint).get_tensor(
      "step/.ATTRIBUTES/VARIABLE_VALUE")) == step
  assert not (workdir / "results.json").exists()
  assert "eval at step" not in stdout
  # The command named is the one that ran.
  assert shlex.split(command) == ["python", *_command(workdir)]

  resumed = _run(shlex.split(command)[1:])
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f"Resumed from {checkpoint} at step {step}." in resumed.stdout
  assert f"step {TRAIN_STEPS}/{TRAIN_STEPS}" in resumed.stdout
  final = _weights(str(workdir / "checkpoints" / f"ckpt-{TRAIN_STEPS}"))
  assert sorted(final) == sorted(uninterrupted)
  for key, value in uninterrupted.items():
    np.testing.assert_array_equal(final[key], value, err_msg=key)


MULTI_WORKER_STEPS = 100


def _worker_lines(outputs):
  """The `LINE` match of each worker's one stop line (exit 75, no traceback)."""
  pattern = re.compile(LINE.pattern.replace(str(TRAIN_STEPS),
                                            str(MULTI_WORKER_STEPS)))
  found = []
  for code, _, stderr in outputs:
    assert code == preemption.EXIT_CODE, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    matches = [m for m in map(pattern.match, stderr.splitlines()) if m]
    assert len(matches) == 1, stderr[-3000:]
    found.append(matches[0])
  return found


def test_sigterm_to_one_worker_stops_every_worker_at_the_same_step(tmp_path):
  """Two workers on loopback; SIGTERM to worker 1 only."""
  # pylint: disable=g-import-not-at-top
  from tests.launch.train_multi_worker_test import finish
  from tests.launch.train_multi_worker_test import start_workers
  extra = (f"--train_steps={MULTI_WORKER_STEPS}", "--log_every=1",
           "--checkpoint_every=1000", "--num_samples=0")
  workdir, temp_dir = tmp_path / "run", tmp_path / "tmp"
  temp_dir.mkdir()
  workers = start_workers(workdir, temp_dir, *extra)
  try:
    signal_at_step(workers[1], SIGNAL_AFTER, MULTI_WORKER_STEPS,
                   (signal.SIGTERM,))
    outputs = finish(workers)
  finally:
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
  chief, worker = _worker_lines(outputs)
  assert chief["signal"] == worker["signal"] == "SIGTERM"
  assert chief["elsewhere"] and not worker["elsewhere"]
  assert chief["step"] == worker["step"], (chief[0], worker[0])
  step = int(chief["step"])
  assert SIGNAL_AFTER <= step < MULTI_WORKER_STEPS
  assert sorted(os.listdir(workdir / "checkpoints")) == [
      "checkpoint", f"ckpt-{step}.data-00000-of-00001", f"ckpt-{step}.index"]
  assert not (workdir / "results.json").exists()
  # The other worker's shards went to a private folder, removed.
  assert not os.listdir(temp_dir)

  # The same commands again resume there, on both, and finish.
  outputs = finish(start_workers(workdir, temp_dir, *extra))
  for code, stdout, stderr in outputs:
    assert code == 0, stderr[-3000:]
    assert f"at step {step}." in stdout and "Resumed from" in stdout
  resumed = _weights(str(workdir / "checkpoints" /
                         f"ckpt-{MULTI_WORKER_STEPS}"))
  # ... to the weights of the same cluster run never interrupted.
  reference_dir = tmp_path / "uninterrupted"
  outputs = finish(start_workers(reference_dir, temp_dir, *extra))
  assert all(code == 0 for code, _, _ in outputs), outputs[0][2][-3000:]
  expected = _weights(str(reference_dir / "checkpoints" /
                          f"ckpt-{MULTI_WORKER_STEPS}"))
  assert sorted(resumed) == sorted(expected)
  for key, value in expected.items():
    np.testing.assert_array_equal(resumed[key], value, err_msg=key)


def test_sigterm_to_an_ensemble_stops_its_member_with_a_checkpoint(tmp_path):
  """SIGTERM to launch/train_ensemble.py reaches the member training now: it
  saves and exits 75, and the ensemble says so and exits 75 too; re-running
  the command resumes that member from its checkpoint."""
  workdir = tmp_path / "ensemble"
  args = ["launch/train_ensemble.py", *FLAGS, f"--workdir={workdir}",
          "--num_members=2"]
  code, stdout, stderr = interrupt(args, SIGNAL_AFTER, TRAIN_STEPS,
                                   [signal.SIGTERM])
  assert code == preemption.EXIT_CODE, stderr[-2000:]
  lines = [LINE.match(line) for line in stderr.splitlines()]
  member = next((match for match in lines if match), None)
  assert member is not None, stderr[-2000:]
  assert "member 0 was stopped by a signal" in stderr, stderr[-2000:]
  assert not (workdir / "member_1").exists()
  step = int(member.group("step"))
  assert os.path.exists(member.group("checkpoint") + ".index")
  # The same command (two more steps for each member, to keep it short).
  resumed = _run([*args, f"--train_steps={step + 2}"])
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert f"ckpt-{step} at step {step}." in resumed.stdout, resumed.stdout[-2000:]
