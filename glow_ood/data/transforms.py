"""Array transforms of uint8 NHWC images: padding, gray -> RGB, conforming, subsets, grids."""

import numpy as np

__all__ = ["pad_images", "gray_to_rgb", "subsample", "subsample_indices",
           "conform_images", "image_grid"]

def pad_images(images, size):
  """Zero-pads `[N, H, W, C]` to `[N, size, size, C]`, centred.

  28x28 -> 32x32 adds 2 rows/columns on every side (openai/glow's MNIST); an
  odd margin puts the extra row (column) at the bottom (right). Images already
  `size x size` are returned as they are.
  """
  images = np.asarray(images)
  _, height, width, _ = images.shape
  if height > size or width > size:
    raise ValueError(f"Cannot pad {height}x{width} images to {size}x{size}: "
                     "they are larger. Set pad_to to None or >= the size.")
  if height == width == size:
    return images
  top, left = (size - height) // 2, (size - width) // 2
  return np.pad(images, ((0, 0), (top, size - height - top),
                         (left, size - width - left), (0, 0)))

def gray_to_rgb(images):
  """Tiles grayscale `[N, H, W, 1]` to `[N, H, W, 3]` (R = G = B); RGB unchanged."""
  images = np.asarray(images)
  channels = images.shape[-1]
  if channels == 3:
    return images
  if channels != 1:
    raise ValueError(f"to_rgb needs 1 (gray) or 3 (RGB) channels; the images "
                     f"have {channels} (shape {images.shape}).")
  return np.repeat(images, 3, axis=-1)

def subsample(images, limit, seed=0):
  """At most `limit` images: a seeded random subset, kept in file order.

  Not the first `limit`: some files are sorted by class (cifar10_jpeg), so
  their first images are all airplanes. `None` or `limit >= N` returns
  `images` itself.
  """
  if limit is None or int(limit) >= len(images):
    return images
  return images[subsample_indices(len(images), limit, seed)]


def subsample_indices(num, limit, seed=0):
  """The sorted indices `[min(num, limit)]` of `subsample`'s subset of `num` images.

  All of `0..num-1` if `limit` is `None` or `>= num`.
  """
  if limit is None or int(limit) >= num:
    return np.arange(num)
  if int(limit) < 1:
    raise ValueError(f"limit must be >= 1 or None; got {limit}.")
  return np.sort(np.random.default_rng(seed).choice(num, int(limit),
                                                    replace=False))

def conform_images(images, image_shape, name="images"):
  """Pads (centred, zeros) and tiles grayscale to RGB so `images` fit `image_shape`.

  This is how a model of one shape scores another dataset (e.g. MNIST
  `28x28x1` under a CIFAR-10 model: `32x32x3`). Shapes that cannot be reached
  this way (larger images, other channel counts) raise.

  Args:
    images: uint8 `[N, H, W, C]`.
    image_shape: target `(H', W', C')` with `H' >= H`, `W' >= W` and
      `C' == C` or `C == 1, C' == 3`.
    name: Python `str` used in the error message.
  """
  images = np.asarray(images)
  target = tuple(int(d) for d in image_shape)
  if images.shape[1:] == target:
    return images
  _, height, width, channels = images.shape
  size, size_w, target_channels = target
  if (size != size_w or height > size or width > size
      or channels not in (target_channels, 1)):
    raise ValueError(
        f"{name} of shape {images.shape[1:]} cannot be conformed to "
        f"{target}: only zero-padding to a larger square and tiling 1 -> 3 "
        "channels are done. Use a model of a matching shape.")
  images = pad_images(images, size)
  return gray_to_rgb(images) if target_channels == 3 else images


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
