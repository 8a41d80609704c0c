"""Bits/dim of image arrays under a model, batch by batch."""

import numpy as np
import tensorflow.compat.v2 as tf

__all__ = ["BitsPerDimEvaluator", "image_grid"]


class BitsPerDimEvaluator:
  """Per-example bits/dim of uint8 image arrays, with one traced function.

  Uses `model.bits_per_dim` with deterministic (bin-centre) dequantization, so
  the same images always get the same numbers.

  Args:
    model: a `glow_ood.Glow`.
    batch_size: Python `int`.
    jit_compile: XLA-compile the batch function.
  """

  def __init__(self, model, batch_size, jit_compile=False):
    self._model = model
    self._batch_size = int(batch_size)
    self._fn = tf.function(
        lambda images: model.bits_per_dim(images, dequantization="center"),
        jit_compile=jit_compile)

  def __call__(self, images):
    """uint8 `[N, H, W, C]` -> float64 numpy `[N]`."""
    images = np.asarray(images)
    if not len(images):
      return np.zeros([0])
    return np.concatenate([
        self._fn(tf.constant(images[i:i + self._batch_size])).numpy()
        for i in range(0, len(images), self._batch_size)]).astype(np.float64)


def image_grid(images, num_columns=None):
  """uint8 `[N, H, W, C]` -> one uint8 image `[1, rows*H, cols*W, C]` (for summaries)."""
  images = np.asarray(images)
  n, h, w, c = images.shape
  num_columns = num_columns or int(np.ceil(np.sqrt(n)))
  num_rows = int(np.ceil(n / num_columns))
  grid = np.zeros([num_rows * h, num_columns * w, c], images.dtype)
  for i, image in enumerate(images):
    row, column = divmod(i, num_columns)
    grid[row * h:(row + 1) * h, column * w:(column + 1) * w] = image
  return grid[None]
