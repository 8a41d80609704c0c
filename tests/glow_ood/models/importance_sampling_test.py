"""Tests of `glow_ood.models.importance_sampling` against a model of known evidence.

The linear-Gaussian model p(z) = N(0, I_d), p(x | z) = N(W z + b, s^2 I) has
p(x) = N(x; b, W W^T + s^2 I) and the Gaussian posterior
p(z | x) = N(S W^T (x - b) / s^2, S), S = (I + W^T W / s^2)^-1, in closed form.
"""

import numpy as np
import tensorflow as tf

from glow_ood.models import density_model
from glow_ood.models import importance_sampling

LATENT_DIM, DATA_DIM, NOISE_SCALE = 2, 3, 0.7


def _log_normal(x, mean, cov):
  """log N(x; mean, cov) for x, mean `[..., n]`, cov `[n, n]` (float64)."""
  n = cov.shape[-1]
  diff = x - mean
  _, log_det = np.linalg.slogdet(cov)
  maha = np.einsum("...i,ij,...j->...", diff, np.linalg.inv(cov), diff)
  return -0.5 * (maha + log_det + n * np.log(2. * np.pi))


class LinearGaussian:
  """The model, a few data points, and Gaussian proposals for them."""

  def __init__(self, seed=0, num_points=4):
    rng = np.random.default_rng(seed)
    self.w = rng.normal(size=[DATA_DIM, LATENT_DIM])
    self.b = rng.normal(size=[DATA_DIM])
    self.x = rng.normal(size=[num_points, DATA_DIM]) * 2.
    cov_x = self.w @ self.w.T + NOISE_SCALE ** 2 * np.eye(DATA_DIM)
    self.log_evidence = _log_normal(self.x, self.b, cov_x)            # [B]
    self.post_cov = np.linalg.inv(
        np.eye(LATENT_DIM) + self.w.T @ self.w / NOISE_SCALE ** 2)
    self.post_mean = (self.x - self.b) @ self.w @ self.post_cov / NOISE_SCALE ** 2

  def log_joint(self, z):
    """log p(x_b, z) for z `[..., B, d]` -> `[..., B]`."""
    log_prior = _log_normal(z, np.zeros(LATENT_DIM), np.eye(LATENT_DIM))
    log_lik = _log_normal(z @ self.w.T + self.b, self.x,
                          NOISE_SCALE ** 2 * np.eye(DATA_DIM))
    return log_prior + log_lik

  def log_weights(self, num_samples, rng, exact=False, repetitions=1):
    """`[K, R * B]` log weights under q: exact posterior, or shifted and widened.

    `R` independent repetitions of the `B` points side by side (columns
    `r * B + b`), so that one `iwae_estimate` call does them all.
    """
    shape = [num_samples, repetitions, len(self.x), LATENT_DIM]
    if exact:
      chol = np.linalg.cholesky(self.post_cov)
      z = self.post_mean + rng.normal(size=shape) @ chol.T
      log_q = _log_normal(z, self.post_mean, self.post_cov)
    else:
      # A mean-field proposal, off the posterior mean by half a posterior
      # standard deviation and 1.5 times as wide (finite weight variance).
      std = 1.5 * np.sqrt(np.diag(self.post_cov))
      mean = self.post_mean + 0.5 * np.sqrt(np.diag(self.post_cov))
      z = mean + std * rng.normal(size=shape)
      log_q = _log_normal(z, mean, np.diag(std ** 2))
    return (self.log_joint(z) - log_q).reshape([num_samples, -1])

  def repeated_estimates(self, num_samples, repetitions, rng):
    """`iwae_estimate` of `R` independent repetitions: log_prob, stderr `[R, B]`."""
    estimate = importance_sampling.iwae_estimate(
        self.log_weights(num_samples, rng, repetitions=repetitions))
    return (estimate.log_prob.numpy().reshape([repetitions, -1]),
            estimate.stderr.numpy().reshape([repetitions, -1]))


class LogMeanExpTest(tf.test.TestCase):

  def test_matches_numpy_and_is_stable(self):
    rng = np.random.default_rng(0)
    values = rng.normal(size=[50, 3])
    self.assertAllClose(importance_sampling.log_mean_exp(values, axis=0),
                        np.log(np.mean(np.exp(values), axis=0)))
    self.assertAllClose(importance_sampling.log_mean_exp(values, axis=1),
                        np.log(np.mean(np.exp(values), axis=1)))
    big = np.array([[1000., -1000.], [1000., -1001.]], np.float32)
    self.assertAllClose(importance_sampling.log_mean_exp(big, axis=0),
                        [1000., -1000. + np.log((1. + np.exp(-1.)) / 2.)])

  def test_all_minus_inf_gives_minus_inf(self):
    out = importance_sampling.log_mean_exp(np.full([3, 2], -np.inf), axis=0)
    self.assertAllEqual(out, [-np.inf, -np.inf])


class IwaeEstimateTest(tf.test.TestCase):

  def test_hand_computed_weights(self):
    estimate = importance_sampling.iwae_estimate(
        np.log([[1.], [2.], [3.]]))
    self.assertIsInstance(estimate, density_model.Estimate)
    self.assertAllClose(estimate.log_prob, [np.log(2.)])
    # std([1, 2, 3], ddof=1) = 1, mean 2, K = 3.
    self.assertAllClose(estimate.stderr, [1. / (np.sqrt(3.) * 2.)])

  def test_invariant_to_the_scale_of_the_weights_no_overflow(self):
    log_weights = np.random.default_rng(1).normal(size=[20, 5])
    small = importance_sampling.iwae_estimate(log_weights)
    for shift in (-5000., 5000.):
      shifted = importance_sampling.iwae_estimate(log_weights + shift)
      self.assertAllClose(shifted.log_prob, small.log_prob + shift)
      self.assertAllClose(shifted.stderr, small.stderr)
    weights = np.exp(log_weights)
    self.assertAllClose(small.stderr, np.std(weights, 0, ddof=1) / (
        np.sqrt(20.) * np.mean(weights, 0)))

  def test_one_sample_has_infinite_stderr(self):
    estimate = importance_sampling.iwae_estimate([[0.3, -2.]])
    self.assertAllClose(estimate.log_prob, [0.3, -2.])
    self.assertAllEqual(estimate.stderr, [np.inf, np.inf])

  def test_zero_weights_give_minus_inf_with_infinite_stderr(self):
    estimate = importance_sampling.iwae_estimate(
        [[-np.inf, 0.], [-np.inf, 0.]])
    self.assertAllEqual(estimate.log_prob, [-np.inf, 0.])
    self.assertAllEqual(estimate.stderr, [np.inf, 0.])

  def test_rank_other_than_two_raises(self):
    with self.assertRaisesRegex(ValueError, r"\[K, B\]"):
      importance_sampling.iwae_estimate(np.zeros([5]))

  def test_exact_posterior_gives_the_evidence_exactly_for_every_k(self):
    model = LinearGaussian(seed=2)
    rng = np.random.default_rng(0)
    for k in (1, 10, 100, 1000):
      estimate = importance_sampling.iwae_estimate(
          model.log_weights(k, rng, exact=True))
      self.assertAllClose(estimate.log_prob, model.log_evidence, atol=1e-10)
      if k == 1:
        self.assertAllEqual(estimate.stderr, np.full([4], np.inf))
      else:
        self.assertAllClose(estimate.stderr, np.zeros([4]), atol=1e-7)

  def test_large_k_matches_the_exact_evidence_within_its_stderr(self):
    model = LinearGaussian(seed=3)
    estimate = importance_sampling.iwae_estimate(
        model.log_weights(200_000, np.random.default_rng(1)))
    stderr = estimate.stderr.numpy()
    self.assertTrue(np.all(stderr < 0.02), stderr)
    self.assertTrue(np.all(stderr > 0.), stderr)   # q is not the posterior
    self.assertAllLessEqual(
        np.abs(estimate.log_prob - model.log_evidence) / stderr, 4.)

  def test_average_estimate_rises_with_k_towards_the_evidence(self):
    model = LinearGaussian(seed=4)
    rng = np.random.default_rng(2)
    repetitions = 400
    means, sems = [], []
    for k in (1, 10, 100, 1000):
      estimates, _ = model.repeated_estimates(k, repetitions, rng)   # [R, B]
      gap = estimates - model.log_evidence
      means.append(gap.mean())
      sems.append(gap.mean(1).std(ddof=1) / np.sqrt(repetitions))
    means, sems = np.array(means), np.array(sems)
    # A lower bound in expectation: below the evidence, by a clear margin at K=1.
    self.assertAllLessEqual(means - 3. * sems, 0.)
    self.assertLess(means[0] + 5. * sems[0], 0.)
    # Non-decreasing in K (within error), and strictly rising from K=1 to 1000.
    for i in range(3):
      self.assertGreaterEqual(means[i + 1] + 3. * np.hypot(sems[i],
                                                           sems[i + 1]),
                              means[i])
    self.assertGreater(means[3] - means[0], 5. * np.hypot(sems[0], sems[3]))

  def test_stderr_matches_the_spread_of_repeated_estimates(self):
    model = LinearGaussian(seed=5)
    rng = np.random.default_rng(3)
    log_probs, stderrs = model.repeated_estimates(200, 500, rng)     # [R, B]
    spread = log_probs.std(axis=0, ddof=1)
    reported = np.sqrt(np.mean(stderrs ** 2, axis=0))
    # Each sample std of 500 estimates is good to about 3%; the delta method
    # at K=200 to a few percent more.
    self.assertAllClose(reported, spread, rtol=0.2)


if __name__ == "__main__":
  tf.test.main()
