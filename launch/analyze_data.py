r"""Data statistics (paper Fig. 6, 11) and the second-order prediction (Section 5).

  # statistics of the training data p and of other datasets q
  python launch/analyze_data.py --datasets=cifar10_jpeg,grayed:cifar10_jpeg:0.5
  # with an additive-Glow run: the predicted vs measured likelihood gap,
  # latent-code statistics (Fig. 12-13)
  python launch/analyze_data.py --workdir=runs/cifar10_cvglow_cpu \
      --datasets=cifar10_jpeg,mnist

Writes analysis.json, analysis.md and figures/ to --output_dir and prints
analysis.md. Datasets are conformed to one image shape (MNIST is padded and
tiled to 32x32x3 under a CIFAR model). See glow_ood/experiments/analyze_data.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from launch import bootstrap  # pylint: disable=g-bad-import-order

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags

from glow_ood import data
from glow_ood import fileio
from glow_ood import flags as glow_flags
from glow_ood import runs
from glow_ood.experiments import analyze_data

FLAGS = flags.FLAGS
bootstrap.import_model_modules(__file__)   # its families get their flags
glow_flags.define_analyze_data_flags()


def main(argv):
  del argv
  config = glow_flags.to_analysis_config(FLAGS)
  if not FLAGS.workdir and not config.datasets:
    raise ValueError("Give --datasets=p,q,... or --workdir=<trained run>.")
  output_dir = FLAGS.output_dir or (
      os.path.join(FLAGS.workdir, "analysis") if FLAGS.workdir else
      os.path.join("runs", "analysis_" + config.datasets[0].replace(":", "_")))
  fileio.check_writable(output_dir, "--output_dir")
  run = runs.load_run(FLAGS.workdir) if FLAGS.workdir else None
  # Every dataset before any work (p: its train split, the others: test).
  data_config = config.run_data(run.config.data) if run is not None else (
      config.data)
  p = run.config.data.dataset if run is not None else config.datasets[0]
  what = f"--datasets={','.join(config.datasets)}"
  data.check_datasets(data_config, [p], splits=("train",),
                      what="--workdir's dataset" if run is not None else what)
  data.check_datasets(data_config, [d for d in config.datasets if d != p],
                      what=what)
  analyze_data.analyze(config, output_dir, run=run)
  with open(os.path.join(output_dir, "analysis.md"), encoding="utf-8") as f:
    print(f.read())
  print(f"Written to {output_dir}/ (analysis.json, analysis.md, figures/).")


def console_main():
  """The console script `glow-ood-analyze-data` (setup.py), from any folder."""
  bootstrap.run(main, __file__)


if __name__ == "__main__":
  console_main()
