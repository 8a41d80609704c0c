"""Tests of `glow_ood.models.pixel_likelihoods`: normalization, a float64 reference, tails, samplers."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from glow_ood.models import pixel_likelihoods


def _sigmoid(t):
  return 1. / (1. + np.exp(-t))


def reference_discretized_logistic(k, loc, log_scale, n_bits):
  """Direct float64 formula: CDF differences, each bin on its accurate side.

  P(k) = F(k + 1/2) - F(k - 1/2) with F(-inf) = 0, F(inf) = 1; a bin above
  the location is written as a difference of survival functions
  `S(t) = 1 - F(t) = sigmoid(-(t - loc)/s)` so that no digit is lost near 1.
  """
  k, loc, s = (np.asarray(a, np.float64) for a in (k, loc, np.exp(log_scale)))
  last = 2 ** n_bits - 1
  upper = np.where(k >= last, np.inf, (k + 0.5 - loc) / s)
  lower = np.where(k <= 0, -np.inf, (k - 0.5 - loc) / s)
  with np.errstate(over="ignore", divide="ignore"):
    below = _sigmoid(upper) - _sigmoid(lower)
    above = _sigmoid(-lower) - _sigmoid(-upper)
    return np.log(np.where(lower > 0., above, below))


def all_values(n_bits, batch_shape):
  """`[n_bins, *batch_shape]` int32: every value, for every batch element."""
  n_bins = 2 ** n_bits
  return np.broadcast_to(
      np.arange(n_bins, dtype=np.int32).reshape((n_bins,) + (1,) * len(
          batch_shape)), (n_bins,) + tuple(batch_shape))


class DiscretizedLogisticTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ("1bit", 1, np.float32), ("2bits", 2, np.float32),
      ("5bits", 5, np.float32), ("8bits", 8, np.float32),
      ("8bits_float64", 8, np.float64))
  def test_probabilities_of_all_values_sum_to_one(self, n_bits, dtype):
    rng = np.random.default_rng(n_bits)
    n_bins = 2 ** n_bits
    loc = rng.uniform(-5., n_bins + 5., [7, 3]).astype(dtype)
    log_scale = rng.uniform(-4., np.log(n_bins), [7, 3]).astype(dtype)
    log_prob = pixel_likelihoods.discretized_logistic_log_prob(
        all_values(n_bits, [7, 3]), loc, log_scale, n_bits)
    self.assertEqual(log_prob.dtype, dtype)
    self.assertAllClose(tf.reduce_logsumexp(log_prob, axis=0),
                        np.zeros([7, 3]),
                        atol=1e-5 if dtype == np.float32 else 1e-12)

  @parameterized.named_parameters(("float32", np.float32, 2e-5),
                                  ("float64", np.float64, 1e-12))
  def test_matches_direct_float64_formula(self, dtype, rtol):
    rng = np.random.default_rng(0)
    n_bits = 8
    k = rng.integers(0, 256, [2000])
    k[:50], k[50:100] = 0, 255                               # the edge bins
    loc = rng.uniform(-20., 275., [2000])
    log_scale = rng.uniform(-1.5, 4., [2000])
    got = pixel_likelihoods.discretized_logistic_log_prob(
        k, loc.astype(dtype), log_scale.astype(dtype), n_bits)
    # float32 parameters: compare with the reference at the same rounded values.
    expected = reference_discretized_logistic(
        k, loc.astype(dtype), log_scale.astype(dtype), n_bits)
    # Where the reference itself is exact (no subnormal or zero differences).
    accurate = expected > -600.
    self.assertGreater(np.mean(accurate), 0.8)
    self.assertAllClose(np.asarray(got)[accurate], expected[accurate],
                        rtol=rtol, atol=rtol)

  def test_far_tails_stay_accurate_where_cdf_differences_underflow(self):
    # Bins 30..200 scales away from the location: P(k) ~ e^-100 .. e^-600,
    # which float32 CDF differences would give as log(0) = -inf.
    k = np.array([0, 10, 128, 250, 255, 120, 130])
    loc = np.array([200., 240., 10., 5., 2., 128., 128.])
    log_scale = np.array([0., 0., -1., -0.5, 0., -4., -4.])
    expected = reference_discretized_logistic(k, loc, log_scale, 8)
    self.assertTrue(np.all(expected < -20.))
    got = pixel_likelihoods.discretized_logistic_log_prob(
        k, loc.astype(np.float32), log_scale.astype(np.float32), 8)
    self.assertAllClose(got, expected, rtol=1e-5)

  def test_gradients_are_finite_at_extreme_parameters(self):
    k = tf.constant([0, 5, 255, 128, 128, 7])
    loc = tf.constant([300., -40., -40., 128., 128., 7.])
    log_scale = tf.constant([-7., -7., -7., -7., 8., 0.])
    with tf.GradientTape() as tape:
      tape.watch([loc, log_scale])
      log_prob = pixel_likelihoods.discretized_logistic_log_prob(
          k, loc, log_scale, 8)
    for grad in tape.gradient(log_prob, [loc, log_scale]):
      self.assertTrue(np.all(np.isfinite(grad)))
    self.assertTrue(np.all(np.isfinite(log_prob)))

  def test_a_sharp_logistic_puts_its_mass_in_the_bin_of_its_location(self):
    log_prob = pixel_likelihoods.discretized_logistic_log_prob(
        [0, 3, 7, 6], [0.2, 3.1, 6.9, 3.], [-6., -6., -6., -6.], 3)
    self.assertAllClose(log_prob[:3], [0., 0., 0.], atol=1e-6)
    self.assertLess(log_prob[3], -100.)

  def test_broadcasts_parameters_against_values(self):
    log_prob = pixel_likelihoods.discretized_logistic_log_prob(
        np.zeros([4, 2, 2, 1], np.int32), 1.5, 0., 8)
    self.assertEqual(log_prob.shape, [4, 2, 2, 1])

  def test_float_values_raise_type_error_naming_the_binning(self):
    with self.assertRaisesRegex(TypeError, r"integer pixel values.*// 2\*\*"):
      pixel_likelihoods.discretized_logistic_log_prob(
          np.zeros([3], np.float32), 0., 0., 8)

  def test_bad_n_bits_raises(self):
    with self.assertRaisesRegex(ValueError, "n_bits must be in 1..8"):
      pixel_likelihoods.discretized_logistic_log_prob([0], 0., 0., 9)

  def test_sampler_frequencies_match_the_probabilities(self):
    n_bits, num = 3, 40000
    loc = np.full([num], 2.3, np.float32)
    log_scale = np.full([num], 0.2, np.float32)
    draws = pixel_likelihoods.discretized_logistic_sample(
        loc, log_scale, n_bits, seed=[4, 2])
    self.assertEqual(draws.dtype, tf.int32)
    frequencies = np.bincount(draws.numpy(), minlength=8) / num
    probs = np.exp(pixel_likelihoods.discretized_logistic_log_prob(
        np.arange(8), 2.3, 0.2, n_bits))
    # Binomial standard error is at most sqrt(0.25 / 40000) = 0.0025.
    self.assertAllClose(frequencies, probs, atol=0.01)
    self.assertAllEqual(draws, pixel_likelihoods.discretized_logistic_sample(
        loc, log_scale, n_bits, seed=[4, 2]))


class Log1mexpTest(tf.test.TestCase):

  def test_matches_float64_reference_and_has_finite_gradients(self):
    x = np.logspace(-6, 2, 200)
    expected = np.log(-np.expm1(-x))
    x32 = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
      tape.watch(x32)
      got = pixel_likelihoods.log1mexp(x32)
    self.assertAllClose(got, expected, rtol=1e-5, atol=1e-7)
    grad = tape.gradient(got, x32)
    self.assertAllClose(grad, 1. / np.expm1(x), rtol=1e-4)


class CategoricalTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(("1bit", 1), ("2bits", 2), ("8bits", 8))
  def test_probabilities_of_all_values_sum_to_one(self, n_bits):
    n_bins = 2 ** n_bits
    rng = np.random.default_rng(n_bits)
    logits = rng.normal(0., 3., [5, 3, n_bins]).astype(np.float32)
    log_prob = pixel_likelihoods.categorical_log_prob(
        all_values(n_bits, [5, 3]), logits[np.newaxis])
    self.assertEqual(log_prob.shape, [n_bins, 5, 3])
    self.assertAllClose(tf.reduce_logsumexp(log_prob, axis=0),
                        np.zeros([5, 3]), atol=1e-5)

  def test_matches_float64_log_softmax(self):
    rng = np.random.default_rng(1)
    logits = rng.normal(0., 10., [300, 256])
    k = rng.integers(0, 256, [300])
    expected = (logits[np.arange(300), k] - logits.max(-1) - np.log(
        np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)))
    got = pixel_likelihoods.categorical_log_prob(k, logits)
    self.assertAllClose(got, expected, rtol=1e-12, atol=1e-12)

  def test_float_values_raise_type_error(self):
    with self.assertRaisesRegex(TypeError, "integer pixel values"):
      pixel_likelihoods.categorical_log_prob(np.zeros([2]), np.zeros([2, 4]))

  def test_sampler_frequencies_match_the_probabilities(self):
    num = 40000
    logits = np.log(np.array([0.1, 0.6, 0.05, 0.25], np.float32))
    draws = pixel_likelihoods.categorical_sample(
        np.broadcast_to(logits, [num, 4]), seed=[1, 7])
    self.assertEqual(draws.dtype, tf.int32)
    frequencies = np.bincount(draws.numpy(), minlength=4) / num
    self.assertAllClose(frequencies, [0.1, 0.6, 0.05, 0.25], atol=0.01)


if __name__ == "__main__":
  tf.test.main()
