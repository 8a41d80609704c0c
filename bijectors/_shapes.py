"""Shape helpers shared by the image bijectors (events are NHWC: `[..., H, W, C]`)."""

import tensorflow.compat.v2 as tf

__all__ = ["as_image_batch", "restore_batch", "num_spatial_positions",
           "split_channels"]


def as_image_batch(x):
  """Reshapes `x` of shape `batch_shape + [H, W, C]` to `[prod(batch_shape), H, W, C]`.

  Returns:
    images: `Tensor` of rank 4.
    batch_shape: `Tensor` (int32) holding `batch_shape`, for `restore_batch`.
  """
  event_shape = x.shape[-3:]
  if not event_shape.is_fully_defined():
    event_shape = tf.shape(x)[-3:]
  batch_shape = tf.shape(x)[:-3]
  images = tf.reshape(x, tf.concat([[-1], event_shape], axis=0))
  return images, batch_shape


def restore_batch(images, batch_shape, x_shape=None):
  """Inverse of `as_image_batch` for `images` of shape `[N, H', W', C']`.

  Args:
    images: rank-4 `Tensor`.
    batch_shape: `Tensor` returned by `as_image_batch`.
    x_shape: optional static `TensorShape` of the original input; its batch
      part restores static shape information lost by the reshape.
  """
  event_shape = images.shape[1:]
  if not event_shape.is_fully_defined():
    event_shape = tf.shape(images)[1:]
  y = tf.reshape(images, tf.concat([batch_shape, event_shape], axis=0))
  if x_shape is not None and x_shape.rank is not None:
    y = tf.ensure_shape(y, x_shape[:-3].concatenate(images.shape[1:]))
  return y


def num_spatial_positions(x):
  """`H * W` of an NHWC event, as a `Tensor` of `x.dtype`."""
  hw = x.shape[-3:-1]
  if hw.is_fully_defined():
    return tf.constant(hw[0] * hw[1], dtype=x.dtype)
  return tf.cast(tf.reduce_prod(tf.shape(x)[-3:-1]), x.dtype)


def split_channels(x, num_first):
  """`(x[..., :num_first], x[..., num_first:])` as one `tf.split`.

  The same values as the two slices; its gradient is one concatenation, where
  the slices' gradients each write a zero-padded copy of `x`.
  """
  channels = x.shape[-1]
  if channels is None:
    return x[..., :num_first], x[..., num_first:]
  return tf.split(x, [num_first, int(channels) - num_first], axis=-1)
