r"""Trains a Glow: one flagfile per experiment, resumable by re-running.

  python launch/train.py --flagfile=launch/flagfiles/fashion_mnist_glow_cpu.cfg \
      --workdir=runs/fashion_mnist_glow_cpu

Later flags override the flagfile's. Re-running the same command resumes from
the last checkpoint in --workdir (the model and data flags must stay the
same). The run describes itself in <workdir>/config.json (what
launch/evaluate.py and glow_ood.runs.load_run read); the effective flags go to
<workdir>/flags.cfg, so `python launch/train.py --flagfile=<workdir>/flags.cfg`
relaunches the run. Watch it with `tensorboard --logdir=<workdir>`. Ends with
a table of bits/dim for the in-distribution splits and --eval_datasets.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from launch import bootstrap  # pylint: disable=g-bad-import-order

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags

from glow_ood import flags as glow_flags
from glow_ood import run_folder
from glow_ood import train

FLAGS = flags.FLAGS
glow_flags.define_train_flags()


def _write_flags(path):
  lines = [flag.serialize() for flag in glow_flags.train_flags(FLAGS).values()]
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    f.write("# Effective flags of this run; relaunch with --flagfile=<this file>.\n")
    f.write("\n".join(line for line in lines if line) + "\n")
  os.replace(path + ".tmp", path)


def print_results_table(results, in_distribution):
  """Prints `dataset/split -> bits/dim`, marking out-of-distribution sets."""
  width = max(len(name) for name in results) + 2
  print(f"\n{'dataset/split':<{width}}{'bits/dim':>9}  role")
  for name, value in results.items():
    role = ("in-distribution" if name.split("/")[0] == in_distribution
            else "out-of-distribution")
    print(f"{name:<{width}}{value:>9.4f}  {role}")


def main(argv):
  del argv
  workdir = FLAGS.workdir
  flags_path = os.path.join(workdir, run_folder.FLAGS_FILE)
  config = glow_flags.to_train_config(FLAGS)
  new_workdir = not os.path.exists(workdir)
  os.makedirs(workdir, exist_ok=True)
  saved_flags = None
  if os.path.exists(flags_path):
    with open(flags_path, encoding="utf-8") as f:
      saved_flags = f.read()
  _write_flags(flags_path)
  try:
    results = train.train(config, workdir)
  except train.ConfigurationError:
    # Found before any step: put flags.cfg back as it was; a folder this
    # command made holds nothing else and goes.
    if saved_flags is None:
      os.remove(flags_path)
    else:
      with open(flags_path, "w", encoding="utf-8") as f:
        f.write(saved_flags)
    if new_workdir and not os.listdir(workdir):
      os.rmdir(workdir)
    raise
  print_results_table(results, config.data.dataset)


if __name__ == "__main__":
  bootstrap.run(main, __file__, required=["workdir"])
