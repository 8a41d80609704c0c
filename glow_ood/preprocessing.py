"""Quantization maths shared by the model, the data pipeline and the metrics.

An 8-bit image is reduced to `n_bits` (`n_bins = 2**n_bits` levels) and mapped
to `[-0.5, 0.5)` as in openai/glow:

    k = floor(pixel / 2**(8 - n_bits))        in {0, ..., n_bins - 1}
    x = (k + u) / n_bins - 0.5,                u ~ U[0, 1) (training) or u = 1/2

The continuous density `p(x)` of a flow then gives the probability of the bin,
`P(k) ~= p(x) * n_bins**-D`, so per image

    log P(k) = log p(x) - D * log(n_bins)     (nats)
    bits/dim = -log P(k) / (D * log 2).

Names: `log_prob` is always the continuous `log p(x)` (as
`glow_ood.Glow.log_prob`) and `discrete_log_prob` the discrete `log P(k)`
(`glow_ood.metrics.discrete_log_prob`); `bits_per_dim` below takes the
continuous one.
"""

import numpy as np
import tensorflow.compat.v2 as tf

__all__ = ["DEQUANTIZATIONS", "check_n_bits", "dequantize",
           "discretization_correction", "bits_per_dim", "log_prob_from_bits_per_dim", "to_uint8"]

DEQUANTIZATIONS = ("uniform", "center")


def check_n_bits(n_bits):
  """Raises `ValueError` unless `n_bits` is in 1..8 (the one check outside the configs)."""
  if not 1 <= int(n_bits) <= 8:
    raise ValueError(f"n_bits must be in 1..8; got {n_bits}.")


def dequantize(images, n_bits=8, dequantization="uniform", seed=None,
               dtype=tf.float32):
  """uint8 images `[..., H, W, C]` -> floats in `[-0.5, 0.5)` of the same shape.

  Args:
    images: `uint8` (or integer-valued) `Tensor` with values in 0..255.
    n_bits: Python `int` in 1..8. Default value: `8`.
    dequantization: `"uniform"` adds `U[0, 1)` noise in bin units (training);
      `"center"` uses the bin centre, which is deterministic (evaluation).
      Default value: `"uniform"`.
    seed: optional stateless seed `[2]` for the noise.
    dtype: output dtype. Default value: `float32`.
  """
  check_n_bits(n_bits)
  if dequantization not in DEQUANTIZATIONS:
    raise ValueError(f"Unknown dequantization {dequantization!r}; choose one "
                     f"of {DEQUANTIZATIONS}.")
  images = tf.convert_to_tensor(images)
  if images.dtype.is_floating:
    raise TypeError(
        f"dequantize expects integer pixels in 0..255 (uint8); got "
        f"{images.dtype.name}. Pass raw images, not preprocessed ones.")
  n_bins = 2 ** int(n_bits)
  bins = tf.cast(images, tf.int32) // (2 ** (8 - int(n_bits)))
  x = tf.cast(bins, dtype)
  if dequantization == "center":
    x += 0.5
  elif seed is None:
    x += tf.random.uniform(tf.shape(x), dtype=dtype)
  else:
    x += tf.random.stateless_uniform(tf.shape(x), seed=seed, dtype=dtype)
  return x / n_bins - 0.5


def _check_num_dims(num_dims):
  if int(num_dims) < 1:
    raise ValueError(f"num_dims must be >= 1; got {num_dims}.")


def discretization_correction(num_dims, n_bits=8):
  """`-D * log(2**n_bits)`: the log of the bin volume, added to `log p(x)`."""
  check_n_bits(n_bits)
  return -float(num_dims) * n_bits * np.log(2.)


def _as_array(value):
  """tf `Tensor`s as they are; anything else as a float64 numpy array."""
  return value if tf.is_tensor(value) else np.asarray(value, np.float64)


def bits_per_dim(log_prob, num_dims, n_bits=8):
  """Bits/dim `-(log p(x) - D n_bits log 2) / (D log 2)` of dequantized images.

  The one bits/dim of the package (`glow_ood.metrics.bits_per_dim` is this
  function): `-log P(image) / (D log 2)`, with `log P(image)` the discrete
  log-probability of the image's bin (see the module docstring).

  Args:
    log_prob: the continuous `log p(x)` (nats) of `n_bits` images dequantized
      to `[-0.5, 0.5)^D`, e.g. `glow_ood.Glow.log_prob`; a tf `Tensor` (any
      float dtype, kept) or anything numpy takes (converted to float64).
    num_dims: Python `int`, `D = H W C`.
    n_bits: Python `int` in 1..8. Default value: `8`.

  Returns:
    Same shape as `log_prob`: a `Tensor` of its dtype for a `Tensor`, else a
    float64 numpy array.
  """
  _check_num_dims(num_dims)
  correction = float(discretization_correction(num_dims, n_bits))
  return -(_as_array(log_prob) + correction) / (float(num_dims) * np.log(2.))


def log_prob_from_bits_per_dim(bits, num_dims, n_bits=8):
  """Inverse of `bits_per_dim`: the continuous `log p(x)` (nats) from bits/dim.

  `log p(x) = -bits D log 2 + D n_bits log 2`; tf `Tensor`s stay `Tensor`s of
  their dtype, anything else becomes a float64 numpy array.
  """
  _check_num_dims(num_dims)
  correction = float(discretization_correction(num_dims, n_bits))
  return -_as_array(bits) * (float(num_dims) * np.log(2.)) - correction


def to_uint8(x, n_bits=8):
  """Floats in `[-0.5, 0.5)` (e.g. samples) -> `uint8` images in 0..255."""
  check_n_bits(n_bits)
  n_bins = 2 ** int(n_bits)
  bins = tf.clip_by_value(tf.floor((x + 0.5) * n_bins), 0., n_bins - 1.)
  return tf.cast(bins * (2 ** (8 - int(n_bits))), tf.uint8)
