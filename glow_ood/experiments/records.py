"""The record of an experiment: what was run, on what machine, and what it measured.

Every number in docs/REPRODUCTION.md and docs/OOD_BENCHMARK.md comes from a
record committed beside the docs, `docs/results/<experiment>.json`, so that a
reader can trace it to a command, a commit and a machine, and a test can keep
the docs' tables in step with the records (`scripts/render_docs.py --check`).
A record is small JSON:

    format_version   RECORD_FORMAT
    experiment       its name (the file's stem)
    description      one sentence
    commands         the commands that produced it, in order, runnable from
                     the repository root
    commit           `git rev-parse HEAD` when it was recorded (+ "dirty")
    machine          {"model_name", "simd_flags", "cpus"}: `lscpu`'s model
                     name and the SIMD flags of its flag list
    recorded_at      UTC date and time
    tolerance        {metric kind: absolute tolerance} within which a re-run
                     of `commands` on another machine is expected to agree
    runs             {run name: the run's settings and training summary}
    metrics          the numbers the docs quote (nested dicts of floats)
    reruns           (optional) re-runs of `commands` checked against
                     `metrics` (`rerun_entry`): machine, commit, precision,
                     what differed beyond `tolerance`

`evaluation_metrics` condenses a `launch/evaluate.py` results.json into
`metrics` form (per set bits/dim, bits per image and the decomposition; per
OOD set the AUROC with its interval); `compare` checks a re-run's metrics
against a record within its tolerance. Pure Python (no TensorFlow).
"""

import datetime
import fnmatch
import os
import platform
import re
import subprocess

from glow_ood import fileio

from glow_ood.runs import folder as run_folder

__all__ = ["RECORD_FORMAT", "SIMD_FLAG_PATTERN", "machine_description",
           "git_commit", "make_record", "write_record", "read_record",
           "run_summary", "evaluation_metrics", "evaluation_curves",
           "compare", "flatten", "rerun_entry", "tolerance_of",
           "is_pattern"]

RECORD_FORMAT = 1
# The cpu flags that say which vector instructions the machine has.
SIMD_FLAG_PATTERN = re.compile(r"^(sse|ssse|avx|fma|f16c|amx)")
_REQUIRED = ("format_version", "experiment", "commands", "commit", "machine",
             "recorded_at", "tolerance", "metrics")


def machine_description(lscpu_text=None):
  """`{"model_name", "simd_flags", "cpus"}` from `lscpu` (or `lscpu_text`).

  Falls back to /proc/cpuinfo's "model name" and "flags" lines, then to
  `platform.processor()`, when `lscpu` is missing.
  """
  if lscpu_text is None:
    try:
      lscpu_text = subprocess.run(["lscpu"], capture_output=True, text=True,
                                  check=True).stdout
    except (OSError, subprocess.CalledProcessError):
      lscpu_text = ""
      if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
          lscpu_text = f.read()
  fields = {}
  for line in lscpu_text.splitlines():
    key, sep, value = line.partition(":")
    if sep:
      fields.setdefault(key.strip().lower(), value.strip())
  flags = fields.get("flags", "").split()
  return {
      "model_name": fields.get("model name") or platform.processor()
                    or "unknown",
      "simd_flags": sorted(f for f in flags if SIMD_FLAG_PATTERN.match(f)),
      "cpus": os.cpu_count() or 0,
  }


def git_commit(repo_dir="."):
  """The commit checked out in `repo_dir`, with "+dirty" for local changes."""
  try:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_dir,
                          capture_output=True, text=True, check=True)
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=repo_dir, capture_output=True, text=True, check=True)
  except (OSError, subprocess.CalledProcessError):
    return "unknown"
  commit = head.stdout.strip()
  return commit + ("+dirty" if status.stdout.strip() else "")


def make_record(experiment, description, commands, metrics, *, tolerance,
                runs=None, repo_dir=".", machine=None, notes=None):
  """A record dict (see the module docstring); nothing is written."""
  if not commands:
    raise ValueError(f"Record {experiment!r}: no command; a record must say "
                     "how its numbers were made.")
  record = {
      "format_version": RECORD_FORMAT,
      "experiment": experiment,
      "description": description,
      "commands": list(commands),
      "commit": git_commit(repo_dir),
      "machine": machine or machine_description(),
      "recorded_at": datetime.datetime.now(datetime.timezone.utc).strftime(
          "%Y-%m-%d %H:%M UTC"),
      "tolerance": dict(tolerance),
      "runs": dict(runs or {}),
      "metrics": metrics,
  }
  if notes:
    record["notes"] = list(notes)
  return record


def write_record(path, record):
  """Writes `record` atomically as indented JSON with sorted keys."""
  _check(record, path)
  fileio.write_json(path, _rounded(record), indent=1)


def read_record(path):
  """A record read from `path`, checked for the required keys."""
  record = fileio.read_json(path, what="experiment record")
  _check(record, path)
  return record


def _check(record, path):
  missing = [key for key in _REQUIRED if key not in record]
  if missing:
    raise ValueError(f"{path}: not an experiment record (missing "
                     f"{', '.join(missing)}); records are written by "
                     "scripts/record_experiment.py.")
  if record["format_version"] != RECORD_FORMAT:
    raise ValueError(f"{path}: record format {record['format_version']}, "
                     f"this code reads {RECORD_FORMAT}.")


def _rounded(value, digits=6):
  """Floats rounded to `digits` significant digits (records stay readable)."""
  if isinstance(value, float):
    return float(f"{value:.{digits}g}")
  if isinstance(value, dict):
    return {k: _rounded(v, digits) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_rounded(v, digits) for v in value]
  return value


def run_summary(workdir):
  """A run's settings and training summary, from its folder.

  Reads `config.json` (the model, data and training settings that decide the
  numbers) and, when the trainer wrote it, `training.json` (steps, stop
  reason, wall time, the evaluation history).
  """
  config = fileio.read_json(os.path.join(workdir, run_folder.CONFIG_FILE),
                            what="run config")["config"]
  summary = {
      "model": config["model"],
      "dataset": config["data"]["dataset"],
      "train_steps": config["train_steps"],
      "batch_size": config["batch_size"],
      "mixed_precision": config.get("mixed_precision", "none"),
  }
  for key in ("train_split", "test_split", "init_from"):
    value = config.get(key, config["data"].get(key))
    if value not in (None, "train", "test"):
      summary[key] = value
  training_file = os.path.join(workdir, "training.json")
  if os.path.exists(training_file):
    summary["training"] = fileio.read_json(training_file,
                                           what="training summary")
  return summary


def evaluation_metrics(results, run_name=None):
  """`launch/evaluate.py`'s results.json -> `{"sets": ..., "detection": ...}`.

  Per scored set `<dataset>/<split>`: `bits_per_dim`, `bits_per_image`
  (bits/dim x D), `num_examples`, and for a Glow `log_prob_z` and `log_det`
  (mean nats per image) with their per-level lists. Per OOD set:
  `auroc`, `auroc_low`, `auroc_high` (95% bootstrap interval), `fpr_at_95_tpr`.
  `run_name` picks one run of an ensemble evaluation, or "ensemble" (the
  default where the results hold one: `results["ensemble"]`, the mixture
  log p_ens); with several runs and no ensemble it must be given.
  """
  models = results["models"]
  if run_name is None:
    if "ensemble" in results:
      run_name = "ensemble"
    elif len(models) == 1:
      run_name = next(iter(models))
    else:
      raise KeyError(f"results.json scores {len(models)} runs "
                     f"({sorted(models)}) and no ensemble: name the run.")
  if run_name == "ensemble" and "ensemble" in results:
    return _ensemble_metrics(results)
  if run_name not in models:
    raise KeyError(f"results.json has no run {run_name!r}; it has "
                   f"{sorted(models)}.")
  num_dims = _num_dims(results, run_name)
  sets = {}
  for set_name, terms in models[run_name].items():
    entry = {"bits_per_dim": terms["bits_per_dim"],
             "num_examples": results["num_examples"].get(set_name)}
    if num_dims:
      entry["bits_per_image"] = terms["bits_per_dim"] * num_dims
    for term in ("log_prob_z", "log_det", "log_prob_z_per_level",
                 "log_det_per_level"):
      if term in terms:
        entry[term] = terms[term]
    sets[set_name] = entry
  detection = {}
  for set_name, values in results.get("detection", {}).get(run_name,
                                                           {}).items():
    detection[set_name] = {key: values[key] for key in (
        "auroc", "auroc_low", "auroc_high", "fpr_at_95_tpr") if key in values}
  return {"sets": sets, "detection": detection}


def _ensemble_metrics(results):
  """`evaluation_metrics` of an ensemble's entry (`results["ensemble"]`).

  The ensemble has bits/dim and detection per set but no decomposition
  (log p(z) and log|det| are a member's, not a mixture's).
  """
  ensemble = results["ensemble"]
  num_dims = _num_dims(results, results["runs"][0]["name"])
  sets = {}
  for set_name, bits in ensemble["bits_per_dim"].items():
    entry = {"bits_per_dim": bits,
             "num_examples": results["num_examples"].get(set_name)}
    if num_dims:
      entry["bits_per_image"] = bits * num_dims
    sets[set_name] = entry
  detection = {set_name: {key: values[key] for key in (
      "auroc", "auroc_low", "auroc_high", "fpr_at_95_tpr") if key in values}
               for set_name, values in ensemble.get("detection", {}).items()}
  return {"sets": sets, "detection": detection}


def evaluation_curves(workdir):
  """`{"steps": [...], "bits_per_dim": {set: [...]}}` of a run's evaluations.

  Read from the TensorBoard events the trainer writes at every periodic
  evaluation (`<workdir>/eval`, tags `bits_per_dim/<dataset>/<split>`), so
  that runs begun before `training.json` existed have their curves too.
  Every set is reported at the steps where all sets were evaluated.
  """
  # Imported here: reading events needs TensorFlow, the rest of this module
  # does not.
  from glow_ood.plots import training_curves  # pylint: disable=g-import-not-at-top
  prefix = "bits_per_dim/"
  scalars = training_curves.read_scalars(os.path.join(workdir, "eval"),
                                         tag_prefix=prefix)
  common = sorted(set.intersection(*(set(steps.tolist()) for steps, _ in
                                     scalars.values())))
  curves = {}
  for tag, (steps, values) in scalars.items():
    by_step = dict(zip(steps.tolist(), values.tolist()))
    curves[tag[len(prefix):]] = [by_step[step] for step in common]
  return {"steps": common, "bits_per_dim": curves}


def _num_dims(results, run_name):
  """D = height x width x channels of run `run_name`, or None if unrecorded."""
  for run in results.get("runs", []):
    shape = run.get("model", {}).get("image_shape")
    if run.get("name") == run_name and shape:
      height, width, channels = shape
      return height * width * channels
  return None


def flatten(metrics, prefix=""):
  """`{"a": {"b": 1.}}` -> `{"a/b": 1.}` over numbers (lists by index)."""
  flat = {}
  if isinstance(metrics, dict):
    for key, value in metrics.items():
      flat.update(flatten(value, f"{prefix}{key}/"))
  elif isinstance(metrics, (list, tuple)):
    for index, value in enumerate(metrics):
      flat.update(flatten(value, f"{prefix}{index}/"))
  elif isinstance(metrics, (int, float)) and not isinstance(metrics, bool):
    flat[prefix[:-1]] = float(metrics)
  return flat


def compare(record, metrics):
  """Metric paths where `metrics` differs from `record` beyond its tolerance.

  The tolerance of a path (`tolerance_of`) is the record's `tolerance`
  entry whose key is a pattern matching the path (e.g.
  "*/constant:*/bits_per_dim"; the longest matching pattern wins), else the
  entry whose key is the path's last component (e.g. "bits_per_dim",
  "auroc"), else its "default" entry; paths with none are not compared. Returns a list of
  `(path, recorded, measured, tolerance)`; a path missing from `metrics` is
  reported with `measured = None`.
  """
  return [(path, value, new, allowed)
          for path, _, value, new, allowed in _compared(record, metrics)
          if new is None or abs(new - value) > allowed]


def _kind(path):
  """A metric path's kind: its last component, or a per-level list's name."""
  kind = path.rsplit("/", 1)[-1]
  if kind.isdigit():
    kind = path.rsplit("/", 2)[-2]
  return kind


def is_pattern(key):
  """Whether a tolerance key is a path pattern (has "/" or "*") rather than a kind."""
  return "/" in key or "*" in key


def tolerance_of(tolerance, path):
  """The absolute tolerance of metric `path` under a record's `tolerance`, or None.

  Patterns (`is_pattern`, `fnmatch` syntax against the whole path) first,
  the longest matching one; then the path's kind; then "default".
  """
  matching = [k for k in tolerance if is_pattern(k)
              and fnmatch.fnmatchcase(path, k)]
  if matching:
    return tolerance[max(matching, key=len)]
  return tolerance.get(_kind(path), tolerance.get("default"))


def _compared(record, metrics):
  """`(path, kind, recorded, measured or None, tolerance)` of every compared path."""
  measured = flatten(metrics)
  for path, value in sorted(flatten(record["metrics"]).items()):
    allowed = tolerance_of(record["tolerance"], path)
    if allowed is not None:
      yield path, _kind(path), value, measured.get(path), allowed


def rerun_entry(record, metrics, *, runs=None, repo_dir=".", machine=None):
  """One entry of a record's `reruns`: a re-run of its commands, checked against it.

  Args:
    record: the record (`read_record`).
    metrics: the re-run's metrics, in the record's `metrics` form.
    runs: `{run name: run_summary(...)}` of the re-run's folders; their
      mixed precision, step limit and batch (what most often explains a
      difference) are kept, and from their `training.json` the steps
      reached, the stop reason, the training seconds and images/s (as
      `training_<key>`).
    repo_dir, machine: as `make_record`'s.

  Returns:
    `{"checked_at", "commit", "machine", "runs", "numbers_compared",
    "beyond_tolerance": [{"path", "recorded", "measured", "tolerance"}],
    "largest_differences": {kind: {"path", "difference"}}}`, the difference
    signed (measured - recorded).
  """
  compared = list(_compared(record, metrics))
  largest = {}
  for path, kind, value, new, _ in compared:
    if new is not None and (kind not in largest or abs(new - value) > abs(
        largest[kind]["difference"])):
      largest[kind] = {"path": path, "difference": new - value}
  kept = ("mixed_precision", "train_steps", "batch_size")
  trained = ("step", "stop_reason", "train_seconds", "images_per_second")

  def kept_of(summary):
    entry = {key: summary[key] for key in kept if key in summary}
    training = summary.get("training", {})
    entry.update({f"training_{key}": training[key] for key in trained
                  if training.get(key) is not None})
    return entry

  return {
      "checked_at": datetime.datetime.now(datetime.timezone.utc).strftime(
          "%Y-%m-%d %H:%M UTC"),
      "commit": git_commit(repo_dir),
      "machine": machine or machine_description(),
      "runs": {name: kept_of(summary) for name, summary in (runs or {}).items()},
      "numbers_compared": len(compared),
      "beyond_tolerance": [
          {"path": path, "recorded": value, "measured": new,
           "tolerance": allowed}
          for path, _, value, new, allowed in compared
          if new is None or abs(new - value) > allowed],
      "largest_differences": dict(sorted(largest.items())),
  }
