"""Preemption: SIGTERM or SIGINT (Ctrl-C) ends training at a step boundary, with a checkpoint.

    with SignalWatcher() as watcher:        # train(): restores the handlers on exit
      watcher.start()                       # before the first step
      ...                                   # a call of the step
      if watcher.check(agree):              # at every step boundary, every worker
        ...                                 # save ckpt-<step>, then
        raise TrainingPreemptedError(...)   # launch/train.py: one line, EXIT_CODE

What a scheduler does to a job it preempts (Slurm, Kubernetes, GCE: SIGTERM,
then SIGKILL after a grace period) and what Ctrl-C does. While training,
`SignalWatcher`'s handler only records the signal; the training loop
(`glow_ood.train.loop`) looks at the record at the next step boundary, which
is the end of the current call of the compiled step: with
`steps_per_call=k` up to `k` steps after the signal (and after an
evaluation or a checkpoint that was running). There it stops, saves the
state as `ckpt-<step>` (health-checked like every save; nothing is saved
twice if that step was just checkpointed), writes `training.json` with
`stop_reason="preempted"`, skips the final evaluation and raises
`TrainingPreemptedError`; `launch/train.py` prints its one line, which names
the checkpoint and the command that resumes (the same command line), and
exits with `EXIT_CODE`. Re-running resumes from that checkpoint exactly as
from any other (model, optimizer, EMA, counters, the input position keyed by
step): the final weights equal an uninterrupted run's.

A second signal while the run is stopping (during the last call, the save,
`training.json`) is recorded and ignored: the save is never interrupted, so
repeating Ctrl-C or a scheduler's repeated SIGTERM cannot leave a
half-written state. `kill -9` still ends the process at once; the run then
resumes from its newest complete checkpoint, as after any kill.

Before `start()` (loading data, restoring, ActNorm's init) and after
`release()` (the final evaluation of a run that reached its end, whose last
checkpoint is saved) the signals act as they did before: SIGTERM ends the
process, SIGINT raises `KeyboardInterrupt`; a re-run then resumes, or only
evaluates. A signal that was recorded but not acted on (it came after the
last check) is passed on to those handlers by `release()`, never dropped.

Under `multi_worker_mirrored` a signal usually reaches one worker, yet every
worker must stop, and save, at the same step, or the others wait forever in
the next collective. `check(agree)` is called at every step boundary on
every worker, whether or not a signal came, and exchanges one number (the
largest signal number of any worker, 0 for none: `agree`, a one-number
collective, `glow_ood.train.distribution.max_over_workers`): all workers
see the same answer at the same boundary, so all stop at the same step, and
since every worker makes the same collective calls in the same order
(whether or not a signal came, and the signal handler makes none), this
cannot deadlock. (A worker that dies instead is the lost-worker case: the
others' next collective fails.) It costs one scalar collective per call of
the step (none on one host). TF's `tf.distribute.experimental.PreemptionCheckpointHandler`
coordinates through the cluster's coordination service instead; it is not
used because it restores from and saves to its own `CheckpointManager`
(numbered by calls, trusting the state file), which would bypass the run
folder's checkpoints (`ckpt-<step>`, found from their own files and
health-checked: `glow_ood.runs.checkpoints`, `glow_ood.train.health`), and it
handles only multi-worker strategies.
"""

import dataclasses
import signal
import threading
from typing import Optional

__all__ = ["EXIT_CODE", "SIGNALS", "Request", "SignalWatcher",
           "TrainingPreemptedError"]

# The exit code of `launch/train.py` after a preemption: EX_TEMPFAIL of
# sysexits.h, "a temporary failure; the user is invited to retry". Not 0 (the
# run is not finished), not 1 (a user error or a divergence), not 128 + n
# (killed by signal n without a checkpoint).
EXIT_CODE = 75

# The signals that stop training at the next step boundary.
SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclasses.dataclass(frozen=True)
class Request:
  """A stop the workers agreed on: the signal's name, and whether it came here.

  Attributes:
    signal_name: e.g. `"SIGTERM"`; with several, the largest number of any
      worker's (SIGTERM 15 over SIGINT 2).
    here: whether this process received it (`False`: another worker of the
      cluster did).
  """
  signal_name: str
  here: bool

  def describe(self):
    """`"by SIGTERM"`, or `"by SIGTERM on another worker of the cluster"`."""
    where = "" if self.here else " on another worker of the cluster"
    return f"by {self.signal_name}{where}"


class SignalWatcher:
  """Records SIGTERM / SIGINT while training instead of letting them end the process.

  A context manager: on exit it puts back the handlers `start()` replaced
  (see the module docstring for what happens when).

  Args:
    signals: the signals to watch. Default value: `SIGNALS` (SIGTERM, SIGINT).
  """

  def __init__(self, signals=SIGNALS):
    self._signals = tuple(signals)
    self._previous = {}      # signal number -> its handler before `start()`
    self._received = None    # number of the first signal received
    self.ignored = 0         # signals received after the first

  def start(self):
    """Installs the handlers (from here on the signals are only recorded).

    Returns whether it could: Python takes signal handlers in the main thread
    only; elsewhere nothing changes and `check` still takes part in the
    agreement of the workers (reporting no signal of its own).
    """
    if threading.current_thread() is not threading.main_thread():
      return False
    for number in self._signals:
      if number not in self._previous:
        self._previous[number] = signal.signal(number, self._handle)
    return True

  def _handle(self, number, frame):
    del frame
    if self._received is None:
      self._received = number
    else:   # already stopping: never interrupt the save
      self.ignored += 1

  def received(self):
    """The name of the first signal this process received, or `None`."""
    return None if self._received is None else signal.Signals(
        self._received).name

  def check(self, agree=None):
    """A `Request` if this or (with `agree`) any worker received a signal, else `None`.

    Args:
      agree: `number -> the largest number of all workers`, or `None` on one
        host. Under a multi-worker strategy every worker must call `check`
        at the same step boundaries (the loop calls it at every one).
    """
    own = self._received or 0
    agreed = own if agree is None else int(agree(own))
    if not agreed:
      return None
    return Request(signal.Signals(agreed).name, here=own == agreed)

  def release(self, deliver=True):
    """Puts the previous handlers back (once; later calls do nothing).

    Args:
      deliver: if a signal was received, raise it again under the previous
        handler (SIGTERM's default ends the process, SIGINT's raises
        `KeyboardInterrupt`): what `release()` does when training went on to
        its end after the last check. `__exit__` passes `False`: the signal
        has been acted on (`TrainingPreemptedError`) or an error is on its
        way up.
    """
    previous, self._previous = self._previous, {}
    for number, handler in previous.items():
      signal.signal(number, handler if handler is not None else signal.SIG_DFL)
    if deliver and previous and self._received is not None:
      received, self._received = self._received, None
      signal.raise_signal(received)

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.release(deliver=False)
    return False


class TrainingPreemptedError(Exception):
  """Training stopped on SIGTERM / SIGINT after saving its state; a re-run resumes.

  Attributes:
    request: the `Request` the workers agreed on.
    step: the step the state was saved at.
    train_steps: the run's `train_steps`.
    checkpoint: path of that checkpoint (`.../checkpoints/ckpt-<step>`).
  """

  def __init__(self, request: Request, step: int, train_steps: int,
               checkpoint: Optional[str]):
    self.request, self.step = request, int(step)
    self.train_steps, self.checkpoint = int(train_steps), checkpoint
    super().__init__(self.describe("train(config, workdir)"))

  def describe(self, command):
    """The one line, with `command` as the way to resume."""
    return (f"Stopped {self.request.describe()} at step {self.step} of "
            f"{self.train_steps}: saved {self.checkpoint}; resume with the "
            f"same command: {command}")
