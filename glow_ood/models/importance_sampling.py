"""Importance-sampled log-evidence: the IWAE estimate of log p(x) and its error.

For a latent-variable model `p(x, z)` and a proposal `q(z | x)`, draw
`z_1..z_K ~ q(z | x)` and form the importance weights

    w_k = p(x, z_k) / q(z_k | x),        log_weights[k] = log p(x, z_k) - log q(z_k | x).

Then `p_hat = (1/K) sum_k w_k` is an *unbiased* estimate of `p(x)` (for any
`q` that covers `p(z | x)`), and `log p_hat` is, by Jensen, a lower bound of
`log p(x)` in expectation that rises monotonically with `K` towards it
(K = 1 is the ELBO; Burda et al. 2016, Theorem 1). Generic: nothing here
knows about images or VAEs.

#### References
[1]: Burda, Grosse & Salakhutdinov. Importance Weighted Autoencoders.
     ICLR 2016. https://arxiv.org/abs/1509.00519
"""

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood.models import density_model

__all__ = ["log_mean_exp", "iwae_estimate"]


def log_mean_exp(log_weights, axis=0):
  """`log((1/K) sum_k exp(log_weights_k))` along `axis`, computed stably.

  `logsumexp` (which subtracts the maximum before exponentiating) minus
  `log K`; all `-inf` gives `-inf`.

  Args:
    log_weights: float `Tensor`.
    axis: Python `int`, the axis of the `K` terms. Default value: `0`.

  Returns:
    `log_weights` reduced over `axis`.
  """
  log_weights = tf.convert_to_tensor(log_weights)
  k = tf.cast(tf.shape(log_weights)[axis], log_weights.dtype)
  return tf.reduce_logsumexp(log_weights, axis=axis) - tf.math.log(k)


def iwae_estimate(log_weights):
  """The IWAE estimate of `log p(x)` from `K` log importance weights, with its stderr.

  With `p_hat = mean_k(w_k)` (an unbiased estimate of `p(x)`):

      log_prob = log p_hat = logsumexp_k(log w_k) - log K
      stderr   = std(w) / (sqrt(K) mean(w))        (delta method for log p_hat)

  where `std` is the sample standard deviation (divisor `K - 1`). It is
  computed from the weights normalised by their mean, `r_k = w_k / p_hat =
  K softmax(log_weights)_k` (mean 1, no overflow whatever the scale of the
  weights):

      stderr = sqrt(sum_k (r_k - 1)^2 / (K (K - 1))).

  Equal weights (`q` the exact posterior) give `stderr = 0`. `K = 1` leaves
  the spread unknown (the sample variance is 0/0): `stderr = inf` rather
  than NaN, i.e. "no error bound" (an inverse-variance average gives such an
  estimate zero weight, and `stderr < tolerance` is plainly False).
  Images whose weights are all zero (`log_prob = -inf`) also get
  `stderr = inf`.

  The stderr describes the error of `p_hat`, relative to `p_hat`; `log p_hat`
  itself is biased low by about `stderr**2 / 2` (second-order delta method),
  which vanishes as `K` grows. The stderr is itself estimated from the same
  weights: when `q` is much narrower than the posterior the weights are
  heavy-tailed, rare large weights are missing from the sample, and both the
  estimate and its stderr come out too small.

  Args:
    log_weights: float `Tensor` `[K, B]`, `log p(x_b, z_kb) - log q(z_kb | x_b)`
      for `z_kb ~ q(z | x_b)`.

  Returns:
    `density_model.Estimate(log_prob=[B], stderr=[B])`.
  """
  log_weights = tf.convert_to_tensor(log_weights)
  if log_weights.shape.rank is not None and log_weights.shape.rank != 2:
    raise ValueError(f"iwae_estimate takes log weights [K, B]; got shape "
                     f"{log_weights.shape}.")
  dtype = log_weights.dtype
  log_prob = log_mean_exp(log_weights, axis=0)
  k = tf.cast(tf.shape(log_weights)[0], dtype)
  ratios = k * tf.nn.softmax(log_weights, axis=0)          # [K, B], mean 1
  inf = tf.constant(np.inf, dtype)
  # K = 1: 0/0; guarded so that no NaN appears, then replaced by inf.
  variance = tf.reduce_sum(tf.square(ratios - 1.), axis=0) / (
      k * tf.maximum(k - 1., 1.))
  stderr = tf.where(k > 1., tf.sqrt(variance), inf)
  stderr = tf.where(tf.math.is_finite(log_prob), stderr, inf)
  return density_model.Estimate(log_prob=log_prob, stderr=stderr)
