"""The files of a run folder, and the one check that a resumed program still fits them.

A run folder (`workdir`) written by `glow_ood.train.train` holds

    config.json     the whole frozen `TrainConfig`, with a format version
                    (`glow_ood.configs.serialization`); `glow_ood.runs.load_run`
                    rebuilds the run from it; beside it, the fingerprints of
                    the data it reads (`glow_ood.data.fingerprints`)
    writer.lock     while a program writes the folder: who (`glow_ood.runs.lock`)
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

Its JSON files are written and read through `glow_ood.fileio` (atomic
writes; one-line errors for a damaged file).
"""

import os

from glow_ood import fileio
from glow_ood.configs import serialization

__all__ = ["CONFIG_FILE", "RESULTS_FILE", "EVALUATIONS_FILE", "TRAINING_FILE",
           "CHECKPOINTS_DIR", "FLAGS_FILE", "DATA_FINGERPRINTS_KEY",
           "MissingConfigError", "write_config", "read_config", "differences",
           "check_compatible", "finished_step"]

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
EVALUATIONS_FILE = "evaluations.json"
TRAINING_FILE = "training.json"
CHECKPOINTS_DIR = "checkpoints"
FLAGS_FILE = "flags.cfg"
# The key of config.json beside "config": the fingerprints of the run's data.
DATA_FINGERPRINTS_KEY = "data_fingerprints"


class MissingConfigError(FileNotFoundError):
  """A folder without `config.json`: not a run folder, or one from before it."""


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
  fileio.write_json(os.path.join(workdir, CONFIG_FILE), payload)


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
  payload = fileio.read_json(path, "run config", fix=(
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
  step = fileio.read_json(path, "results file", fix=fix).get("step")
  if not isinstance(step, int):
    return None
  if step >= train_steps:
    return step
  training_path = os.path.join(workdir, TRAINING_FILE)
  if not os.path.exists(training_path):
    return None
  training = fileio.read_json(training_path, "training summary", fix=fix)
  if (training.get("step") == step and
      training.get("stop_reason") in FINISHING_STOP_REASONS):
    return step
  return None
