"""Tests for `bijectors.split_prior.SplitPrior`."""

from absl.testing import parameterized
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors import bijector_test_util as util
from bijectors import split_prior

tfb = tfp.bijectors
tfd = tfp.distributions

EVENT = [4, 4, 4]


def _make_prior(num_channels=4, dtype=tf.float32, seed=0, **kwargs):
  """A split prior moved off its initial standard normal."""
  prior = split_prior.SplitPrior(num_channels, dtype=dtype, **kwargs)
  util.perturb_variables(prior, stddev=0.1, seed=seed)
  return prior


class SplitPriorTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      util.named_product(mode=util.MODES, dtype=util.DTYPES))
  def test_bijective_and_log_det(self, mode, dtype):
    util.assert_bijective_and_finite(
        self, _make_prior(dtype=dtype), util.normal([3] + EVENT, 1, dtype),
        mode=mode)

  @parameterized.named_parameters(
      ("scalar", []), ("one", [1]), ("three", [3]), ("two_by_one", [2, 1]))
  def test_batch_shapes(self, batch_shape):
    values = util.assert_bijective_and_finite(
        self, _make_prior(), util.normal(batch_shape + EVENT, 2))
    self.assertEqual(values["fldj"].shape, tuple(batch_shape))
    self.assertEqual(values["ildj"].shape, tuple(batch_shape))

  def test_starts_as_standard_normal(self):
    prior = split_prior.SplitPrior(4)
    x = util.normal([2] + EVENT, 3)
    self.assertAllEqual(prior.forward(x), x)
    self.assertAllEqual(prior.forward_log_det_jacobian(x, event_ndims=3),
                        [0., 0.])
    self.assertLen(prior.trainable_variables, 3)  # conv kernel, bias, log_scale

  def test_forward_and_log_det_formula(self):
    prior = _make_prior(num_channels=6, num_kept=2)
    x = util.normal([2, 4, 4, 6], 4)
    mean, log_scale = prior.mean_and_log_scale(x[..., :2])
    self.assertEqual(mean.shape, [2, 4, 4, 4])
    self.assertEqual(log_scale.shape, [2, 4, 4, 4])
    expected = tf.concat(
        [x[..., :2], (x[..., 2:] - mean) * tf.exp(-log_scale)], axis=-1)
    self.assertAllClose(prior.forward(x), expected, atol=1e-6)
    self.assertAllClose(prior.forward_log_det_jacobian(x, event_ndims=3),
                        -tf.reduce_sum(log_scale, axis=[1, 2, 3]), atol=1e-5)

  def test_density_is_conditional_gaussian(self):
    # With a standard normal latent, x_b ~ N(mu(x_a), sigma(x_a)^2) and x_a
    # stays standard normal.
    prior = _make_prior()
    x = util.normal([3] + EVENT, 5)
    mean, log_scale = prior.mean_and_log_scale(x[..., :2])
    expected = (
        tf.reduce_sum(tfd.Normal(0., 1.).log_prob(x[..., :2]), axis=[1, 2, 3])
        + tf.reduce_sum(tfd.Normal(mean, tf.exp(log_scale)).log_prob(
            x[..., 2:]), axis=[1, 2, 3]))
    distribution = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(0., 1.), EVENT), tfb.Invert(prior))
    self.assertAllClose(distribution.log_prob(x), expected, rtol=1e-5)

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"),
                                  ("xla", "xla"))
  def test_log_prob_consistent(self, mode):
    util.assert_log_prob_consistent(self, _make_prior(),
                                    util.normal([3] + EVENT, 6), mode=mode)

  def test_bad_num_kept_raises(self):
    for num_kept in (0, 4, 5):
      with self.assertRaisesRegex(ValueError, r"num_kept must be in \[1, 3\]"):
        split_prior.SplitPrior(4, num_kept=num_kept)
    with self.assertRaisesRegex(ValueError, "num_kept must be"):
      split_prior.SplitPrior(1)


if __name__ == "__main__":
  tf.test.main()
