r"""Trains a Glow: one flagfile per experiment, resumable by re-running.

  python launch/train.py --flagfile=launch/flagfiles/fashion_mnist_glow_cpu.cfg \
      --workdir=runs/fashion_mnist_glow_cpu

Later flags override the flagfile's. Re-running the same command resumes from
the last checkpoint in --workdir; the effective flags are written to
<workdir>/flags.cfg, so `python launch/train.py --flagfile=<workdir>/flags.cfg`
relaunches any run. Watch it with `tensorboard --logdir=<workdir>`. Ends with a
table of bits/dim for the in-distribution splits and --eval_datasets.
"""

import os
import shutil
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
import logging

from absl import app
from absl import flags
from absl import logging as absl_logging
import tensorflow as tf

from glow_ood import data
from glow_ood import flags as glow_flags
from glow_ood import train
from launch import cli

FLAGS = flags.FLAGS
glow_flags.define_train_flags()


def _flag_lines(lines):
  """`{flag name: its serialized line}` ("--name=value", "--name", "--noname")."""
  names = glow_flags.module_flags(FLAGS)
  values = {}
  for line in lines:
    line = line.strip()
    if not line.startswith("--"):
      continue
    name = line[2:].split("=", 1)[0]
    if name not in names and name.startswith("no") and name[2:] in names:
      name = name[2:]
    values[name] = line
  return values


def _saved_flags(path):
  with open(path, encoding="utf-8") as f:
    return _flag_lines(f)


def _current_flags():
  return _flag_lines(flag.serialize()
                     for flag in glow_flags.module_flags(FLAGS).values())


def _check_resume_compatible(path):
  """A workdir's model / data flags must not change between runs."""
  if not os.path.exists(path):
    return
  saved, current = _saved_flags(path), _current_flags()
  changed = [f"{saved.get(name, f'--{name} unset')} in the run, "
             f"{current.get(name, f'--{name} unset')} now"
             for name in glow_flags.RESUME_SENSITIVE_FLAGS
             if saved.get(name, "") != current.get(name, "")]
  if changed:
    raise ValueError(
        f"{os.path.dirname(path)} holds a run with other model or data flags ("
        + "; ".join(changed) + "). Resume with the same flags "
        f"(--flagfile={path}) or use a new --workdir.")


def _write_flags(path):
  lines = [flag.serialize() for flag in glow_flags.module_flags(FLAGS).values()]
  with open(path, "w", encoding="utf-8") as f:
    f.write("# Effective flags of this run; relaunch with --flagfile=<this file>.\n")
    f.write("\n".join(line for line in lines if line) + "\n")


def print_results_table(results, in_distribution):
  """Prints `dataset/split -> bits/dim`, marking out-of-distribution sets."""
  width = max(len(name) for name in results) + 2
  print(f"\n{'dataset/split':<{width}}{'bits/dim':>9}  role")
  for name, value in results.items():
    role = ("in-distribution" if name.split("/")[0] == in_distribution
            else "out-of-distribution")
    print(f"{name:<{width}}{value:>9.4f}  {role}")


class _QuietTensorFlowInfo(logging.Filter):
  """Drops TensorFlow's own INFO lines (e.g. one per checkpoint shard); ours stay."""

  def filter(self, record):
    return (record.levelno > logging.INFO or
            f"{os.sep}tensorflow{os.sep}" not in record.pathname)



def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  tf.get_logger().setLevel("ERROR")  # TensorFlow's INFO lines; ours stay
  absl_logging.get_absl_logger().addFilter(_QuietTensorFlowInfo())
  workdir = FLAGS.workdir
  flags_path = os.path.join(workdir, "flags.cfg")
  new_workdir = not os.path.exists(workdir)
  try:
    config = glow_flags.to_train_config(FLAGS)
    _check_resume_compatible(flags_path)
    os.makedirs(workdir, exist_ok=True)
    _write_flags(flags_path)
    results = train.train(config, workdir)
  except (ValueError, data.DatasetNotFoundError) as e:
    # Configuration and data problems, found before any training step.
    if new_workdir and os.path.isdir(workdir):
      shutil.rmtree(workdir)  # nothing of value: no step was taken
    sys.exit(cli.error_line(__file__, e))
  except train.TrainingDivergedError as e:
    sys.exit(cli.error_line(__file__, e))
  print_results_table(results, config.data.dataset)


if __name__ == "__main__":
  flags.mark_flags_as_required(["workdir"])
  app.run(main)
