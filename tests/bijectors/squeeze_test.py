"""Tests for `bijectors.squeeze.Squeeze`."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tests.bijectors import bijector_test_util as util
from bijectors import squeeze


def _openai_squeeze2d(x, factor):
  """openai/glow's `squeeze2d`, written out index by index in numpy."""
  x = np.asarray(x)
  *batch, height, width, channels = x.shape
  f = factor
  y = np.zeros(batch + [height // f, width // f, channels * f * f], x.dtype)
  for h in range(height // f):
    for w in range(width // f):
      for c in range(channels):
        for i in range(f):
          for j in range(f):
            y[..., h, w, c * f * f + i * f + j] = (
                x[..., h * f + i, w * f + j, c])
  return y


class SqueezeTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      util.named_product(mode=util.MODES, dtype=util.DTYPES))
  def test_bijective_and_log_det(self, mode, dtype):
    util.assert_bijective_and_finite(
        self, squeeze.Squeeze(2), util.normal([3, 4, 4, 3], 1, dtype),
        mode=mode)

  @parameterized.named_parameters(
      ("scalar", []), ("one", [1]), ("three", [3]), ("two_by_one", [2, 1]))
  def test_batch_shapes(self, batch_shape):
    x = util.normal(batch_shape + [4, 6, 2], 2)
    values = util.assert_bijective_and_finite(self, squeeze.Squeeze(2), x)
    self.assertEqual(values["forward"].shape, tuple(batch_shape + [2, 3, 8]))
    # Constant zero log-det: a scalar, broadcastable to the batch shape (as
    # TFP's own volume-preserving bijectors return it).
    self.assertAllEqual(values["fldj"], np.zeros(values["fldj"].shape))

  @parameterized.named_parameters(("factor2", 2, [2, 4, 6, 3]),
                                  ("factor3", 3, [2, 6, 3, 2]))
  def test_matches_openai_channel_order(self, factor, shape):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    bijector = squeeze.Squeeze(factor)
    self.assertAllEqual(bijector.forward(x), _openai_squeeze2d(x, factor))
    self.assertAllEqual(bijector.inverse(_openai_squeeze2d(x, factor)), x)

  def test_first_half_of_channels_comes_from_first_half_of_input(self):
    x = np.concatenate([np.zeros([1, 4, 4, 2]), np.ones([1, 4, 4, 2])], -1)
    y = squeeze.Squeeze(2).forward(x.astype(np.float32))
    self.assertAllEqual(y[..., :8], np.zeros([1, 2, 2, 8]))
    self.assertAllEqual(y[..., 8:], np.ones([1, 2, 2, 8]))

  def test_event_shapes(self):
    bijector = squeeze.Squeeze(2)
    self.assertEqual(bijector.forward_event_shape([5, 8, 4, 3]), [5, 4, 2, 12])
    self.assertEqual(bijector.inverse_event_shape([4, 2, 12]), [8, 4, 3])
    self.assertEqual(bijector.forward_event_shape([None, 8, 4, 3]).as_list(),
                     [None, 4, 2, 12])
    self.assertAllEqual(bijector.forward_event_shape_tensor([5, 8, 4, 3]),
                        [5, 4, 2, 12])
    self.assertAllEqual(bijector.inverse_event_shape_tensor([4, 2, 12]),
                        [8, 4, 3])

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"))
  def test_unknown_batch_dimension(self, mode):
    bijector = squeeze.Squeeze(2)
    forward = tf.function(
        bijector.forward,
        input_signature=[tf.TensorSpec([None, 4, 4, 3], tf.float32)],
        autograph=False) if mode == "function" else bijector.forward
    x = util.normal([5, 4, 4, 3], 3)
    self.assertAllEqual(forward(x), _openai_squeeze2d(x, 2))

  def test_log_prob_consistent(self):
    for mode in util.MODES:
      util.assert_log_prob_consistent(self, squeeze.Squeeze(2),
                                      util.normal([3, 4, 4, 3], 4), mode=mode)

  def test_bad_arguments_raise(self):
    with self.assertRaisesRegex(ValueError, "positive integer"):
      squeeze.Squeeze(0)
    bijector = squeeze.Squeeze(2)
    with self.assertRaisesRegex(ValueError, "divisible by 2.*5x4"):
      bijector.forward(tf.zeros([1, 5, 4, 3]))
    with self.assertRaisesRegex(ValueError, "divisible by 2.*4x3"):
      bijector.forward(tf.zeros([4, 3, 3]))
    with self.assertRaisesRegex(ValueError, "divisible by 2.*7x4"):
      bijector.forward_event_shape([7, 4, 3])
    with self.assertRaisesRegex(
        ValueError, r"channels divisible by 4; got y of shape \[1, 2, 2, 6\]"):
      bijector.inverse(tf.zeros([1, 2, 2, 6]))
    with self.assertRaisesRegex(ValueError, r"rank >= 3.*\[4, 4\]"):
      bijector.forward(tf.zeros([4, 4]))
    with self.assertRaisesRegex(ValueError, "static event shape"):
      tf.function(bijector.forward, input_signature=[
          tf.TensorSpec([None, None, None, 1])]).get_concrete_function()


if __name__ == "__main__":
  tf.test.main()
