"""Tests of `benchmarks.mixed_precision_curve`: the curves read from events, and the comparison."""

import tensorflow as tf

from benchmarks import mixed_precision_curve as curve_lib


def test_train_curve_reads_the_training_bits_per_dim(tmp_path):
  writer = tf.summary.create_file_writer(str(tmp_path / "train"))
  with writer.as_default():
    for step, value in ((25, 3.5), (50, 3.25)):
      tf.summary.scalar("bits_per_dim", value, step=step)
      tf.summary.scalar("grad_norm", 9., step=step)
  writer.close()
  assert curve_lib.train_curve(str(tmp_path)) == {25: 3.5, 50: 3.25}
  assert curve_lib.train_curve(str(tmp_path / "none")) == {}


def test_comparison_lines_give_float32_differences_at_shared_steps():
  curves = {"none": {25: 3.5, 50: 3.25},
            "bfloat16": {25: 3.75, 50: 3.25, 75: 3.}}   # 75: not in float32's
  lines = curve_lib.comparison_lines(
      curves, {"none": {"x/test": 3.2}, "bfloat16": {"x/test": 3.3}},
      {"none": 10.4, "bfloat16": 20.6})
  assert lines == [
      "", "Training bits/dim (mean over each logging interval):",
      "  step       none   bfloat16",
      "    25     3.5000     3.7500",
      "    50     3.2500     3.2500",
      "  bfloat16: largest |difference| from float32 0.2500 bits/dim, at the "
      "last step 0.0000",
      "  none: final evaluation {'x/test': 3.2}, 10 s",
      "  bfloat16: final evaluation {'x/test': 3.3}, 21 s"]
  # Without float32 there is nothing to compare with.
  alone = curve_lib.comparison_lines({"float16": {25: 3.}}, {"float16": {}},
                                     {"float16": 1.})
  assert not any("difference" in line for line in alone)
