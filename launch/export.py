r"""Exports a trained run as a SavedModel OOD scorer that serves with TensorFlow alone.

  python launch/export.py --workdir=runs/fashion_mnist_glow_cpu \
      --output_dir=exports/fashion_mnist_glow_cpu
  saved_model_cli show --dir exports/fashion_mnist_glow_cpu --all

Any run folder with a config.json opens (any model family: glow, pixelcnn,
vae); its EMA weights are exported where the run kept them (--nouse_ema:
the trained weights). The signatures take uint8 images [None, H, W, C]:
log_prob (discrete log P(image), nats: launch/evaluate.py's
discrete_log_prob), bits_per_dim, decomposition (Glow), typicality (fitted
here on the run's held-out validation split, else its test split:
--typicality_fit_split), input_complexity, serving_default (all of them),
pad_like_training (the dataset's own shape, padded / tiled as training did)
and metadata (a JSON description: units, signs, what was fitted on what).
--output_dir must be new or empty: an export never overwrites. See
glow_ood/export/.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from launch import bootstrap  # pylint: disable=g-bad-import-order

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags

from glow_ood import export
from glow_ood import flags as glow_flags
from glow_ood import runs

FLAGS = flags.FLAGS
bootstrap.import_model_modules(__file__)   # its families get their flags
glow_flags.define_export_flags()


def main(argv):
  del argv
  config = glow_flags.to_export_config(FLAGS)
  export.check_output_dir(FLAGS.output_dir)
  if not os.path.isdir(FLAGS.workdir):
    raise FileNotFoundError(
        f"--workdir={FLAGS.workdir} does not exist; pass the folder of a "
        "trained run (launch/train.py --workdir=...).")
  run = runs.load_run(FLAGS.workdir, step=FLAGS.step, use_ema=FLAGS.use_ema)
  export.export_run(run, config, FLAGS.output_dir, use_ema=FLAGS.use_ema)


def console_main():
  """The console script `glow-ood-export` (setup.py), from any folder."""
  bootstrap.run(main, __file__, required=["workdir", "output_dir"])


if __name__ == "__main__":
  console_main()
