"""Quantization maths shared by the model, the data pipeline and the metrics.

An 8-bit image is reduced to `n_bits` (`n_bins = 2**n_bits` levels) and mapped
to `[-0.5, 0.5)` as in openai/glow:

    k = floor(pixel / 2**(8 - n_bits))        in {0, ..., n_bins - 1}
    x = (k + u) / n_bins - 0.5,                u ~ U[0, 1) (training) or u = 1/2

The continuous density `p(x)` of a flow then gives the probability of the bin,
`P(k) ~= p(x) * n_bins**-D`, so per image

    log P(k) = log p(x) - D * log(n_bins)     (nats)
    bits/dim = -log P(k) / (D * log 2).
"""

import numpy as np
import tensorflow.compat.v2 as tf

__all__ = ["DEQUANTIZATIONS", "dequantize", "discretization_correction",
           "bits_per_dim", "to_uint8"]

DEQUANTIZATIONS = ("uniform", "center")


def _check_n_bits(n_bits):
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
  _check_n_bits(n_bits)
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


def discretization_correction(num_dims, n_bits=8):
  """`-D * log(2**n_bits)`: the log of the bin volume, added to `log p(x)`."""
  _check_n_bits(n_bits)
  return -float(num_dims) * n_bits * np.log(2.)


def bits_per_dim(log_prob, num_dims, n_bits=8):
  """Bits/dim from the continuous `log p(x)` (nats) of dequantized images."""
  log_prob = tf.convert_to_tensor(log_prob)
  correction = tf.cast(discretization_correction(num_dims, n_bits),
                       log_prob.dtype)
  return -(log_prob + correction) / (float(num_dims) * np.log(2.))


def to_uint8(x, n_bits=8):
  """Floats in `[-0.5, 0.5)` (e.g. samples) -> `uint8` images in 0..255."""
  _check_n_bits(n_bits)
  n_bins = 2 ** int(n_bits)
  bins = tf.clip_by_value(tf.floor((x + 0.5) * n_bins), 0., n_bins - 1.)
  return tf.cast(bins * (2 ** (8 - int(n_bits))), tf.uint8)
