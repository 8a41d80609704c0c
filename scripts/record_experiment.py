r"""Writes (or checks) the record of an experiment: docs/results/<experiment>.json.

A record says how its numbers were made (commands, commit, machine) and holds
the numbers the docs quote; `scripts/render_docs.py` renders the docs' tables
from the records. See `glow_ood.experiments.records`.

  python scripts/record_experiment.py --experiment=cifar10_glow_cpu \
      --description="Glow on JPEG CIFAR-10, scored on SVHN, ..." \
      --command="python launch/train.py --flagfile=launch/flagfiles/cifar10_glow_cpu.cfg --workdir=runs/cifar10_glow_cpu" \
      --command="python launch/evaluate.py --workdir=runs/cifar10_glow_cpu" \
      --workdir=runs/cifar10_glow_cpu \
      --evaluation=glow=runs/cifar10_glow_cpu/evaluation/results.json \
      --tolerance=bits_per_dim=0.05 --tolerance=auroc=0.03

  # after re-running the commands: do the new numbers agree with the record?
  python scripts/record_experiment.py --experiment=cifar10_glow_cpu --check \
      --evaluation=glow=runs/cifar10_glow_cpu/evaluation/results.json
  # ... and keep the outcome in the record (`reruns`), with the run's precision
  python scripts/record_experiment.py --experiment=cifar10_glow_cpu --check \
      --keep_rerun --workdir=runs/cifar10_glow_cpu \
      --evaluation=glow=runs/cifar10_glow_cpu/evaluation/results.json

--evaluation=<key>=<results.json> condenses a launch/evaluate.py result into
metrics[<key>]; --json=<key>=<file> takes a JSON file of metrics as it is
(e.g. launch/analyze_data.py's or scripts/match_jpeg_quality.py's output);
--curves=<key>=<run folder> the bits/dim curves of its periodic evaluations.
--check exits 1 and lists every metric that differs beyond the record's
tolerance.
"""

import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from glow_ood import fileio
from glow_ood.experiments import records

RESULTS_DIR = os.path.join("docs", "results")

FLAGS = flags.FLAGS
flags.DEFINE_string("experiment", None, "The record's name: "
                    "docs/results/<experiment>.json.")
flags.DEFINE_string("description", "", "One sentence: what the experiment is.")
flags.DEFINE_multi_string("command", [], "A command that made the numbers, "
                          "runnable from the repository root (repeat).")
flags.DEFINE_multi_string("workdir", [], "A run folder whose settings and "
                          "training summary go into the record (repeat).")
flags.DEFINE_multi_string("evaluation", [], "<key>=<results.json of "
                          "launch/evaluate.py> (repeat).")
flags.DEFINE_multi_string("json", [], "<key>=<JSON file of metrics> (repeat).")
flags.DEFINE_multi_string("curves", [], "<key>=<run folder>: the bits/dim of "
                          "each set at every periodic evaluation, from the "
                          "run's TensorBoard events (<workdir>/eval).")
flags.DEFINE_multi_string("tolerance", [], "<metric name>=<absolute "
                          "tolerance> for re-runs, e.g. bits_per_dim=0.05, "
                          "or <path pattern>=<tolerance> for some paths, e.g. "
                          "'*/uniform_random/*/bits_per_dim=1' (repeat; "
                          "'default' for the rest; the longest matching "
                          "pattern wins).")
flags.DEFINE_multi_string("note", [], "A sentence the record keeps (repeat).")
flags.DEFINE_boolean("check", False, "Compare the given metrics with the "
                     "existing record instead of writing it.")
flags.DEFINE_boolean("keep_rerun", False, "With --check: add this re-run "
                     "(machine, commit, precision, what differed) to the "
                     "record's `reruns`, whatever the outcome.")
flags.DEFINE_string("results_dir", RESULTS_DIR, "Folder of the records.")


def _pairs(values, flag):
  pairs = {}
  for value in values:
    key, sep, rest = value.partition("=")
    if not sep or not key or not rest:
      raise app.UsageError(f"--{flag}={value!r}: expected <key>=<value>.")
    pairs[key] = rest
  return pairs


def _metrics():
  metrics = {}
  for key, path in _pairs(FLAGS.evaluation, "evaluation").items():
    results = fileio.read_json(path, what="evaluation results",
                               fix="run launch/evaluate.py first")
    metrics[key] = records.evaluation_metrics(results)
  for key, path in _pairs(FLAGS.json, "json").items():
    metrics[key] = fileio.read_json(path, what="metrics file")
  for key, workdir in _pairs(FLAGS.curves, "curves").items():
    metrics[key] = records.evaluation_curves(workdir)
  if not metrics:
    raise app.UsageError("No metrics: give --evaluation=<key>=<results.json> "
                         "or --json=<key>=<file>.")
  return metrics


def _runs():
  return {os.path.basename(os.path.normpath(workdir)):
          records.run_summary(workdir) for workdir in FLAGS.workdir}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not FLAGS.experiment:
    raise app.UsageError("--experiment is required (the record's name).")
  path = os.path.join(FLAGS.results_dir, FLAGS.experiment + ".json")
  metrics = _metrics()
  if FLAGS.check:
    record = records.read_record(path)
    differences = records.compare(record, metrics)
    for name, recorded, measured, allowed in differences:
      print(f"{name}: recorded {recorded:.6g}, measured "
            f"{'missing' if measured is None else f'{measured:.6g}'} "
            f"(tolerance {allowed:g})")
    print(f"{len(differences)} of {len(records.flatten(record['metrics']))} "
          f"recorded numbers differ beyond the tolerance of {path}.")
    if FLAGS.keep_rerun:
      entry = records.rerun_entry(record, metrics, runs=_runs())
      record.setdefault("reruns", []).append(entry)
      records.write_record(path, record)
      print(f"Kept the re-run in {path} (re-run {len(record['reruns'])}, "
            f"{entry['machine']['model_name']}).")
    return 1 if differences else 0
  if not FLAGS.command:
    raise app.UsageError("--command is required: how the numbers were made.")
  tolerance = {key: float(value) for key, value in
               _pairs(FLAGS.tolerance, "tolerance").items()}
  runs = _runs()
  record = records.make_record(
      FLAGS.experiment, FLAGS.description, FLAGS.command, metrics,
      tolerance=tolerance, runs=runs, notes=FLAGS.note)
  records.write_record(path, record)
  print(f"Wrote {path} ({len(records.flatten(metrics))} numbers, commit "
        f"{record['commit'][:12]}, {record['machine']['model_name']}).")
  return 0


if __name__ == "__main__":
  app.run(lambda argv: sys.exit(main(argv)))
