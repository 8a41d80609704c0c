r"""Does a mixed-precision run track the float32 run? Trains the same run in each precision.

    python benchmarks/mixed_precision_curve.py            # fashion_mnist, 300 steps, runs/mixed_precision_curve/
    python benchmarks/mixed_precision_curve.py --precisions=none,bfloat16 \
        --train_steps=1000 --hidden_width=128

Each precision (`TrainConfig.mixed_precision`) trains the same config, seed
and data (real Fashion-MNIST from `--data_dir`, padded to 32x32) with
`glow_ood.train.train` in its own folder under `--workdir`; the program then
prints the training bits/dim every `--log_every` steps side by side (from
the runs' TensorBoard events), each precision's largest and final difference
from float32, the final evaluation, and the seconds each run took. On CPUs
without native bfloat16 / float16 arithmetic (AVX2 machines) the
low-precision runs are slower: this measures agreement, not speed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from launch import bootstrap  # pylint: disable=g-bad-import-order,unused-import

# pylint: disable=g-import-not-at-top,wrong-import-position
import time

from absl import app
from absl import flags
import tensorflow as tf

from glow_ood import configs
from glow_ood.train import loop

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """Defines this program's flags (when it runs, not when it is imported:
  tests import its helpers beside launchers that define flags of the same
  names)."""
  flags.DEFINE_list("precisions", ["none", "bfloat16", "float16"],
                    f"Precisions to train, of {configs.MIXED_PRECISION}.",
                    flag_values=flag_values)
  flags.DEFINE_string("workdir", "runs/mixed_precision_curve",
                      "Parent folder of the runs (one subfolder per "
                      "precision; an existing one is resumed, so use a new "
                      "folder to measure afresh).", flag_values=flag_values)
  flags.DEFINE_string("dataset", "fashion_mnist", "Training dataset.",
                      flag_values=flag_values)
  flags.DEFINE_string("data_dir", None, "Local data folder (default: the "
                      "project's, $GLOW_OOD_DATA_DIR or ../shared/data).",
                      flag_values=flag_values)
  for name, default, help_text in (
      ("train_steps", 300, "Steps per run."),
      ("log_every", 25, "Steps between compared values."),
      ("num_levels", 3, "Glow levels."),
      ("num_steps_per_level", 4, "Steps per level."),
      ("hidden_width", 64, "Coupling network width."),
      ("batch_size", 32, "Batch size.")):
    flags.DEFINE_integer(name, default, help_text, flag_values=flag_values)


def _config(precision):
  data = dict(dataset=FLAGS.dataset, pad_to=32)
  if FLAGS.data_dir:
    data["data_dir"] = FLAGS.data_dir
  return configs.TrainConfig(
      model=configs.GlowConfig(
          image_shape=(32, 32, 1), num_levels=FLAGS.num_levels,
          num_steps_per_level=FLAGS.num_steps_per_level,
          hidden_width=FLAGS.hidden_width),
      data=configs.DataConfig(**data), eval_datasets=("mnist",),
      batch_size=FLAGS.batch_size, init_batch_size=256,
      train_steps=FLAGS.train_steps, warmup_steps=50,
      log_every=FLAGS.log_every, eval_every=0,
      checkpoint_every=FLAGS.train_steps, eval_num_examples=1000,
      mixed_precision=precision, num_samples=4)


def train_curve(workdir):
  """`{step: training bits/dim}` from the run's TensorBoard events (`train/`)."""
  curve = {}
  for path in sorted(tf.io.gfile.glob(os.path.join(workdir, "train",
                                                   "events.out.tfevents.*"))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == "bits_per_dim":
          curve[event.step] = float(tf.make_ndarray(value.tensor))
  return curve


def comparison_lines(curves, results, seconds):
  """The report: the curves side by side, each precision's difference from float32.

  Args:
    curves: `{precision: {step: training bits/dim}}`, in report order.
    results: `{precision: final evaluation}` (printed as given).
    seconds: `{precision: seconds the run took}`.

  Returns:
    Text lines: a table of the steps every curve has; for each precision
    but `"none"` (float32), the largest |difference| from float32 over those
    steps and the difference at the last; each run's evaluation and time.
  """
  names = list(curves)
  steps = sorted(set.intersection(*(set(c) for c in curves.values())))
  lines = ["", "Training bits/dim (mean over each logging interval):",
           "  step  " + "  ".join(f"{n:>9s}" for n in names)]
  for step in steps:
    lines.append(f"  {step:4d}  " +
                 "  ".join(f"{curves[n][step]:9.4f}" for n in names))
  if "none" in curves:
    for name in names:
      if name == "none":
        continue
      diffs = [abs(curves[name][s] - curves["none"][s]) for s in steps]
      lines.append(f"  {name}: largest |difference| from float32 "
                   f"{max(diffs):.4f} bits/dim, at the last step "
                   f"{diffs[-1]:.4f}")
  for name in names:
    lines.append(f"  {name}: final evaluation {results[name]}, "
                 f"{seconds[name]:.0f} s")
  return lines


def main(argv):
  del argv
  for precision in FLAGS.precisions:
    if precision not in configs.MIXED_PRECISION:
      raise app.UsageError(f"Unknown precision {precision!r}; choose from "
                           f"{configs.MIXED_PRECISION}.")
  curves, results, seconds = {}, {}, {}
  for precision in FLAGS.precisions:
    workdir = os.path.join(FLAGS.workdir, precision)
    start = time.perf_counter()
    results[precision] = loop.train(_config(precision), workdir)
    seconds[precision] = time.perf_counter() - start
    curves[precision] = train_curve(workdir)
  for line in comparison_lines(curves, results, seconds):
    print(line)


if __name__ == "__main__":
  define_flags()
  bootstrap.run(main, __file__)
