"""Catalogue: a training run preempted (SIGTERM) or interrupted (Ctrl-C) through `launch/train.py`.

Each case resumes a copy of the catalogue's finished tiny run (ckpt-2, ckpt-4:
tests/catalogue/runs_test.py) with more steps in a real subprocess and
signals it once step 5 is printed. What the issue promises: exit code
`glow_ood.train.preemption.EXIT_CODE` (75), no traceback, one line
`launch/train.py: Stopped by <signal> at step <s> of <n>: saved
<.../ckpt-s>; resume with the same command: <command>`, the checkpoint of
that step written and every checkpoint before byte-identical, training.json
saying so (`preempted`, the line, that checkpoint); then the command of the
line, run again, resumes at step s and finishes.
The exact-weights comparison with an uninterrupted run:
tests/launch/train_preemption_test.py and tests/glow_ood/train/preemption_test.py.
"""

import re
import shlex
import signal

import pytest

from glow_ood.train import preemption
from tests.catalogue import harness
from tests.catalogue.runs_test import TRAIN
from tests.catalogue.runs_test import Context
from tests.catalogue.runs_test import finished  # pylint: disable=unused-import
from tests.launch import in_process
from tests.launch import train_preemption_test

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow

STEPS = 400          # long enough that the signal lands before the end
SIGNAL_AFTER = 5     # the progress line that triggers the signal
LINE = re.compile(rf"^launch/train\.py: Stopped by (SIG\w+) at step (\d+) of "
                  rf"{STEPS}: saved (\S+); resume with the same command: (.+)$")


def _signalled(c, signals):
  """`(exit code, stdout, stderr)` of the resumed run, signalled after step 5."""
  return train_preemption_test.interrupt(
      [TRAIN, f"--flagfile={c.workdir / 'flags.cfg'}", f"--workdir={c.workdir}",
       f"--train_steps={STEPS}", "--log_every=1"], SIGNAL_AFTER, STEPS, signals)


def _stopped_saved_and_resumed(c, signals):
  kept = c.checkpoint_files(2) | c.checkpoint_files(4)
  code, stdout, stderr = _signalled(c, signals)
  assert code == preemption.EXIT_CODE, stderr[-3000:]
  assert "Traceback" not in stderr, stderr[-3000:]
  matches = [m for m in map(LINE.match, stderr.splitlines()) if m]
  assert len(matches) == 1, stderr[-3000:]
  name, step, checkpoint, command = matches[0].groups()
  step = int(step)
  assert name == signal.Signals(signals[0]).name
  assert SIGNAL_AFTER <= step < STEPS and "eval at step" not in stdout
  assert checkpoint == str(c.checkpoints / f"ckpt-{step}")
  assert sorted(c.checkpoint_files(step)) == [f"ckpt-{step}.data-00000-of-00001",
                                              f"ckpt-{step}.index"]
  assert c.checkpoint_files(2) | c.checkpoint_files(4) == kept
  # training.json: the line, with the library's words for the command.
  harness.assert_stop_recorded(
      c.workdir, "preempted", step, matches[0].group(0).split(": ", 1)[1]
      .replace(command, "train(config, workdir)"), checkpoint)
  # The line's command resumes there and finishes.
  args = shlex.split(command)
  assert args[:2] == ["python", TRAIN]
  result = in_process.run(*args[1:])
  assert result.returncode == 0, result.stderr[-3000:]
  assert f"at step {step}." in result.stdout
  assert f"step {STEPS}/{STEPS}" in result.stdout


def sigterm_while_training(c):
  _stopped_saved_and_resumed(c, (signal.SIGTERM,))


def ctrl_c_twice_while_training(c):
  # The second Ctrl-C comes while the first one's stop is under way: ignored.
  _stopped_saved_and_resumed(c, (signal.SIGINT, signal.SIGINT))


CASES = [pytest.param(case, id=case.__name__.replace("_", "-")) for case in (
    sigterm_while_training, ctrl_c_twice_while_training)]


@pytest.mark.parametrize("case", CASES)
def test_case(case, finished, tmp_path):  # pylint: disable=redefined-outer-name
  case(Context(finished, tmp_path))
