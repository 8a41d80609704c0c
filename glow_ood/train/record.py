"""What a run records about its training besides checkpoints: its evaluations, and how it ended.

    history = EvaluationHistory.read(workdir, up_to_step=restored_step)
    history.add(step, {"cifar10/test": 3.41, "svhn_cropped/test": 2.39})
    write_training_record(workdir, stop, history, final, ...)   # at the end

Two small JSON files of the run folder, written by the chief, atomically
(`glow_ood.fileio.write_json`):

`evaluations.json`, rewritten after every evaluation (periodic and final):

    {"evaluations": [{"step": 1000, "bits_per_dim": {"<dataset>/<split>": b}},
                     ...]}

one entry per evaluated step, in step order, with the mean bits/dim of every
evaluation set (`glow_ood.train.summaries.evaluate`). A resumed run keeps
the entries up to the step it restored and drops later ones (a killed
process's, after its last checkpoint: the resumed run redoes those steps and,
resuming exactly, evaluates them again to the same numbers). The plateau
rule reads it (`glow_ood.train.stopping`).

`training.json`, how training ended, whatever ended it: the chief writes it
at every stop after the start has succeeded, once per launch (a later
failure of the same launch, e.g. a worker lost in the final barrier, keeps
the first stop's record):

    {"step": 5000,                  # steps done (the last step boundary)
     "stop_reason": "plateau",      # see the table below
     "message": "Stopped at step 5000 ...",   # the one line the user read
     "checkpoint": ".../checkpoints/ckpt-5000",   # the newest good one, what
                                    # the same command resumes from; null: none
     "train_seconds": 1234.5,       # over the run's life (glow_ood.train.clock)
     "images_per_second": 210.3,    # this process's mean; null: it trained no step
     "in_distribution": "cifar10/test",
     "evaluations": [...],          # as in evaluations.json
     "final_bits_per_dim": {...}}   # the final evaluation; null unless the
                                    # run ended well (the first three below)

    stop_reason   exit  what stopped it           final evaluation; checkpoint
    train_steps   0     the last step             yes; saved at that step
    wall_budget   0     max_train_minutes         yes; saved at that step
    plateau       0     the plateau rule          yes; saved at that step
    diverged      1     skipped steps, bad state  no; the newest good one
    preempted     75    SIGTERM / SIGINT          no; saved at that step
    worker_lost   69    a worker dead or hung     no; the newest that loads
    write_failed  74    the disk refused a write  no; the newest that loads

(exit: `launch/train.py`'s code.) The message is the line the launcher
prints (after `launch/train.py: `), with `train(config, workdir)` for the
command where the line gives one (diverged, preempted, worker_lost). Under
`worker_lost` nothing else is written, no checkpoint touched: the record
names the newest checkpoint that loads (`glow_ood.train.lost_workers`),
and "step" is where training had got to. Under `write_failed` the record is
written if the disk still takes it (a full disk may, a read-only one does
not: the previous record then stays, whole). No record is written by a
refused start (nothing is written then), by a chief that is killed (kill -9,
a lost host: the survivors do not write the run folder, and the previous
launch's record stays), or by a signal outside training (before the first
step, or during a finished run's final evaluation: the process ends as
usual, `glow_ood.train.preemption`).
"""

import numbers
import os

from glow_ood import fileio
from glow_ood.runs import folder as run_folder

__all__ = ["EvaluationHistory", "write_training_record"]

_FIX = ("delete it and re-run (the plateau rule then compares only the "
        "evaluations made from now on)")


def _check_entries(entries, path):
  """The entries of an evaluations.json, or a one-line `ValueError`."""
  def good(entry):
    return (isinstance(entry, dict) and isinstance(entry.get("step"), int)
            and isinstance(entry.get("bits_per_dim"), dict) and all(
                isinstance(v, numbers.Real)
                for v in entry["bits_per_dim"].values()))
  if not isinstance(entries, list) or not all(good(e) for e in entries):
    raise ValueError(
        f"{path} is not an evaluation history this program writes (a list "
        f"'evaluations' of {{step, bits_per_dim}} objects): {_FIX}.")
  return entries


class EvaluationHistory:
  """Mean bits/dim per evaluation set at every evaluated step of a run.

  Args:
    path: the `evaluations.json` that `add` rewrites, or `None` (kept in
      memory only: a worker that does not write the run folder).
    entries: `[{"step": int, "bits_per_dim": {set name: float}}, ...]`.
  """

  def __init__(self, path=None, entries=()):
    self._path = path
    self._by_step = {int(e["step"]): dict(e["bits_per_dim"]) for e in entries}

  @classmethod
  def read(cls, workdir, up_to_step):
    """The history in `<workdir>/evaluations.json` up to step `up_to_step` (empty if none).

    Raises:
      ValueError: the file is damaged; the message names it and the fix.
    """
    path = os.path.join(workdir, run_folder.EVALUATIONS_FILE)
    if not os.path.exists(path):
      return cls(path)
    entries = _check_entries(fileio.read_json(
        path, "evaluation history", fix=_FIX).get("evaluations"), path)
    return cls(path, [e for e in entries if e["step"] <= int(up_to_step)])

  def add(self, step, bits_per_dim):
    """Records the evaluation at `step` (replacing one at the same step) and
    rewrites the file."""
    self._by_step[int(step)] = {k: float(v) for k, v in bits_per_dim.items()}
    if self._path is not None:
      fileio.write_json(self._path, {"evaluations": self.entries()})

  def at(self, step):
    """`{set name: bits/dim}` of the evaluation at `step`, or `None`."""
    return self._by_step.get(int(step))

  def entries(self):
    """`[{"step", "bits_per_dim"}, ...]` in step order (JSON-ready)."""
    return [{"step": step, "bits_per_dim": dict(values)}
            for step, values in sorted(self._by_step.items())]


def write_training_record(workdir, stop, history, final, *, checkpoint,
                          train_seconds, images_per_second, in_distribution):
  """Writes `<workdir>/training.json` (see the module docstring).

  Args:
    workdir: the run folder.
    stop: `glow_ood.train.stopping.Stop`: the steps done, why, the message.
    history: `EvaluationHistory` of the run.
    final: `{set name: bits/dim}` of the final evaluation, or `None`.
    checkpoint: path of the newest good checkpoint (what the same command
      resumes from), or `None` if the run has none.
    train_seconds: Python `float`, seconds of training over the run's life.
    images_per_second: Python `float` or `None`, this process's mean.
    in_distribution: the in-distribution test set's name, `"<dataset>/test"`.
  """
  fileio.write_json(os.path.join(workdir, run_folder.TRAINING_FILE), {
      "step": int(stop.step), "stop_reason": stop.reason,
      "message": stop.message, "checkpoint": checkpoint,
      "train_seconds": float(train_seconds),
      "images_per_second": (None if images_per_second is None
                            else float(images_per_second)),
      "in_distribution": in_distribution, "evaluations": history.entries(),
      "final_bits_per_dim": None if final is None else dict(final)})
