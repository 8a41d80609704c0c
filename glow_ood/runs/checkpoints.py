"""The checkpoints of a run folder that load, whatever happened to its files.

    found = newest_loadable("runs/x/checkpoints")   # None: no checkpoint at all
    found.path, found.step, found.notes()            # ".../ckpt-6", 6, [...]

`tf.train.CheckpointManager` trusts the small `checkpoint` state file: with it
missing or garbled a run looks untrained (and would restart from step 0 over
its own checkpoints), and a truncated newest checkpoint raises a bare
`IndexError` although an older intact one lies beside it. Here the
checkpoints are found from their own files (`ckpt-<step>.index` +
`ckpt-<step>.data-*`), each is read in full before it is trusted, and the
newest that loads is chosen; the reasons the newer ones were passed over
come back as notes. `repair` makes the folder consistent again for the
manager (state file rewritten, damaged checkpoints moved into `damaged/`,
orphaned `ckpt-<step>_temp` folders of an interrupted save removed); only the
program that owns the folder (the chief of a training run) calls it.
`discard_failed_save` removes what a save that raised (a full or read-only
disk) left, keeping every earlier checkpoint.
"""

import dataclasses
import os
import re
import shutil
from typing import Optional, Tuple

import tensorflow.compat.v2 as tf

__all__ = ["Found", "report", "checkpoint_steps", "damage", "newest_loadable",
           "orphaned_temp_folders", "discard_failed_save", "repair",
           "DAMAGED_DIR"]

DAMAGED_DIR = "damaged"
_INDEX = re.compile(r"^ckpt-(\d+)\.index$")
_TEMP = re.compile(r"^ckpt-\d+_temp$")
# What a damaged checkpoint raises when read: truncated files (IndexError,
# OutOfRange), bad CRCs or headers (DataLoss), missing shards (NotFound).
_READ_ERRORS = (IndexError, ValueError, OSError, tf.errors.OpError)


@dataclasses.dataclass(frozen=True)
class Found:
  """The newest checkpoint of a folder that loads.

  Attributes:
    path: its prefix, e.g. `".../checkpoints/ckpt-6"`.
    step: the step in its name.
    damaged: `(prefix, reason)` of every newer checkpoint that does not load.
    state_file_ok: whether the `checkpoint` state file names `path` as latest.
  """
  path: str
  step: int
  damaged: Tuple[Tuple[str, str], ...] = ()
  state_file_ok: bool = True

  def notes(self):
    """One line per thing the reader should know (empty if all was well)."""
    lines = [f"{prefix} does not load ({reason}); it was passed over."
             for prefix, reason in self.damaged]
    if not self.state_file_ok:
      lines.append(f"The checkpoint state file of {os.path.dirname(self.path)} "
                   "is missing, damaged or out of date; the checkpoints were "
                   "found from their own files.")
    if lines:
      lines.append(f"Using {self.path} (step {self.step}).")
    return lines


def report(lines):
  """Prints each line once, to stdout (the user must see it; not logged as
  well, which on a terminal showed every line twice)."""
  for line in lines:
    print(line, flush=True)


def checkpoint_steps(directory):
  """`[(step, prefix), ...]` of the checkpoints in `directory`, oldest first.

  A checkpoint is an `ckpt-<step>.index` file; unfinished saves
  (`ckpt-<step>_temp/`) are not checkpoints.
  """
  if not tf.io.gfile.isdir(directory):
    return []
  found = []
  for name in tf.io.gfile.listdir(directory):
    match = _INDEX.match(name.rstrip("/"))
    if match:
      found.append((int(match.group(1)),
                    os.path.join(directory, f"ckpt-{match.group(1)}")))
  return sorted(found)


def damage(prefix):
  """`None` if every tensor of checkpoint `prefix` reads back, else the reason (one line)."""
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except _READ_ERRORS as e:
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text[:160]}"
  return None


def _state_latest(directory):
  """The latest checkpoint the state file names, or `None` (missing or garbled)."""
  try:
    state = tf.train.get_checkpoint_state(directory)
  except _READ_ERRORS:
    return None
  if state is None or not state.model_checkpoint_path:
    return None
  # TensorFlow has already joined a relative path to `directory`.
  return state.model_checkpoint_path


def newest_loadable(directory, step=None):
  """The newest checkpoint in `directory` that loads (or `step`'s), as a `Found`.

  Args:
    directory: a run's `checkpoints/` folder.
    step: Python `int`: that step's checkpoint only. `None`: the newest.

  Returns:
    `Found`, or `None` when the folder holds no checkpoint files at all.

  Raises:
    FileNotFoundError: `step` was asked for and has no checkpoint.
    ValueError: checkpoints are there but none (or not `step`'s) loads; the
      message names each one and why.
  """
  steps = checkpoint_steps(directory)
  if step is not None:
    kept = [s for s, _ in steps]
    if int(step) not in kept:
      raise FileNotFoundError(
          f"No checkpoint of step {step} in {directory}; kept steps: "
          f"{', '.join(map(str, kept)) or 'none'}.")
    steps = [(s, p) for s, p in steps if s == int(step)]
  if not steps:
    return None
  damaged = []
  for number, prefix in reversed(steps):
    reason = damage(prefix)
    if reason is None:
      latest = _state_latest(directory)
      ok = step is not None or (
          latest is not None and os.path.normpath(latest) == os.path.normpath(prefix))
      return Found(path=prefix, step=number, damaged=tuple(damaged),
                   state_file_ok=ok)
    damaged.append((prefix, reason))
  listed = "; ".join(f"{os.path.basename(p)}: {r}" for p, r in damaged)
  raise ValueError(
      f"No checkpoint in {directory} loads ({listed}). The files are damaged "
      "(a full disk, or copied while being written?): restore the folder from "
      "a copy, or train again in a new workdir.")


def orphaned_temp_folders(directory):
  """`ckpt-<step>_temp` folders left by a save that was interrupted."""
  if not tf.io.gfile.isdir(directory):
    return []
  return [os.path.join(directory, name.rstrip("/"))
          for name in tf.io.gfile.listdir(directory)
          if _TEMP.match(name.rstrip("/"))]


def discard_failed_save(directory, step):
  """Removes what a save of `ckpt-<step>` that raised left behind; returns the paths removed.

  A save (`tf.train.CheckpointManager.save`) writes `ckpt-<step>_temp/`, then
  `ckpt-<step>.index` and `.data-*`, then the state file through a
  temporary `checkpoint.tmp<hex>`. A disk that fills or turns read-only
  midway leaves some of these: the `_temp` folder and the state file's
  temporary are removed; the checkpoint's own files only if it does not load
  (`damage`): a checkpoint whose files were all written is kept, and the
  next start finds it from its own files (`newest_loadable`). Nothing of an
  earlier checkpoint is touched. Removal that fails (a read-only disk) is
  skipped: the next start's `repair` does it.
  """
  removed = []
  prefix = os.path.join(directory, f"ckpt-{int(step)}")
  names = os.listdir(directory) if os.path.isdir(directory) else []
  doomed = [os.path.join(directory, n) for n in names
            if n == f"ckpt-{int(step)}_temp" or n.startswith("checkpoint.tmp")]
  own = [os.path.join(directory, n) for n in names
         if n == f"ckpt-{int(step)}.index" or
         n.startswith(f"ckpt-{int(step)}.data-")]
  if own and damage(prefix) is not None:
    doomed += own
  for path in sorted(doomed):
    try:
      if os.path.isdir(path):
        shutil.rmtree(path)
      else:
        os.remove(path)
    except OSError:
      continue
    removed.append(path)
  return removed


def repair(directory, found: Optional[Found]):
  """Makes `directory` consistent with `found` for a `tf.train.CheckpointManager`.

  Removes orphaned `_temp` folders (an interrupted save; nothing in them was
  ever a checkpoint), moves the files of every damaged newer checkpoint into
  `damaged/` (kept, not deleted, and no longer in the way of the resumed
  run's own saves), and rewrites the state file to list the checkpoints that
  remain, `found` the latest. Returns the lines it has to report.
  """
  lines = []
  for folder in orphaned_temp_folders(directory):
    tf.io.gfile.rmtree(folder)
    lines.append(f"Removed {folder}, left by an interrupted checkpoint save.")
  if found is None:
    return lines
  for prefix, _ in found.damaged:
    target = os.path.join(directory, DAMAGED_DIR)
    os.makedirs(target, exist_ok=True)
    base = os.path.basename(prefix)
    for name in os.listdir(directory):
      if name == base + ".index" or name.startswith(base + ".data-"):
        shutil.move(os.path.join(directory, name), os.path.join(target, name))
    lines.append(f"Moved the damaged {base} into {target}.")
  if found.damaged or not found.state_file_ok:
    kept = [p for s, p in checkpoint_steps(directory) if s <= found.step]
    # With their times, as the manager writes them: without, it forgets them.
    times = [os.path.getmtime(p + ".index") for p in kept]
    tf.compat.v1.train.update_checkpoint_state(
        directory, model_checkpoint_path=os.path.basename(found.path),
        all_model_checkpoint_paths=[os.path.basename(p) for p in kept],
        all_model_checkpoint_timestamps=times,
        last_preserved_timestamp=min(times) - 1.)
    lines.append(f"Rewrote the checkpoint state file of {directory}: latest "
                 f"{os.path.basename(found.path)}.")
  return lines
