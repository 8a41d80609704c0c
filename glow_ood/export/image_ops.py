"""In-graph image ops of the export: training's padding / tiling, PNG lengths.

Both are plain TensorFlow ops, so a SavedModel that uses them serves without
`glow_ood`. Each mirrors a numpy function of the library exactly or says how
it differs:

* `pad_like_training` is `glow_ood.data.transforms.pad_images` followed by
  `gray_to_rgb` (the order `glow_ood.data.load_images` applies them), bit for
  bit.
* `png_bits` is `8 * len(tf.io.encode_png(image, compression=9))`, the
  in-graph counterpart of `glow_ood.scores.compressed_bits(images, "png")`,
  which uses Pillow's PNG writer at level 9. Both write the same PNG chunks
  and DEFLATE at level 9 but choose the row filters differently (libpng's
  adaptive heuristic vs Pillow's), so lengths agree exactly on some images
  (constant, noise, the blocky toy images of the tests) and differ by a few
  percent on natural ones (measured on 300 test images each, padded to
  32x32: Fashion-MNIST up to 16 bytes of ~512, MNIST 13 of ~267, CIFAR-10
  100 of ~2108).
"""

import tensorflow.compat.v2 as tf

__all__ = ["pad_like_training", "png_bits", "PNG_COMPRESSION"]

PNG_COMPRESSION = 9   # the level of glow_ood.scores.input_complexity


def pad_like_training(images, image_shape):
  """uint8 `[B, h, w, c]` -> `[B, H, W, C]` as training shaped its images.

  Zero-pads centred to `H x W` (an odd margin puts the extra row / column at
  the bottom / right, as `transforms.pad_images`), then tiles one channel to
  three if `C == 3` and `c == 1` (`transforms.gray_to_rgb`).

  Args:
    images: uint8 `Tensor` `[B, h, w, c]` with static `h <= H`, `w <= W` and
      `c == C` or `c == 1, C == 3`.
    image_shape: the model's `(H, W, C)`.

  Raises:
    ValueError: shapes that padding and tiling cannot reconcile.
  """
  height, width, channels = (int(d) for d in images.shape[1:])
  size_h, size_w, target_channels = (int(d) for d in image_shape)
  if (height > size_h or width > size_w
      or channels not in (target_channels, 1)):
    raise ValueError(
        f"Images of shape {(height, width, channels)} cannot be padded / "
        f"tiled to {tuple(image_shape)}.")
  top, left = (size_h - height) // 2, (size_w - width) // 2
  images = tf.pad(images, [[0, 0], [top, size_h - height - top],
                           [left, size_w - width - left], [0, 0]])
  if channels != target_channels:
    images = tf.tile(images, [1, 1, 1, target_channels])
  return images


def png_bits(images):
  """`L(x)`: 8 x the byte length of each image's PNG, float64 `[B]`.

  Args:
    images: uint8 `[B, H, W, C]`, `C` in 1..4 (what PNG stores).
  """
  channels = images.shape[-1]
  if channels not in (1, 2, 3, 4):
    raise ValueError(f"PNG stores 1 to 4 channels; got {channels}.")

  def length(image):
    return tf.strings.length(
        tf.io.encode_png(image, compression=PNG_COMPRESSION))
  lengths = tf.map_fn(length, images, fn_output_signature=tf.int32)
  return 8. * tf.cast(lengths, tf.float64)
