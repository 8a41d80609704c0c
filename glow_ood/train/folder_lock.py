"""`train` holds its run folder: one writer per workdir (`glow_ood.runs.lock`).

    @folder_lock.one_writer
    def train(config, workdir, ...): ...

A second `train` (a second `launch/train.py`, `launch/evaluate.py` writing
into the folder) on a workdir held by a live process is refused with one
line naming the holder, before anything else is done; a lock left by a
killed process is taken over, with one line. Under `multi_worker_mirrored`
only the chief (task `chief`, else `worker` 0: the process that writes the
folder, `distribution.is_chief_task`) takes the lock, so the run's own
workers, which share the workdir, are never refused; a second cluster's
chief is.
"""

import contextlib
import functools

from glow_ood.runs import lock as run_lock
from glow_ood.train import distribution

__all__ = ["one_writer"]


def one_writer(train):
  """`train(config, workdir, ...)` run while its chief holds `workdir`.

  The lock is taken before `train` starts and released when it returns or
  raises. A workdir whose lock file cannot be made (not writable, a file in
  the way) is left to `train`'s own checks, which refuse it.
  """
  @functools.wraps(train)
  def holding(config, workdir, *args, **kwargs):
    if not distribution.is_chief_task(config.strategy):
      return train(config, workdir, *args, **kwargs)
    with contextlib.ExitStack() as stack:
      try:
        stack.enter_context(run_lock.hold(
            workdir, fix="train into another --workdir"))
      except OSError:
        pass   # not writable: `train` refuses it, with its own message
      return train(config, workdir, *args, **kwargs)
  return holding
