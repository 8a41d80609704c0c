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

__all__ = ["DEQUANTIZATIONS", "check_n_bits", "check_uint8_dtype",
           "as_uint8_images", "to_bins", "dequantize",
           "discretization_correction", "bits_per_dim", "log_prob_from_bits_per_dim", "to_uint8"]

DEQUANTIZATIONS = ("uniform", "center")


def check_n_bits(n_bits):
  """Raises `ValueError` unless `n_bits` is in 1..8 (the one check outside the configs)."""
  if not 1 <= int(n_bits) <= 8:
    raise ValueError(f"n_bits must be in 1..8; got {n_bits}.")


def check_uint8_dtype(dtype, caller):
  """Raises `TypeError` unless `dtype` is `uint8`, saying how to convert.

  Only 8-bit images have the 256 bins that the dequantization and the
  bits/dim of this package assume: the values 0..65535 of a uint16 image
  would land far outside [-0.5, 0.5) (about 165000 bits/dim for a tiny
  model), and an int or float array could hold anything. The check reads
  no values, so it is free.

  Args:
    dtype: a `tf.DType`, numpy dtype or anything `tf.as_dtype` takes.
    caller: Python `str`, the function named in the message.
  """
  dtype = tf.as_dtype(dtype)
  if dtype == tf.uint8:
    return
  if dtype.is_floating:
    raise TypeError(
        f"{caller} takes uint8 images (raw 8-bit pixels 0..255) but got "
        f"{dtype.name} values; if they are already dequantized to "
        "[-0.5, 0.5] use Glow.log_prob(x) (and preprocessing.bits_per_dim), "
        "if they are floats in [0, 1] convert them with "
        "tf.cast(tf.round(x * 255.), tf.uint8).")
  if dtype == tf.uint16:
    raise TypeError(
        f"{caller} takes uint8 images (8-bit pixels 0..255) but got uint16; "
        "convert 16-bit data to 8 bits first, e.g. tf.cast(images // 256, "
        "tf.uint8) (numpy: (images >> 8).astype(np.uint8)).")
  raise TypeError(
      f"{caller} takes uint8 images (8-bit pixels 0..255) but got "
      f"{dtype.name}; if the values are already in 0..255 cast them with "
      "tf.cast(images, tf.uint8) (numpy: images.astype(np.uint8)), otherwise "
      "rescale them to 8 bits first.")


def as_uint8_images(images, caller):
  """`images` as a `uint8` `Tensor`; `TypeError` (see `check_uint8_dtype`) otherwise."""
  if not tf.is_tensor(images):
    images = np.asarray(images)
  check_uint8_dtype(images.dtype, caller)
  return tf.convert_to_tensor(images, tf.uint8)


def to_bins(images, n_bits):
  """uint8 pixels `[...]` -> their int32 bins `k = floor(pixel / 2**(8 - n_bits))`, `[...]`.

  `k` is in `{0, ..., n_bins - 1}`, `n_bins = 2**n_bits`: the levels a
  `n_bits` model sees (`n_bits = 8`: the pixels themselves). `images` must
  already be a uint8 `Tensor` (`as_uint8_images`); `n_bits` a Python `int`.
  """
  return tf.cast(images, tf.int32) // (2 ** (8 - int(n_bits)))


def dequantize(images, n_bits=8, dequantization="uniform", seed=None,
               dtype=tf.float32):
  """uint8 images `[..., H, W, C]` -> floats in `[-0.5, 0.5)` of the same shape.

  Args:
    images: `uint8` `Tensor` (or array) of raw pixels 0..255. Any other
      dtype raises `TypeError` naming the conversion (`check_uint8_dtype`).
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
  images = as_uint8_images(images, "dequantize")
  n_bins = 2 ** int(n_bits)
  x = tf.cast(to_bins(images, n_bits), dtype)
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
