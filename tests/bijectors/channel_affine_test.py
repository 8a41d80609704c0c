"""Tests for `bijectors.channel_affine.ChannelAffine`."""

from absl.testing import parameterized
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors import bijector_test_util as util
from bijectors import channel_affine

tfb = tfp.bijectors
tfd = tfp.distributions


def _make_layer(num_channels=4, dtype=tf.float32, seed=0):
  """A `ChannelAffine` moved away from the identity by random parameters."""
  layer = channel_affine.ChannelAffine(num_channels, dtype=dtype)
  util.perturb_variables(layer, stddev=0.5, seed=seed)
  return layer


class ChannelAffineTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      util.named_product(mode=util.MODES, dtype=util.DTYPES))
  def test_bijective_and_log_det(self, mode, dtype):
    util.assert_bijective_and_finite(
        self, _make_layer(dtype=dtype), util.normal([3, 4, 4, 4], 1, dtype),
        mode=mode)

  @parameterized.named_parameters(
      ("scalar", []), ("one", [1]), ("three", [3]), ("two_by_one", [2, 1]))
  def test_batch_shapes(self, batch_shape):
    values = util.assert_bijective_and_finite(
        self, _make_layer(), util.normal(batch_shape + [4, 4, 4], 2))
    self.assertEqual(values["fldj"].shape, tuple(batch_shape))
    self.assertEqual(values["ildj"].shape, tuple(batch_shape))

  def test_starts_as_identity(self):
    layer = channel_affine.ChannelAffine(4)
    x = util.normal([2, 4, 4, 4], 3)
    self.assertAllEqual(layer.forward(x), x)
    self.assertAllEqual(layer.forward_log_det_jacobian(x, event_ndims=3),
                        [0., 0.])
    self.assertLen(layer.trainable_variables, 2)  # loc, log_scale

  def test_forward_and_log_det_formula(self):
    layer = _make_layer()
    x = util.normal([2, 3, 5, 4], 4)
    self.assertAllClose(layer.forward(x),
                        (x - layer.loc) * tf.exp(-layer.log_scale))
    # fldj = -H * W * sum_c log_scale[c].
    expected = -15. * tf.reduce_sum(layer.log_scale)
    self.assertAllClose(layer.forward_log_det_jacobian(x, event_ndims=3),
                        [expected, expected])

  def test_density_is_per_channel_gaussian(self):
    # As Glow's learned top prior: with a standard normal latent, the density
    # of x is N(x; loc, exp(log_scale)^2) per channel.
    layer = _make_layer()
    x = util.normal([3, 2, 2, 4], 5)
    flow = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(0., 1.), [2, 2, 4]), tfb.Invert(layer))
    expected = tf.reduce_sum(
        tfd.Normal(layer.loc, tf.exp(layer.log_scale)).log_prob(x),
        axis=[-3, -2, -1])
    self.assertAllClose(flow.log_prob(x), expected, rtol=1e-5)

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"),
                                  ("xla", "xla"))
  def test_log_prob_consistent(self, mode):
    util.assert_log_prob_consistent(self, _make_layer(),
                                    util.normal([3, 4, 4, 4], 6), mode=mode)


if __name__ == "__main__":
  tf.test.main()
