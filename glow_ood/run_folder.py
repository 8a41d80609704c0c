"""The files of a run folder, and the one check that a resumed program still fits them.

A run folder (`workdir`) written by `glow_ood.train.train` holds

    config.json     the whole frozen `TrainConfig`, with a format version
                    (`glow_ood.configs.serialization`); `glow_ood.runs.load_run`
                    rebuilds the run from it; beside it, the fingerprints of
                    the data it reads (`glow_ood.data.fingerprints`)
    writer.lock     while a program writes the folder: who (`glow_ood.run_lock`)
    checkpoints/    `tf.train.CheckpointManager` checkpoints
    train/ eval/    TensorBoard events
    results.json    final bits/dim per set, written when training ends
    evaluations.json  bits/dim of every evaluation so far, per step and set
                    (`glow_ood.train.record`; the plateau rule reads it)
    training.json   how training ended: steps, stop reason, wall time, images/s,
                    evaluation history, final bits/dim (`glow_ood.train.record`)
    flags.cfg       written by `launch/train.py` only: relaunches the run

Every resumable program (training, the OOD benchmark, two moons, ensembles)
compares the settings it was started with against the ones saved by the run
it resumes with `check_compatible`, and reads "is it finished?" from
`finished_step`. Pure Python: no TensorFlow.

Every result (JSON, markdown, npz, figure) is written atomically: to a
temporary file `<name>.tmp` (figures `<root>.tmp.png`) in the same folder,
then renamed over `<name>` (`replaced_atomically`), so a killed program leaves
the previous file intact, never a 0-byte or half-written one. A leftover
`*.tmp` of a kill is overwritten by the next write and read by nobody.
Programs that write a whole report at once stage it (`staged_outputs`): a
failure leaves the folder as it was. `check_writable` refuses an output path
that is a file, under a file or unwritable before any work. A write the disk
refuses (full, read-only) leaves the previous file as it was too, and raises
`glow_ood.write_errors.WriteFailedError`: one line naming the file and the
errno.
"""

import contextlib
import json
import os
import shutil
import uuid

from glow_ood import write_errors
from glow_ood.configs import serialization

__all__ = ["CONFIG_FILE", "RESULTS_FILE", "EVALUATIONS_FILE", "TRAINING_FILE",
           "CHECKPOINTS_DIR", "FLAGS_FILE", "TEMP_SUFFIX",
           "DATA_FINGERPRINTS_KEY", "MissingConfigError",
           "replaced_atomically", "write_json", "write_text", "save_npz",
           "read_json", "check_writable", "staged_outputs", "write_config",
           "read_config", "differences", "check_compatible", "finished_step"]

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
EVALUATIONS_FILE = "evaluations.json"
TRAINING_FILE = "training.json"
CHECKPOINTS_DIR = "checkpoints"
FLAGS_FILE = "flags.cfg"
# The key of config.json beside "config": the fingerprints of the run's data.
DATA_FINGERPRINTS_KEY = "data_fingerprints"
# Suffix of the temporary files of atomic writes.
TEMP_SUFFIX = ".tmp"
# The folder `staged_outputs` writes into before moving its files in place.
_STAGING_DIR = ".staging.tmp"


class MissingConfigError(FileNotFoundError):
  """A folder without `config.json`: not a run folder, or one from before it."""


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

  Write a whole report (JSON, markdown, npz, figures) into the staging folder
  (`<folder>/.staging.tmp`); when the block ends without an exception each
  file is moved to the same relative path under `folder` (an atomic rename).
  On an exception the staging folder is removed, the files already in
  `folder` are untouched, and `folder` itself is removed if this call made it.
  A staging folder left by a killed program is removed first. A write the
  disk refuses raises `glow_ood.write_errors.WriteFailedError` naming the
  file of `folder` it was for (not its staged copy).
  """
  folder = os.fspath(folder)
  created = _first_missing(folder)
  stage = os.path.join(folder, _STAGING_DIR)
  shutil.rmtree(stage, ignore_errors=True)
  try:
    os.makedirs(stage)
    yield stage
    for root, _, names in os.walk(stage):
      for name in names:
        source = os.path.join(root, name)
        target = os.path.join(folder, os.path.relpath(source, stage))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(source, target)
  except BaseException as e:
    shutil.rmtree(stage, ignore_errors=True)
    if created is not None:
      shutil.rmtree(created, ignore_errors=True)
    failed = write_errors.from_error(e, folder)
    if failed is None:
      raise
    raise _named_outside(failed, stage, folder) from e
  shutil.rmtree(stage, ignore_errors=True)


def _named_outside(failed, stage, folder):
  """`failed` naming the file of `folder` a staged file was to become."""
  if failed.path is None:
    return failed
  relative = os.path.relpath(failed.path, stage)
  if relative == os.curdir or relative.startswith(os.pardir):
    return failed
  return failed.at(os.path.join(folder, relative))


def write_config(workdir, config, data_fingerprints=None):
  """Writes `<workdir>/config.json` (format version, type, every field).

  Args:
    workdir: the run folder.
    config: the run's config.
    data_fingerprints: optional `{"<dataset>/<split>": fingerprint}` of the
      data the run reads (`glow_ood.data.fingerprints`), kept beside the
      config under `DATA_FINGERPRINTS_KEY` (`read_config` ignores it).
  """
  payload = serialization.to_dict(config)
  if data_fingerprints is not None:
    payload[DATA_FINGERPRINTS_KEY] = data_fingerprints
  write_json(os.path.join(workdir, CONFIG_FILE), payload)


def read_config(workdir, expected_type=None):
  """The config saved in `<workdir>/config.json`.

  Raises:
    MissingConfigError: the folder has no config.json; the message says what
      to do (train into it, or relaunch an older run once from its flags.cfg).
    ValueError: the file is not a config this glow_ood reads.
  """
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    if not os.path.isdir(workdir):
      raise MissingConfigError(
          f"{workdir} does not exist: pass the folder of a trained run "
          "(launch/train.py --workdir=...).")
    if os.path.exists(os.path.join(workdir, FLAGS_FILE)):
      raise MissingConfigError(
          f"{workdir} has no {CONFIG_FILE} (it was trained before runs "
          "described themselves): write it by relaunching the run once, "
          f"`python launch/train.py --flagfile={os.path.join(workdir, FLAGS_FILE)}"
          f" --workdir={workdir}` (a finished run only re-evaluates).")
    raise MissingConfigError(
        f"{workdir} has no {CONFIG_FILE}, so it is not a run folder; pass the "
        "folder of a run trained by launch/train.py or glow_ood.train.train.")
  flags_file = os.path.join(workdir, FLAGS_FILE)
  relaunch = (f"`python launch/train.py --flagfile={flags_file} "
              f"--workdir={workdir}`" if os.path.exists(flags_file) else
              "the glow_ood.train.train call that made the run")
  payload = read_json(path, "run config", fix=(
      f"delete it and re-run {relaunch}, which resumes from the checkpoints "
      "and rewrites it"))
  try:
    return serialization.from_dict(payload, expected_type)
  except (TypeError, ValueError) as e:
    raise ValueError(f"{path}: {e}") from e


def _lookup(values, dotted):
  for part in dotted.split("."):
    if not isinstance(values, dict) or part not in values:
      return None
    values = values[part]
  return values


def _leaves(values, prefix=""):
  if isinstance(values, dict):
    for key, value in values.items():
      yield from _leaves(value, f"{prefix}{key}.")
  else:
    yield prefix[:-1], values


def differences(saved, current, *, fields=None, ignore=()):
  """`[(dotted name, saved value, current value), ...]` where `current` differs.

  Args:
    saved, current: JSON-ready dicts of settings (e.g. the `"config"` of two
      runs' config.json).
    fields: dotted paths to compare (`"model"`, `"data.seed"`); a path
      covers everything under it. `None`: every field of `current`.
    ignore: dotted paths that may differ (with `fields=None`).
  """
  if fields is None:
    fields = [name for name, _ in _leaves(current)
              if not any(name == i or name.startswith(i + ".")
                         for i in ignore)]
  changed = []
  for field in fields:
    old, new = _lookup(saved, field), _lookup(current, field)
    if old == new:
      continue
    if isinstance(old, dict) and isinstance(new, dict):
      for name, value in _leaves(new, f"{field}."):
        before = _lookup(saved, name)
        if before != value:
          changed.append((name, before, value))
    else:
      changed.append((field, old, new))
  return changed


def check_compatible(saved, current, where, *, fields=None, ignore=(),
                     fix="use the same settings to resume, or another folder"):
  """Raises `ValueError` if `current` changes what `saved` must keep.

  Args:
    saved: the JSON-ready dict of the settings that made `where` (e.g. the
      `"config"` of a run's config.json).
    current: the same for the program now starting.
    where: the file or folder, for the message.
    fields: dotted paths that must agree (`"model"`, `"data.seed"`); a
      path covers everything under it. `None`: every field.
    ignore: dotted paths that may differ (with `fields=None`).
    fix: what the user should do, for the message.
  """
  changed = [f"{name}={old!r} in the file, {new!r} now" for name, old, new in
             differences(saved, current, fields=fields, ignore=ignore)]
  if changed:
    raise ValueError(f"{where} holds results of other settings ("
                     + "; ".join(changed) + f"). To resume, {fix}.")


# training.json stop reasons after which the same command trains no further:
# the plateau rule held, or the wall budget (kept in the checkpoint) is spent.
FINISHING_STOP_REASONS = ("plateau", "wall_budget")


def finished_step(workdir, train_steps, fix=None):
  """The final step of a run that is done, else `None`.

  Done: `<workdir>/results.json` records a step >= `train_steps`, or
  `training.json` says the run stopped at that same step by its plateau rule
  or wall budget (`FINISHING_STOP_REASONS`), so that re-running its command
  would not train further.

  Raises:
    ValueError: results.json (or training.json) is empty or damaged; the
      message names it and `fix`. Default value of `fix`: delete it and re-run
      the training, which resumes from the checkpoints and rewrites it.
  """
  fix = fix or ("delete it and re-run the run's training: it resumes from "
                "its checkpoints and rewrites it")
  path = os.path.join(workdir, RESULTS_FILE)
  if not os.path.exists(path):
    return None
  step = read_json(path, "results file", fix=fix).get("step")
  if not isinstance(step, int):
    return None
  if step >= train_steps:
    return step
  training_path = os.path.join(workdir, TRAINING_FILE)
  if not os.path.exists(training_path):
    return None
  training = read_json(training_path, "training summary", fix=fix)
  if (training.get("step") == step and
      training.get("stop_reason") in FINISHING_STOP_REASONS):
    return step
  return None
