"""Fault injection for tests: a training process that signals itself after a given step.

    GLOW_OOD_SIGNAL_AT_STEP=4:SIGKILL python launch/train.py ...   # dies after step 4
    GLOW_OOD_SIGNAL_AT_STEP=20:SIGSTOP python launch/train.py ...  # hangs after step 20

What the tests of a cluster's lost (SIGKILL) or hung (SIGSTOP) worker need:
the fault on one chosen worker (the variable set in its environment only), at
a fixed step whatever the machine's speed, so that the newest checkpoint and
the step a restart resumes from are known in advance. `glow_ood.train.loop`
calls `at_boundary(step)` at every step boundary, after that boundary's
checkpoint and evaluation and before the workers agree on signals
(`glow_ood.train.preemption`); the signal is sent once, at the first
boundary at or after the step (with `steps_per_call` > 1 a boundary may
fall past it). It is an environment variable, not a flag, so that the run's
own command (and flags.cfg) never repeats it: the restart the tests check is
the same command without it.
"""

import dataclasses
import os
import signal
from typing import Optional

__all__ = ["ENV", "SelfSignal", "from_environment"]

ENV = "GLOW_OOD_SIGNAL_AT_STEP"


@dataclasses.dataclass
class SelfSignal:
  """Sends `signal` to this process at the first step boundary at or after `step`.

  Attributes:
    step: Python `int` >= 1, counted as in the progress lines.
    signal: the `signal.Signals` to send.
  """
  step: int
  signal: signal.Signals
  _sent: bool = False

  def at_boundary(self, step):
    """Called at every step boundary with the step just reached."""
    if not self._sent and step >= self.step:
      self._sent = True
      os.kill(os.getpid(), self.signal)


def from_environment(environ=None) -> Optional[SelfSignal]:
  """The `SelfSignal` that `GLOW_OOD_SIGNAL_AT_STEP=<step>:<SIGNAME>` asks for, else `None`.

  Args:
    environ: mapping to read. Default value: `os.environ`.

  Raises:
    ValueError: a value not of that form (one line, with an example).
  """
  text = (os.environ if environ is None else environ).get(ENV, "").strip()
  if not text:
    return None
  step, _, name = text.partition(":")
  try:
    number = int(step)
    if number < 1:
      raise ValueError(step)
    return SelfSignal(number, signal.Signals[name.strip().upper()])
  except (ValueError, KeyError):
    raise ValueError(
        f"{ENV}={text!r} is not <step>:<signal name> with a step >= 1 (e.g. "
        f"{ENV}=4:SIGKILL, a test's fault injection); unset it.") from None
