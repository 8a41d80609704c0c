"""`train` on a disk that fills or turns read-only: one line, and the run resumes.

    @failed_writes.say_what_resumes
    def train(config, workdir, ...): ...

Whatever write of the run fails for the disk's sake (a checkpoint,
config.json, flags.cfg, results.json, evaluations.json, training.json,
TensorBoard events), `train` raises `glow_ood.write_errors.WriteFailedError`
naming the file and the errno, and saying what rerunning the same command
does:

    cannot write runs/x/checkpoints/ckpt-7: [Errno 28] No space left on
    device. Fix: free space on that disk, then rerun the same command; the
    run resumes from ckpt-6 (step 6).

What is left is safe to resume from: JSON files are replaced atomically
(`glow_ood.fileio.replaced_atomically`: the previous file stays), a
failed checkpoint save leaves nothing of itself that could be taken for a
checkpoint (`glow_ood.runs.checkpoints.discard_failed_save`) and every earlier
checkpoint as it was; an event file ends at its last whole record
(TensorBoard and `glow_ood.plots.read_scalars` read up to it, and a resumed
run writes a new event file). The checkpoint named is the newest that loads
(`glow_ood.runs.checkpoints.newest_loadable`), which is where the rerun starts.
"""

import functools
import os

import tensorflow.compat.v2 as tf

from glow_ood.runs import checkpoints
from glow_ood.runs import folder as run_folder
from glow_ood import write_errors

__all__ = ["ERRORS", "say_what_resumes", "resume_point", "what_a_rerun_does",
           "as_write_failure"]

# What a write the disk refused raises: Python's `OSError` (and
# `WriteFailedError`), TensorFlow's `OpError` (checkpoints, TensorBoard).
ERRORS = (OSError, tf.errors.OpError)


def resume_point(workdir):
  """`(path, step)` of the newest checkpoint that loads in `workdir` (where a
  rerun resumes), `(None, None)` if it has none, `None` if that is unknown
  (the folder cannot be read, or no checkpoint of it loads)."""
  try:
    found = checkpoints.newest_loadable(
        os.path.join(workdir, run_folder.CHECKPOINTS_DIR))
  except (ValueError, OSError, tf.errors.OpError):
    return None
  return (None, None) if found is None else (found.path, found.step)


def what_a_rerun_does(workdir):
  """`"the run resumes from ckpt-6 (step 6)"` (or from step 0), or `None` if unknown."""
  point = resume_point(workdir)
  if point is None:
    return None
  path, step = point
  if path is None:
    return "no checkpoint was saved yet, so the run starts again from step 0"
  return f"the run resumes from {os.path.basename(path)} (step {step})"


def as_write_failure(error, workdir):
  """`error` as the `WriteFailedError` that `train` raises for it (saying
  what a rerun does), or `None` if the disk did not refuse a write."""
  failed = write_errors.from_error(
      error, errnos=write_errors.ENVIRONMENT_ERRNOS)
  return None if failed is None else failed.resuming(
      what_a_rerun_does(workdir))


def say_what_resumes(train):
  """`train(config, workdir, ...)` whose failed writes raise one `WriteFailedError`.

  A `WriteFailedError` raised inside (a checkpoint, a JSON file), and an
  `OSError` or TensorFlow error of a full or read-only disk
  (`write_errors.ENVIRONMENT_ERRNOS`: TensorBoard's writers), are raised as
  a `WriteFailedError` that says what rerunning does (`what_a_rerun_does`).
  """
  @functools.wraps(train)
  def guarded(config, workdir, *args, **kwargs):
    try:
      return train(config, workdir, *args, **kwargs)
    except ERRORS as e:
      failed = as_write_failure(e, workdir)
      if failed is None:
        raise
      raise failed from e
  return guarded
