"""Discrete per-pixel likelihoods over the `n_bins = 2**n_bits` values of a pixel.

Both take integer-valued images `k` in `{0, ..., n_bins - 1}` (the bins of
`preprocessing.dequantize`, *not* raw 0..255 pixels unless `n_bits = 8`) and
their parameters, and give `log P(k)` per pixel (nats, same shape as `k`):

  * `discretized_logistic_log_prob(k, loc, log_scale, n_bits)`: a logistic of
    location `loc` and scale `exp(log_scale)`, both in pixel units, whose mass
    is binned as in PixelCNN++ (Salimans et al. 2017): bin `k` covers
    `[k - 1/2, k + 1/2]`, and the edge bins `0` and `n_bins - 1` extend to
    `-inf` and `+inf`, so the `n_bins` probabilities sum to one exactly.
  * `categorical_log_prob(k, logits)`: a categorical over the `n_bins` values,
    `log softmax(logits)[k]`.

`discretized_logistic_sample` and `categorical_sample` draw from the same
distributions (stateless, seeded).

#### References
[1]: Salimans, Karpathy, Chen & Kingma. PixelCNN++. ICLR 2017.
     https://arxiv.org/abs/1701.05517
"""

import tensorflow.compat.v2 as tf

from glow_ood import preprocessing

__all__ = ["discretized_logistic_log_prob", "categorical_log_prob",
           "discretized_logistic_sample", "categorical_sample", "log1mexp"]


def log1mexp(x):
  """`log(1 - exp(-x))` for `x > 0`, accurate for small and large `x`.

  Maechler (2012): `log(-expm1(-x))` for `x <= log 2`, `log1p(-exp(-x))`
  above; each branch is evaluated only where it is accurate and finite, so
  gradients stay finite too.
  """
  x = tf.convert_to_tensor(x)
  small = x <= tf.math.log(tf.constant(2., x.dtype))
  # Feed each branch a safe value where it is not selected (no NaN gradients).
  x_small = tf.where(small, x, tf.ones_like(x))
  x_large = tf.where(small, tf.ones_like(x), x)
  return tf.where(small, tf.math.log(-tf.math.expm1(-x_small)),
                  tf.math.log1p(-tf.exp(-x_large)))


def _values(values, dtype):
  """Integer `values` as a float `Tensor` of `dtype` (`TypeError` for floats)."""
  values = tf.convert_to_tensor(values)
  if not values.dtype.is_integer:
    raise TypeError(
        f"Pixel likelihoods take integer pixel values 0..2**n_bits - 1; got "
        f"{values.dtype.name}. Bin uint8 images with "
        "tf.cast(images, tf.int32) // 2**(8 - n_bits).")
  return tf.cast(values, dtype)


def discretized_logistic_log_prob(values, loc, log_scale, n_bits):
  """log P(k) of a logistic binned into `n_bins = 2**n_bits` values, per pixel.

  With `s = exp(log_scale)` and the logistic CDF `sigmoid((t - loc) / s)`, set
  `u = (k + 1/2 - loc) / s` and `l = (k - 1/2 - loc) / s` (so `u - l = 1/s`):

      P(0)           = sigmoid(u)                        (bin (-inf, 1/2])
      P(n_bins - 1)  = 1 - sigmoid(l) = sigmoid(-l)      (bin [n_bins - 3/2, inf))
      P(k)           = sigmoid(u) - sigmoid(l)
                     = sigmoid(u) sigmoid(-l) (1 - exp(-(u - l)))   otherwise.

  The last form is evaluated in log space, `log_sigmoid(u) + log_sigmoid(-l)
  + log1mexp(1/s)`, which is accurate in both tails and for any scale (no
  difference of two nearly equal CDF values is ever formed).

  Args:
    values: integer `Tensor` `[...]` of pixel values in `0..n_bins - 1`.
    loc: float `Tensor` broadcastable with `values`, the location in pixel
      units (bin `k` is centred on `k`).
    log_scale: float `Tensor` like `loc`, log of the scale in pixel units.
    n_bits: Python `int` in 1..8.

  Returns:
    `log P(values)` in nats, float `Tensor` of the broadcast shape and the
    dtype of `loc`.
  """
  preprocessing.check_n_bits(n_bits)
  loc = tf.convert_to_tensor(loc)
  dtype = loc.dtype
  log_scale = tf.convert_to_tensor(log_scale, dtype)
  k = _values(values, dtype)
  last = tf.constant(2 ** int(n_bits) - 1, dtype)
  inv_scale = tf.exp(-log_scale)
  upper = (k + 0.5 - loc) * inv_scale
  lower = (k - 0.5 - loc) * inv_scale
  log_cdf_upper = tf.math.log_sigmoid(upper)      # log P(t <= k + 1/2)
  log_sf_lower = tf.math.log_sigmoid(-lower)      # log P(t >= k - 1/2)
  log_mid = log_cdf_upper + log_sf_lower + log1mexp(inv_scale)
  return tf.where(k <= 0., log_cdf_upper * tf.ones_like(log_mid),
                  tf.where(k >= last, log_sf_lower * tf.ones_like(log_mid),
                           log_mid))


def categorical_log_prob(values, logits):
  """`log softmax(logits)[k]` per pixel.

  Args:
    values: integer `Tensor` `[...]` in `0..n_bins - 1`.
    logits: float `Tensor` `[..., n_bins]`, its leading shape broadcastable
      with `values`'.

  Returns:
    `log P(values)` in nats, the broadcast shape `[...]`, the dtype of
    `logits`.
  """
  logits = tf.convert_to_tensor(logits)
  labels = tf.cast(_values(values, logits.dtype), tf.int32)
  shape = tf.broadcast_dynamic_shape(tf.shape(labels), tf.shape(logits)[:-1])
  return -tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.broadcast_to(labels, shape),
      logits=tf.broadcast_to(logits, tf.concat([shape, tf.shape(logits)[-1:]],
                                               0)))


def discretized_logistic_sample(loc, log_scale, n_bits, seed):
  """Pixel values `[...]` (int32 in `0..n_bins - 1`) drawn from the binned logistic.

  A logistic draw `t = loc + s (log v - log(1 - v))`, `v ~ U(0, 1)`, rounded
  to the nearest integer and clipped to `0..n_bins - 1`: exactly the bins of
  `discretized_logistic_log_prob`.

  Args:
    loc: float `Tensor` `[...]`, pixel units.
    log_scale: float `Tensor` `[...]`.
    n_bits: Python `int` in 1..8.
    seed: stateless seed, a `[2]` integer `Tensor` or pair.
  """
  preprocessing.check_n_bits(n_bits)
  loc = tf.convert_to_tensor(loc)
  log_scale = tf.convert_to_tensor(log_scale, loc.dtype)
  shape = tf.broadcast_dynamic_shape(tf.shape(loc), tf.shape(log_scale))
  tiny = tf.constant(1e-6 if loc.dtype == tf.float32 else 1e-12, loc.dtype)
  v = tf.random.stateless_uniform(shape, seed=seed, minval=tiny,
                                  maxval=1. - tiny, dtype=loc.dtype)
  t = loc + tf.exp(log_scale) * (tf.math.log(v) - tf.math.log1p(-v))
  n_bins = 2 ** int(n_bits)
  return tf.cast(tf.clip_by_value(tf.round(t), 0., n_bins - 1.), tf.int32)


def categorical_sample(logits, seed):
  """Values `[...]` (int32) drawn from `softmax(logits [..., n_bins])` (Gumbel-max)."""
  logits = tf.convert_to_tensor(logits)
  tiny = tf.constant(1e-6 if logits.dtype == tf.float32 else 1e-12,
                     logits.dtype)
  v = tf.random.stateless_uniform(tf.shape(logits), seed=seed, minval=tiny,
                                  maxval=1. - tiny, dtype=logits.dtype)
  gumbel = -tf.math.log(-tf.math.log(v))
  return tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)
