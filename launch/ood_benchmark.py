r"""Ranks OOD scores (glow_ood/scores/) on in -> out dataset pairs, with intervals.

  python launch/ood_benchmark.py --flagfile=launch/flagfiles/ood_benchmark.cfg

Trains (or reuses) CPU-size Glows and background Glows, `--num_seeds` of each
per in-distribution dataset, in --workdir; scores every pair and writes
<workdir>/results.json (AUROC with intervals, per-seed values, AUPR-In/Out,
FPR at 95% TPR) and <workdir>/results.md (the AUROC table), then prints the
table. Re-running the command resumes: finished models and cells are reused.
See glow_ood/ood_benchmark.py and docs/OOD_BENCHMARK.md.
"""

import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
import tensorflow as tf

from glow_ood import data
from glow_ood import flags as glow_flags
from glow_ood import ood_benchmark
from glow_ood import train
from launch import cli

FLAGS = flags.FLAGS
glow_flags.define_ood_benchmark_flags()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  tf.get_logger().setLevel("ERROR")
  start = time.perf_counter()
  try:
    config = glow_flags.to_benchmark_config(FLAGS)
    ood_benchmark.run_benchmark(config, FLAGS.workdir,
                                log=lambda line: print(line, flush=True))
  except (ValueError, FileNotFoundError, data.DatasetNotFoundError,
          train.TrainingDivergedError) as e:
    sys.exit(cli.error_line(__file__, e))
  with open(os.path.join(FLAGS.workdir, "results.md"), encoding="utf-8") as f:
    print("\n" + f.read())
  print(f"Done in {time.perf_counter() - start:.0f} s; results in "
        f"{FLAGS.workdir}/results.json and results.md.")


if __name__ == "__main__":
  app.run(main)
