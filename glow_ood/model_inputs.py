"""What a user passes to `glow_ood.Glow`, checked before the flow sees it.

Every mistake is refused with one line naming the fix, at no cost to a
traced training step. `config` is the model's config (`GlowConfig`,
`PixelCNNConfig`, `VAEConfig`): its
`image_shape` `(H, W, C)`, its `dtype` and `D = H * W * C`.

* Dtype (free: read at trace time). `uint8_images` takes `uint8` only
  (`TypeError` naming the conversion for uint16, int, bool and float arrays:
  `preprocessing.check_uint8_dtype`). `float_images` and `flat_latents` take
  floats: integer inputs raise `TypeError` (dequantize with
  `model.preprocess`), and so does a float `Tensor` of the other float dtype
  (cast it, or build the model with that dtype); numpy arrays, lists and
  Python floats are cast to `config.dtype`.
* Rank and image shape (free: the static shape). Images must end in
  `[H, W, C]`: `[..., H, W, C]`, a single image `[H, W, C]` included
  (`ValueError`). The message says how to fix the shape: an `input_signature`
  for unknown dimensions under `tf.function`, `tf.transpose(x, [0, 2, 3, 1])`
  for channels-first `[B, C, H, W]` images, `x[..., tf.newaxis]` for a
  missing channel axis, resizing (`glow_ood.data.conform_images`) or another
  `image_shape=...` in the model's config for another size or channel count. Latents
  must be flat, `[..., D]`. `uint8_image_batch` (the scorers' numpy arrays)
  takes exactly `[N, H, W, C]`.
* Value range of float images. Dequantized images lie in `[-0.5, 0.5]`
  (`DATA_BOUND`). By default, values are read only when they are known
  without running a graph (eager inputs: a min and a max reduction copied to
  the host; constants of a traced function: `tf.get_static_value`), and a
  value outside `[-2, 2]` (`FAR_OUTSIDE_BOUND`) raises `ValueError`: raw
  0..255 pixels almost always reach beyond it, no dequantized image and no
  nearby point an analysis evaluates the density at does. Inside
  `tf.function` (the training step, `likelihood_terms`) a graph input is
  never read, and no op is added.
* With `validate_args=True` the bound is the strict `[-0.5, 0.5]`: known
  values are checked as above (`ValueError`), unknown ones asserted in the
  graph with `tf.debugging` ops (`InvalidArgumentError` at run time; skipped
  under XLA).

The checks only refuse: an accepted input is returned unchanged (converted to
a `Tensor`), so they change no number.
"""

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import preprocessing

__all__ = ["DATA_BOUND", "FAR_OUTSIDE_BOUND", "float_images", "uint8_images",
           "discrete_uint8_images", "flat_latents", "uint8_image_batch"]

# Dequantized images lie in [-0.5, 0.5]; raw pixels 0..255 (as floats) almost
# always reach beyond +-2, and no dequantized image or evaluation point near
# the data does.
DATA_BOUND = 0.5
FAR_OUTSIDE_BOUND = 2.0


def float_images(x, config, where, validate_args):
  """Dequantized float images `[..., H, W, C]`, checked (dtype, shape, range).

  Args:
    x: `Tensor`, array, list or number: images in `[-0.5, 0.5]`.
    config: the model's config (`image_shape`, `n_bits`, `dtype`).
    where: Python `str`, the method the messages name, e.g. `"Glow.log_prob"`.
    validate_args: Python `bool`: the strict bound `[-0.5, 0.5]` (asserted in
      the graph when the values are unknown) instead of the cheap `[-2, 2]`.

  Returns:
    `x` as a `Tensor` of `config.dtype`, shape `[..., H, W, C]` (through
    `tf.identity` with run-time assertions attached if `validate_args` and
    the values are unknown).

  Raises:
    TypeError: integer `x`, or a float `Tensor` of another dtype.
    ValueError: a static shape not ending in `[H, W, C]`; known values
      outside `[-2, 2]` (`[-0.5, 0.5]` if `validate_args`).
  """
  x = _float_tensor(x, tf.as_dtype(config.dtype), where, "x")
  _check_image_shape(x, config, where, "x")
  return _checked_range(x, where, validate_args)


def uint8_images(images, config, where):
  """Raw 8-bit images `[..., H, W, C]`, checked (dtype, shape).

  Args:
    images: `uint8` `Tensor` or array of pixels 0..255.
    config: the model's config (`image_shape`, `n_bits`, `dtype`).
    where: Python `str`, the method the messages name, e.g. `"Glow.preprocess"`.

  Returns:
    `images` as a `uint8` `Tensor` of the same shape.

  Raises:
    TypeError: any other dtype (`preprocessing.check_uint8_dtype`).
    ValueError: a static shape not ending in `[H, W, C]`.
  """
  images = preprocessing.as_uint8_images(images, where)
  _check_image_shape(images, config, where, "images")
  return images


def discrete_uint8_images(images, config, where, model_input):
  """`uint8_images` for a model of the discrete pixels, which takes no floats.

  A model of the pixels' `n_bins` levels (PixelCNN, VAE) is given raw 8-bit
  pixels, never dequantized floats: a float `images` raises `TypeError`
  naming the conversions back (floats in `[-0.5, 0.5)`, i.e. dequantized
  images and samples: `preprocessing.to_uint8(x, n_bits)`; floats in
  `[0, 1]`: `tf.cast(tf.round(x * 255.), tf.uint8)`). Anything else is
  checked as by `uint8_images`.

  Args:
    images: `uint8` `Tensor` or array `[..., H, W, C]` of pixels 0..255.
    config: the model's config (`image_shape`, `n_bits`, `dtype`).
    where: Python `str`, the method the messages name, e.g. `"VAE.encode"`.
    model_input: Python `str`, what the message says the images are to the
      model, e.g. `"the VAE's training_input"`.

  Returns:
    `images` as a `uint8` `Tensor` of the same shape.
  """
  dtype = getattr(images, "dtype", None)
  if dtype is None:
    dtype = np.asarray(images).dtype
  if tf.as_dtype(dtype).is_floating:
    raise TypeError(
        f"{where} takes uint8 images [..., H, W, C] (raw 8-bit pixels "
        f"0..255, {model_input}) but got {tf.as_dtype(dtype).name}"
        " values; convert floats in [-0.5, 0.5) (dequantized images, "
        "samples) with preprocessing.to_uint8(x, n_bits), floats in [0, 1] "
        "with tf.cast(tf.round(x * 255.), tf.uint8).")
  return uint8_images(images, config, where)


def flat_latents(z, config, where):
  """Flat latents `[..., D]` (`D = H * W * C`), checked (dtype, shape).

  Args:
    z: `Tensor`, array or list of latents, e.g. from `model.encode(x)`.
    config: the model's config (`image_shape`, `n_bits`, `dtype`).
    where: Python `str`, the method the messages name, e.g. `"Glow.decode"`.

  Returns:
    `z` as a `Tensor` of `config.dtype`, shape `[..., D]`.

  Raises:
    TypeError: integer `z`, or a float `Tensor` of another dtype.
    ValueError: a scalar, or a static last dimension other than `D` (with a
      hint to `model.encode` if `z` looks like images).
  """
  z = _float_tensor(z, tf.as_dtype(config.dtype), where, "z")
  size = config.num_dims
  if z.shape.rank is not None and (
      z.shape.rank == 0 or z.shape[-1] not in (None, size)):
    if tuple(z.shape[-3:].as_list()) == tuple(config.image_shape):
      hint = "these look like images: encode them with model.encode(x)"
    else:
      hint = "pass latents from model.encode(x) or draw them as model.sample does"
    raise ValueError(
        f"{where} takes flat latents [..., {size}] (D = H*W*C) but got "
        f"z of shape {_format_shape(z.shape)}; {hint}.")
  return z


def uint8_image_batch(images, config, caller):
  """A batch of raw 8-bit images as a numpy `[N, H, W, C]`, checked first.

  For functions that slice arrays into batches before anything is traced or
  run (`likelihood_terms`): the rank must be exactly 4.

  Args:
    images: array-like of `uint8` pixels 0..255, `[N, H, W, C]`.
    config: the model's config (`image_shape`, `n_bits`, `dtype`).
    caller: Python `str`, the function the messages name.

  Returns:
    `images` as a `uint8` numpy array `[N, H, W, C]`.

  Raises:
    TypeError: any other dtype (`preprocessing.check_uint8_dtype`).
    ValueError: any other shape (a single `[H, W, C]` image: add the batch
      axis).
  """
  images = np.asarray(images)
  preprocessing.check_uint8_dtype(images.dtype, caller)
  expected = tuple(config.image_shape)
  if images.ndim != 4 or images.shape[1:] != expected:
    hint = ("add the batch axis (images[np.newaxis])"
            if images.shape == expected else
            "conform them first (e.g. glow_ood.data.conform_images)")
    raise ValueError(
        f"{caller} takes uint8 images [N, {expected[0]}, {expected[1]}, "
        f"{expected[2]}] (the model's image shape) but got shape "
        f"{list(images.shape)}; {hint}.")
  return images


def _check_image_shape(x, config, where, name):
  """`ValueError` unless `x`'s static shape ends in the model's `[H, W, C]`."""
  expected = tuple(config.image_shape)
  shape = x.shape
  if shape.rank is not None and shape.rank >= 3 and (
      tuple(shape[-3:].as_list()) == expected):
    return
  raise ValueError(
      f"{where} takes images [..., {expected[0]}, {expected[1]}, "
      f"{expected[2]}] (the model's image_shape) but got {name} of shape "
      f"{_format_shape(shape)}; {_shape_hint(shape, expected, name)}.")


def _float_tensor(x, dtype, where, name):
  """`x` as a `Tensor` of the model's `dtype`; `TypeError` for other dtypes."""
  given = _dtype_of(x)
  if given is not None and not given.is_floating:
    raise TypeError(
        f"{where} takes dequantized float images in [-0.5, 0.5] but got "
        f"{given.name} {name}; dequantize uint8 images with "
        "model.preprocess(images) first (or use model.bits_per_dim(images) "
        "for bits/dim).")
  if tf.is_tensor(x) and given != dtype:
    raise TypeError(
        f"{where}: {name} is a {given.name} Tensor but the model is "
        f"{dtype.name}; cast it with tf.cast({name}, "
        f"tf.{dtype.name}) or build the model with "
        f"dtype={given.name!r} in its config.")
  return tf.convert_to_tensor(x, dtype=dtype)


def _checked_range(x, where, validate_args):
  """`x`, refused if its values are known and far outside the data cube."""
  bound = DATA_BOUND if validate_args else FAR_OUTSIDE_BOUND
  known = _known_min_max(x)
  if known is not None:
    low, high = known
    if low < -bound or high > bound:
      raise ValueError(
          f"{where} takes dequantized images in [-0.5, 0.5] but got values "
          f"in [{low:.4g}, {high:.4g}]; {_range_hint(low, high)}.")
    return x
  if not validate_args:
    return x
  message = (f"{where} takes dequantized images in [-0.5, 0.5]; x has "
             "values outside it (raw pixels? use model.preprocess).")
  assertions = [
      tf.debugging.assert_greater_equal(
          x, tf.constant(-DATA_BOUND, x.dtype), message=message),
      tf.debugging.assert_less_equal(
          x, tf.constant(DATA_BOUND, x.dtype), message=message)]
  with tf.control_dependencies(assertions):
    return tf.identity(x)


def _format_shape(shape):
  shape = tf.TensorShape(shape)
  if shape.rank is None:
    return "<unknown rank>"
  return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _shape_hint(shape, expected, name):
  """How to fix images of static `shape` for a model of `expected` `(H, W, C)`."""
  h, w, c = expected
  if shape.rank is None:
    return ("give tf.function an input_signature with the image dimensions, "
            f"e.g. tf.TensorSpec([None, {h}, {w}, {c}])")
  dims = shape.as_list()
  if shape.rank >= 3 and None in dims[-3:] and shape[-3:].is_compatible_with(
      expected):
    return ("give tf.function an input_signature with the image dimensions, "
            f"e.g. tf.TensorSpec([None, {h}, {w}, {c}])")
  if shape.rank >= 4 and tuple(dims[-3:]) == (c, h, w):
    return (f"these look channels-first [B, C, H, W]; transpose them with "
            f"tf.transpose({name}, [0, 2, 3, 1])")
  if shape.rank >= 2 and tuple(dims[-2:]) == (h, w):
    if c == 1:
      return f"the channel axis is missing: add it with {name}[..., tf.newaxis]"
    return f"the channel axis is missing (the model takes {c} channels)"
  if shape.rank >= 3:
    got = dims[-3:]
    if got[2] == c:
      return (f"resize, pad or crop them to {h}x{w} (e.g. "
              f"glow_ood.data.conform_images) or build the model with "
              f"image_shape=({got[0]}, {got[1]}, {c}) in its config")
    if got[:2] == [h, w]:
      return (f"the model takes {c} channel{'' if c == 1 else 's'}: convert "
              "the images (e.g. "
              f"glow_ood.data.conform_images) or build the model with "
              f"image_shape=({h}, {w}, {got[2]}) in its config")
  return (f"reshape them to [..., {h}, {w}, {c}] (a single image may drop the "
          "batch axis) or build the model for their shape")


def _range_hint(low, high):
  if low >= 0. and high > FAR_OUTSIDE_BOUND:
    return ("they look like raw pixels 0..255: pass model.preprocess(images) "
            "of the uint8 images, or use model.bits_per_dim(images)")
  if low >= 0. and high <= 1.:
    return "they look like images scaled to [0, 1]: subtract 0.5"
  if low >= -1. and high <= 1.:
    return "they look like images scaled to [-1, 1]: divide them by 2"
  return ("dequantize uint8 images with model.preprocess(images); to evaluate "
          "the density far from the data use model.distribution.log_prob")


def _dtype_of(x):
  """The `tf.DType` of `x` (a `Tensor`, variable, array, list or number), or `None`."""
  dtype = getattr(x, "dtype", None)
  if dtype is None:
    try:
      dtype = np.asarray(x).dtype
    except (TypeError, ValueError):
      return None
  try:
    return tf.as_dtype(dtype)
  except TypeError:
    return None


def _known_min_max(x):
  """`(min, max)` of `x` as Python floats if its values are known now, else `None`.

  Known: eager tensors (two scalar reductions, copied to the host) and
  constants of a traced function (`tf.get_static_value`); a graph input is
  never read. Empty inputs give `None`.
  """
  if x.shape.num_elements() == 0:
    return None
  if tf.executing_eagerly():
    x = tf.stop_gradient(x)
    return float(tf.reduce_min(x)), float(tf.reduce_max(x))
  value = tf.get_static_value(x)
  if value is None or not np.size(value):
    return None
  return float(np.min(value)), float(np.max(value))
