r"""Ranks OOD scores (glow_ood/scores/) on in -> out dataset pairs, with intervals.

  python launch/ood_benchmark.py --flagfile=launch/flagfiles/ood_benchmark.cfg

Trains (or reuses) CPU-size models of the family --model (glow, pixelcnn or
vae), `--num_seeds` per in-distribution dataset, and per seed one background
model for each --mutation_rate x --background_l2 (Ren et al.'s likelihood
ratio), in --workdir; scores every pair and writes <workdir>/results.json
(per family: AUROC with intervals, per-seed values, AUPR-In/Out, FPR at 95%
TPR) and <workdir>/results.md (the AUROC table of every family run in the
folder, with a model column), then prints the table. Re-running the command
resumes: finished models and cells are reused.

  python launch/ood_benchmark.py --flagfile=launch/flagfiles/ood_families_pixelcnn.cfg

--model_runs=<run folder>,... scores finished training runs instead of
training models for their dataset (their backgrounds are still trained), as
ood_benchmark_cifar10.cfg does with runs/cifar10_glow_cpu on issue 21's
CIFAR-10 pairs.

  python launch/ood_benchmark.py --flagfile=launch/flagfiles/ood_benchmark_cifar10.cfg

See glow_ood/experiments/ood_benchmark.py and docs/OOD_BENCHMARK.md.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from launch import bootstrap  # pylint: disable=g-bad-import-order

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags

from glow_ood import fileio
from glow_ood import flags as glow_flags
from glow_ood.experiments import ood_benchmark

FLAGS = flags.FLAGS
bootstrap.import_model_modules(__file__)   # its families get their flags
glow_flags.define_ood_benchmark_flags()


def main(argv):
  del argv
  start = time.perf_counter()
  config = glow_flags.to_benchmark_config(FLAGS)
  fileio.check_writable(FLAGS.workdir, "--workdir")
  ood_benchmark.run_benchmark(config, FLAGS.workdir,
                              log=lambda line: print(line, flush=True))
  with open(os.path.join(FLAGS.workdir, "results.md"), encoding="utf-8") as f:
    print("\n" + f.read())
  print(f"Done in {time.perf_counter() - start:.0f} s; results in "
        f"{FLAGS.workdir}/results.json and results.md.")


def console_main():
  """The console script `glow-ood-ood-benchmark` (setup.py), from any folder."""
  bootstrap.run(main, __file__)


if __name__ == "__main__":
  console_main()
