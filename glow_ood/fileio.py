"""Atomic file writes: a killed or failing program leaves the previous file, never half of one.

    write_json("runs/x/results.json", {"step": 6})       # also write_text, save_npz
    with replaced_atomically("figures/a.png") as temp:    # any writer: savefig(temp)
      ...
    with staged_outputs("evaluation") as stage:           # a whole report at once
      write_text(os.path.join(stage, "results.md"), text)

Every result (JSON, markdown, npz, figure, SavedModel) is written atomically:
to a temporary file `<name>.tmp` (figures `<root>.tmp.png`) in the same
folder, then renamed over `<name>` (`replaced_atomically`), so a killed
program leaves the previous file intact, never a 0-byte or half-written one.
A leftover `*.tmp` of a kill is overwritten by the next write and read by
nobody. Programs that write a whole report at once stage it
(`staged_outputs`): a failure leaves the folder as it was. `check_writable`
refuses an output path that is a file, under a file or unwritable before any
work; `read_json` reads back what these functions wrote, with one-line errors
for a damaged file. A write the disk refuses (full, read-only) leaves the
previous file as it was too, and raises
`glow_ood.write_errors.WriteFailedError`: one line naming the file and the
errno. Pure Python: no TensorFlow.
"""

import contextlib
import json
import os
import shutil
import uuid

from glow_ood import write_errors

__all__ = ["TEMP_SUFFIX", "STAGING_DIR", "replaced_atomically", "write_json",
           "write_text", "save_npz", "read_json", "check_writable",
           "staged_outputs"]

# Suffix of the temporary files of atomic writes.
TEMP_SUFFIX = ".tmp"
# The folder `staged_outputs` writes into before moving its files in place
# (inside the folder, or `.<name>` + it beside a new one).
STAGING_DIR = ".staging.tmp"


@contextlib.contextmanager
def replaced_atomically(path):
  """Yields a temporary path beside `path`; renamed over `path` if the block succeeds.

  The temporary name keeps `path`'s extension (`results.tmp.png` for
  `results.png`; `results.json.tmp` for other files), so writers that choose
  a format by extension (matplotlib) still do. On an exception the temporary
  file is removed and `path` is left as it was. Missing parent folders are
  created. A write the disk refuses (full, read-only: an errno of
  `glow_ood.write_errors.ERRNOS`) raises `WriteFailedError` naming `path`.
  """
  path = os.fspath(path)
  parent = os.path.dirname(path)
  root, extension = os.path.splitext(path)
  if extension.lower() in (".png", ".pdf", ".svg", ".jpg"):
    temp = f"{root}{TEMP_SUFFIX}{extension}"
  else:
    temp = path + TEMP_SUFFIX
  try:
    if parent:
      os.makedirs(parent, exist_ok=True)
    yield temp
    os.replace(temp, path)
  except BaseException as e:
    with contextlib.suppress(OSError):
      os.remove(temp)
    failed = write_errors.from_error(e, path)
    if failed is None or failed is e:
      raise
    raise failed from e


def _write_bytes_or_text(path, content, mode):
  with replaced_atomically(path) as temp:
    with open(temp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
      f.write(content)
      f.flush()
      os.fsync(f.fileno())


def write_json(path, payload, indent=2):
  """Writes `payload` as JSON atomically: a crash leaves the previous file intact."""
  _write_bytes_or_text(path, json.dumps(payload, indent=indent), "w")


def write_text(path, text):
  """Writes `text` (UTF-8) to `path` atomically (`replaced_atomically`)."""
  _write_bytes_or_text(path, text, "w")


def save_npz(path, compressed=True, **arrays):
  """`numpy.savez_compressed(path, **arrays)` (or `savez`), atomically.

  Unlike `numpy.savez`, `path` is used as given (no `.npz` is appended).
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  save = np.savez_compressed if compressed else np.savez
  with replaced_atomically(path) as temp:
    with open(temp, "wb") as f:
      save(f, **arrays)
      f.flush()
      os.fsync(f.fileno())


_DEFAULT_FIX = "delete it and re-run to rewrite it"


def read_json(path, what="file", fix=None):
  """The JSON object in `path`, or one-line errors naming the file and the fix.

  Args:
    path: the file.
    what: what the file is, for the message (e.g. `"benchmark results file"`).
    fix: what the user should do about a damaged file. Default value:
      `"delete it and re-run to rewrite it"`.

  Raises:
    FileNotFoundError: `path` does not exist.
    ValueError: `path` is empty, truncated, not JSON, not a JSON object, or a
      folder; the message names the file and `fix`.
  """
  fix = fix or _DEFAULT_FIX
  if os.path.isdir(path):
    raise ValueError(f"{path} is a folder, not the {what} this program "
                     "writes there; move it away and re-run.")
  with open(path, "rb") as f:
    raw = f.read()
  if not raw.strip():
    raise ValueError(f"{path} is empty ({len(raw)} bytes; a run killed while "
                     f"writing it?): {fix}.")
  try:
    payload = json.loads(raw.decode("utf-8"))
  except UnicodeDecodeError as e:
    raise ValueError(f"{path} is damaged: not UTF-8 text ({e.reason} at byte "
                     f"{e.start}), so no {what} this program wrote: "
                     f"{fix}.") from e
  except json.JSONDecodeError as e:
    # The objects this program writes end with "}": a file that does not, or
    # fails to parse only at its end, was cut short.
    truncated = (not raw.rstrip().endswith(b"}")
                 or e.pos >= len(e.doc.rstrip()))
    raise ValueError(
        f"{path} is " + ("truncated" if truncated else "damaged") +
        f" (invalid JSON: {e}"
        + ("; a run killed while writing it?" if truncated else "") +
        f"): {fix}.") from e
  if not isinstance(payload, dict):
    raise ValueError(f"{path} holds a JSON {type(payload).__name__}, not the "
                     f"{what} (a JSON object) this program writes: {fix}.")
  return payload


def _first_missing(path):
  """The top folder of `path` that does not exist yet (`None` if `path` exists)."""
  path = os.path.abspath(path)
  missing = None
  while not os.path.lexists(path):
    missing = path
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return missing


def check_writable(path, flag):
  """Raises a one-line `ValueError` unless `path` is, or can be made as, a writable folder.

  Nothing is created: the nearest existing folder is probed with a temporary
  folder, removed at once (this also catches read-only file systems and
  `/proc`, where even root cannot write). A full or read-only disk (an errno
  of `glow_ood.write_errors.ENVIRONMENT_ERRNOS`) raises
  `glow_ood.write_errors.WriteFailedError` instead: the path is right, the
  disk is not.

  Args:
    path: the output folder (it need not exist).
    flag: how the message names it, e.g. `"--output_dir"`.
  """
  path = os.fspath(path)
  if not path:
    raise ValueError(f"{flag} is empty; pass a folder to write to.")
  if os.path.lexists(path) and not os.path.isdir(path):
    raise ValueError(f"{flag}={path} is a file, not a folder; pass a folder "
                     "(an existing one or a new path).")
  missing = _first_missing(path)
  existing = os.path.abspath(path) if missing is None else os.path.dirname(missing)
  if not os.path.isdir(existing):
    raise ValueError(f"{flag}={path} cannot be made: {existing} is a file; "
                     "pass a path under a folder.")
  probe = os.path.join(existing, f".write_probe_{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}")
  try:
    os.mkdir(probe)
  except OSError as e:
    failed = write_errors.from_error(e, existing,
                                     write_errors.ENVIRONMENT_ERRNOS)
    if failed is not None:   # a full or read-only disk, not a wrong path
      raise failed from e
    raise ValueError(f"{flag}={path} is not writable: cannot create anything "
                     f"in {existing} ({e.strerror}); pass a folder you can "
                     "write to.") from e
  os.rmdir(probe)


@contextlib.contextmanager
def staged_outputs(folder):
  """Yields a staging folder whose files replace those of `folder` if the block succeeds.

  Write a whole report (JSON, markdown, npz, figures, a SavedModel) into the
  staging folder; when the block ends without an exception it takes the
  place of its files:

    * `folder` is new or empty: the staging folder is its sibling
      `<parent>/.<name>.staging.tmp`, renamed to `folder` in one step, so
      `folder` appears whole or not at all;
    * `folder` holds files: the staging folder is `<folder>/.staging.tmp`,
      and each file is moved to the same relative path under `folder` (an
      atomic rename each); files of `folder` not in the report stay.

  On an exception the staging folder is removed, the files already in
  `folder` are untouched, and `folder` itself is removed if this call made it.
  A staging folder left by a killed program is removed first. A write the
  disk refuses raises `glow_ood.write_errors.WriteFailedError` naming the
  file of `folder` it was for (not its staged copy).
  """
  folder = os.fspath(folder)
  created = _first_missing(folder)
  inside = os.path.join(folder, STAGING_DIR)
  shutil.rmtree(inside, ignore_errors=True)
  whole = created is not None or not os.listdir(folder)
  if whole:
    parent, name = os.path.split(os.path.abspath(folder))
    stage = os.path.join(parent, f".{name}{STAGING_DIR}")
  else:
    stage = inside
  shutil.rmtree(stage, ignore_errors=True)
  try:
    os.makedirs(stage)
    yield stage
    if whole:
      _rename_into_place(stage, folder)
    else:
      _move_files(stage, folder)
  except BaseException as e:
    shutil.rmtree(stage, ignore_errors=True)
    # A new `folder` staged beside itself was never made here: only the
    # parents of the staging folder were.
    if created is not None and created != os.path.abspath(folder):
      shutil.rmtree(created, ignore_errors=True)
    failed = write_errors.from_error(e, folder)
    if failed is None:
      raise
    raise _named_outside(failed, stage, folder) from e
  shutil.rmtree(stage, ignore_errors=True)


def _rename_into_place(stage, folder):
  """Renames the folder `stage` to `folder` (which is missing or empty)."""
  if os.path.isdir(folder):
    os.rmdir(folder)
  os.rename(stage, folder)


def _move_files(stage, folder):
  """Moves every file under `stage` to the same relative path under `folder`."""
  for root, _, names in os.walk(stage):
    for name in names:
      source = os.path.join(root, name)
      target = os.path.join(folder, os.path.relpath(source, stage))
      os.makedirs(os.path.dirname(target), exist_ok=True)
      os.replace(source, target)


def _named_outside(failed, stage, folder):
  """`failed` naming the file of `folder` a staged file was to become."""
  if failed.path is None:
    return failed
  relative = os.path.relpath(failed.path, stage)
  if relative == os.curdir or relative.startswith(os.pardir):
    return failed
  return failed.at(os.path.join(folder, relative))
