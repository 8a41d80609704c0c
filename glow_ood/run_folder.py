"""The files of a run folder, and the one check that a resumed program still fits them.

A run folder (`workdir`) written by `glow_ood.train.train` holds

    config.json     the whole frozen `TrainConfig`, with a format version
                    (`glow_ood.configs.serialization`); `glow_ood.runs.load_run`
                    rebuilds the run from it
    checkpoints/    `tf.train.CheckpointManager` checkpoints
    train/ eval/    TensorBoard events
    results.json    final bits/dim per set, written when training ends
    flags.cfg       written by `launch/train.py` only: relaunches the run

Every resumable program (training, the OOD benchmark, two moons, ensembles)
compares the settings it was started with against the ones saved by the run
it resumes with `check_compatible`, and reads "is it finished?" from
`finished_step`. Pure Python: no TensorFlow.
"""

import json
import os

from glow_ood.configs import serialization

__all__ = ["CONFIG_FILE", "RESULTS_FILE", "CHECKPOINTS_DIR", "FLAGS_FILE",
           "MissingConfigError", "write_json", "read_json", "write_config",
           "read_config", "check_compatible", "finished_step"]

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
CHECKPOINTS_DIR = "checkpoints"
FLAGS_FILE = "flags.cfg"


class MissingConfigError(FileNotFoundError):
  """A folder without `config.json`: not a run folder, or one from before it."""


def write_json(path, payload, indent=2):
  """Writes `payload` as JSON atomically: a crash leaves the previous file intact."""
  parent = os.path.dirname(path)
  if parent:
    os.makedirs(parent, exist_ok=True)
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    json.dump(payload, f, indent=indent)
  os.replace(path + ".tmp", path)


def read_json(path, what="file"):
  """The JSON object in `path`; a `ValueError` naming the file if it is not JSON."""
  with open(path, encoding="utf-8") as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f"{path} is not valid JSON ({e}); it is no {what} this "
                       "program wrote. Move it away or use another folder.") from e


def write_config(workdir, config):
  """Writes `<workdir>/config.json` (format version, type, every field)."""
  write_json(os.path.join(workdir, CONFIG_FILE), serialization.to_dict(config))


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
  try:
    return serialization.from_dict(read_json(path, "run config"), expected_type)
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
          changed.append(f"{name}={before!r} in the file, {value!r} now")
    else:
      changed.append(f"{field}={old!r} in the file, {new!r} now")
  if changed:
    raise ValueError(f"{where} holds results of other settings ("
                     + "; ".join(changed) + f"). To resume, {fix}.")


def finished_step(workdir, train_steps):
  """The final step recorded in `<workdir>/results.json` if it reached `train_steps`, else `None`."""
  path = os.path.join(workdir, RESULTS_FILE)
  if not os.path.exists(path):
    return None
  step = read_json(path, "results file").get("step")
  if step is None or step < train_steps:
    return None
  return step
