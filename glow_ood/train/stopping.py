"""When a training run stops: at `train_steps`, on a wall budget, or on a plateau.

    rules = StopRules(config, clock, history)
    stop = rules.check(step, start=True)     # on the restored state
    stop = rules.check(step)                 # after every call of the step
    stop = stop or completed(config, step)   # the loop reached train_steps
    print(stop.message)

The rules (fields of `TrainConfig`):

  * wall budget, `max_train_minutes` = M: stop once the seconds of training
    over the run's life reach `T >= 60 M` (`glow_ood.train.clock`: resumes
    continue the count saved in the checkpoint), checked at every step
    boundary (a call of the step: at most `steps_per_call` steps late).
  * plateau, `plateau_min_improvement` = d (bits/dim) over
    `plateau_window_steps` = W: with `b(s)` the in-distribution test
    bits/dim evaluated at step `s`, stop at a step `s` (a multiple of
    `eval_every`) where both `s` and `s - W` were evaluated and
    `b(s - W) - b(s) < d`. Step 0 is never evaluated, so the first
    comparison is at `s = W + eval_every`. The evaluations come from the run
    folder's history (`glow_ood.train.record`), so the rule sees across
    resumes.

Both are checked on the restored state too: a run relaunched unchanged after
it stopped stops again at once (and only re-evaluates, as a finished run
does); a larger budget, a smaller `d` or more steps continue it.

Under `multi_worker_mirrored` all workers must stop at the same step, but the
budget runs on each worker's own clock and only the chief evaluates. At
every boundary where a rule may fire (a function of the step and the config,
the same on every worker) the workers exchange reason codes (`agree`:
`code -> max over workers`) and all stop for the largest.
"""

import dataclasses

__all__ = ["TRAIN_STEPS", "WALL_BUDGET", "PLATEAU", "DIVERGED", "PREEMPTED",
           "WORKER_LOST", "WRITE_FAILED", "Stop", "completed", "StopRules"]

TRAIN_STEPS = "train_steps"
WALL_BUDGET = "wall_budget"
PLATEAU = "plateau"
DIVERGED = "diverged"   # `glow_ood.train.loop.TrainingDivergedError`
PREEMPTED = "preempted"   # SIGTERM / SIGINT: `glow_ood.train.preemption`
WORKER_LOST = "worker_lost"   # a cluster's worker: `glow_ood.train.lost_workers`
WRITE_FAILED = "write_failed"   # the disk refused: `glow_ood.train.failed_writes`
# Reason codes the workers of a cluster agree on (0: go on).
_CODES = {WALL_BUDGET: 1, PLATEAU: 2}


@dataclasses.dataclass(frozen=True)
class Stop:
  """Why a run stopped: `reason` (`TRAIN_STEPS`, ...), at `step`, and the one line said."""
  reason: str
  step: int
  message: str


def completed(config, step):
  """The `Stop` of a run that reached `config.train_steps`."""
  return Stop(TRAIN_STEPS, step, (
      f"Stopped at step {step}: train_steps={config.train_steps} reached. "
      f"Re-running with a larger --train_steps continues from step {step}."))


class StopRules:
  """The wall budget and the plateau rule of a run (see the module docstring).

  Args:
    config: the run's `TrainConfig`.
    clock: `glow_ood.train.clock.RunClock` of the run.
    history: the run's evaluations, `at(step) -> {set name: bits/dim}` or
      `None` (`glow_ood.train.record.EvaluationHistory`; empty on a worker
      that does not evaluate).
    agree: `code -> the largest code of all workers`, or `None` on one host
      (`glow_ood.train.distribution.max_over_workers`).
  """

  def __init__(self, config, clock, history, agree=None):
    self._config = config
    self._clock = clock
    self._history = history
    self._agree = agree
    self.in_distribution = f"{config.data.dataset}/test"

  def _may_fire(self, step, start):
    """Whether a rule may fire at `step`: the same answer on every worker."""
    config = self._config
    return config.max_train_minutes is not None or (
        config.plateau_min_improvement is not None and
        (start or step % config.eval_every == 0))

  def check(self, step, start=False):
    """A `Stop` if the run stops at `step` (a step boundary), else `None`.

    Args:
      step: Python `int`, the steps done.
      start: whether `step` is the restored (or initial) state, before the
        first step of this process.
    """
    if not self._may_fire(step, start):
      return None
    stop = self._budget(step) or self._plateau(step)
    if self._agree is None:
      return stop
    code = _CODES[stop.reason] if stop else 0
    agreed = self._agree(code)
    if agreed == code:
      return stop
    reason = {c: r for r, c in _CODES.items()}[agreed]
    return Stop(reason, step, (
        f"Stopped at step {step}: {reason} on another worker of the cluster "
        "(the chief's output says why)."))

  def _budget(self, step):
    minutes = self._config.max_train_minutes
    if minutes is None:
      return None
    seconds = self._clock.seconds()
    if seconds < 60. * minutes:
      return None
    return Stop(WALL_BUDGET, step, (
        f"Stopped at step {step} of {self._config.train_steps}: the wall "
        f"budget max_train_minutes={minutes:g} is used up ({seconds / 60.:.2f} "
        "minutes of training over the run's life). Re-running with a larger "
        f"--max_train_minutes (0 = no budget) continues from step {step}."))

  def _plateau(self, step):
    config = self._config
    threshold = config.plateau_min_improvement
    window = config.plateau_window_steps
    if threshold is None or step < window:
      return None
    now, before = self._history.at(step), self._history.at(step - window)
    name = self.in_distribution
    if not now or not before or name not in now or name not in before:
      return None
    improvement = before[name] - now[name]
    if improvement >= threshold:
      return None
    return Stop(PLATEAU, step, (
        f"Stopped at step {step} of {config.train_steps}: the plateau rule: "
        f"{name} went from {before[name]:.4f} bits/dim at step "
        f"{step - window} to {now[name]:.4f}, an improvement of "
        f"{improvement:.4f} < plateau_min_improvement={threshold:g} over "
        f"plateau_window_steps={window}. Re-running with a smaller "
        f"--plateau_min_improvement (0 = off) continues from step {step}."))
