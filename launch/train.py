r"""Trains a Glow: one flagfile per experiment, resumable by re-running.

  python launch/train.py --flagfile=launch/flagfiles/fashion_mnist_glow_cpu.cfg \
      --workdir=runs/fashion_mnist_glow_cpu

Later flags override the flagfile's. Re-running the same command resumes from
the last checkpoint in --workdir (the model and data flags must stay the
same). The run describes itself in <workdir>/config.json (what
launch/evaluate.py and glow_ood.runs.load_run read); the effective flags go to
<workdir>/flags.cfg, so `python launch/train.py --flagfile=<workdir>/flags.cfg`
relaunches the run; both are written once the start has succeeded (a refused
start changes nothing). Watch it with `tensorboard --logdir=<workdir>`. Ends
with a table of bits/dim for the in-distribution splits and --eval_datasets.

On a cluster, run the same command on every host with its own TF_CONFIG and
--strategy=multi_worker_mirrored (README: running on a cluster).

SIGTERM (a scheduler's preemption) or Ctrl-C while training saves a
checkpoint at the next step boundary (every worker of a cluster at the same
step), prints one line naming it and the command that resumes (this command
line), and exits with code 75 (`glow_ood.train.preemption.EXIT_CODE`);
re-running that command continues exactly where the run stopped.

A full or read-only disk while the run writes (a checkpoint, config.json,
results.json, TensorBoard events) ends it with one line naming the file,
the errno and the checkpoint the same command resumes from, exit code 74
(`glow_ood.write_errors.EXIT_CODE`); nothing written before is lost.

A worker of a cluster that dies, or sends no heartbeat for
--worker_timeout_seconds (hung), stops the others within about that time
with one line naming it (task and address), the newest checkpoint and this
command, and exit code 69 (`glow_ood.train.lost_workers.EXIT_CODE`; with
three workers or more, once the other survivors have exited too, at most
10 s after the line);
restarting every worker with its command resumes from that checkpoint.
"""

import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from launch import bootstrap  # pylint: disable=g-bad-import-order

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags

from glow_ood import flags as glow_flags
from glow_ood import train
from glow_ood.runs import folder as run_folder
from glow_ood.train import lost_workers
from glow_ood.train import preemption

FLAGS = flags.FLAGS
bootstrap.import_model_modules(__file__)   # its families get their flags
glow_flags.define_train_flags()


# Folders written absolute into flags.cfg, so it relaunches the same run from
# any folder.
_PATH_FLAGS = ("workdir", "data_dir", "tfds_data_dir", "init_from")


def _flags_file_text():
  lines = []
  for name, flag in glow_flags.train_flags(FLAGS).items():
    if name in _PATH_FLAGS and flag.value and "://" not in flag.value:
      lines.append(f"--{name}={os.path.abspath(flag.value)}")
    else:
      lines.append(flag.serialize())
  return ("# Effective flags of this run; relaunch with --flagfile=<this file>.\n"
          + "\n".join(line for line in lines if line) + "\n")


def _this_command():
  """The command line that started this program, as one shell line."""
  program, *args = sys.argv
  prefix = ["python"] if program.endswith(".py") else []
  return shlex.join(prefix + [program, *args])


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
  config = glow_flags.to_train_config(FLAGS)
  # flags.cfg is written with config.json, by the chief, once the start has
  # succeeded: a refused start leaves the folder as it was.
  try:
    results = train.train(config, workdir,
                          extra_files={run_folder.FLAGS_FILE: _flags_file_text()})
  except train.TrainingDivergedError as e:
    flags_file = os.path.join(workdir, run_folder.FLAGS_FILE)
    raise FloatingPointError(e.describe(
        f"python launch/train.py --flagfile={flags_file} --workdir={workdir} "
        f"--learning_rate={e.learning_rate:g}")) from e
  except train.TrainingPreemptedError as e:
    print(f"launch/train.py: {e.describe(_this_command())}", file=sys.stderr,
          flush=True)
    sys.exit(preemption.EXIT_CODE)
  except train.WorkerLostError as e:
    print(f"launch/train.py: {e.describe(_this_command())}", file=sys.stderr,
          flush=True)
    sys.stdout.flush()
    # The other survivors (3 workers or more) may still probe this one.
    lost_workers.linger(e, config.worker_timeout_seconds)
    # At once: TensorFlow's teardown waits on the lost peer's connections (up
    # to a minute measured with a hung one). Nothing is left to write: the
    # run lock is released, checkpoints and the events up to them are on disk.
    os._exit(lost_workers.EXIT_CODE)  # pylint: disable=protected-access
  if results:   # the other workers of a cluster leave the table to the chief
    print_results_table(results, config.data.dataset)


def console_main():
  """The console script `glow-ood-train` (setup.py), from any folder."""
  bootstrap.run(main, __file__, required=["workdir"])


if __name__ == "__main__":
  console_main()
