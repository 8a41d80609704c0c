"""The special inputs of the OOD experiments as uint8 images.

Nalisnick et al. (2019) score, besides real datasets, inputs that no camera
took: constant images and uniform noise; here also "grayed" images, real
images shrunk towards mid-grey, "jpeg" images, real images through a JPEG
round trip, and "flipped" images, real images mirrored left to right. Their
names ("constant:128", "uniform_random", "grayed:<dataset>:<factor>",
"jpeg:<dataset>:<quality>", "flipped:<dataset>") are parsed by
`glow_ood.configs.dataset_names`
(re-exported here); every function below returns `uint8` NHWC arrays, like
`glow_ood.data.load_images`.
"""

import io

import numpy as np
from PIL import Image

from glow_ood.configs.dataset_names import JPEG_QUALITIES
from glow_ood.configs.dataset_names import KINDS
from glow_ood.configs.dataset_names import SpecialDataset
from glow_ood.configs.dataset_names import is_generated
from glow_ood.configs.dataset_names import is_special
from glow_ood.configs.dataset_names import parse

__all__ = ["KINDS", "SpecialDataset", "parse", "is_special", "is_generated",
           "constant_images", "uniform_random_images", "grayed_images",
           "jpeg_images", "flipped_images", "generate"]

_GREY = 128.


def _shape(shape):
  shape = tuple(int(d) for d in shape)
  if len(shape) != 3 or min(shape) < 1:
    raise ValueError(f"image shape must be (H, W, C) of positive ints; got "
                     f"{shape}.")
  return shape


def constant_images(value, num, shape):
  """`num` images `[num, H, W, C]` (`shape = (H, W, C)`) with every pixel = `value`.

  Args:
    value: Python `int` in 0..255.
    num: Python `int` >= 0, number of images.
    shape: `(H, W, C)`.
  """
  if not 0 <= int(value) <= 255 or int(value) != value:
    raise ValueError(f"constant value must be an int in 0..255; got {value}.")
  return np.full((int(num),) + _shape(shape), int(value), np.uint8)


def uniform_random_images(num, shape, seed):
  """`num` images `[num, H, W, C]`, every pixel i.i.d. uniform on 0..255.

  Args:
    num: Python `int` >= 0, number of images.
    shape: `(H, W, C)`.
    seed: `int` or sequence of `int`s for `np.random.default_rng`; the same
      seed gives the same images. `None` draws fresh entropy.
  """
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, size=(int(num),) + _shape(shape), dtype=np.uint8)


def grayed_images(images, factor):
  """Pixels pulled towards mid-grey 128: `floor(128 + factor * (x - 128) + 1/2)`.

  `factor = 1` returns the images unchanged, `factor = 0` a constant 128, and
  `factor` in between scales the contrast (the deviation from 128) by `factor`,
  rounding halves up. The result stays in 0..255 for every `factor` in [0, 1].

  Args:
    images: `uint8` `[..., H, W, C]`.
    factor: Python `float` in [0, 1].

  Returns:
    `uint8` array of the shape of `images`.
  """
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise TypeError(f"grayed_images expects uint8 images; got {images.dtype}.")
  if not 0. <= float(factor) <= 1.:
    raise ValueError(f"grayed factor must be in [0, 1]; got {factor}.")
  shrunk = _GREY + float(factor) * (images.astype(np.float64) - _GREY)
  return np.floor(shrunk + 0.5).astype(np.uint8)


def _jpeg_round_trip(image, quality):
  """One `[H, W, C]` uint8 image (C = 1 or 3) encoded and decoded by Pillow."""
  mode = "L" if image.shape[-1] == 1 else "RGB"
  buffer = io.BytesIO()   # uint8 [H, W] is mode "L", [H, W, 3] mode "RGB"
  Image.fromarray(np.ascontiguousarray(
      image[..., 0] if mode == "L" else image)).save(
          buffer, format="JPEG", quality=quality)
  buffer.seek(0)
  with Image.open(buffer) as decoded:
    pixels = np.asarray(decoded.convert(mode))
  return pixels.reshape(image.shape)


def jpeg_images(images, quality):
  """Each image JPEG-encoded by Pillow at `quality`, decoded back to uint8.

  Pillow's defaults otherwise: RGB images get 4:2:0 chroma subsampling (the
  colour planes at half resolution, hence most of the error on small colour
  images), grayscale images are encoded as mode "L". Deterministic: the same
  images and quality give the same pixels. At quality 75 the 1000 lossless
  CIFAR-10 test images differ from the originals by a mean absolute error of
  5.8 grey levels (PSNR 29.9 dB), as `cifar10_jpeg` does (../shared/data
  README; `glow_ood.analysis.jpeg_matching` measures it).

  Args:
    images: `uint8` `[N, H, W, C]`, `C` 1 (grayscale) or 3 (RGB).
    quality: Python `int` in 1..95 (`JPEG_QUALITIES`).

  Returns:
    `uint8` `[N, H, W, C]`, the decoded images.
  """
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise TypeError(f"jpeg_images expects uint8 images; got {images.dtype}.")
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"jpeg_images expects [N, H, W, C] images with C = 1 "
                     f"or 3; got shape {images.shape}.")
  low, high = JPEG_QUALITIES
  if int(quality) != quality or not low <= quality <= high:
    raise ValueError(f"JPEG quality must be an int in {low}..{high}; got "
                     f"{quality}.")
  out = np.empty_like(images)
  for i, image in enumerate(images):
    out[i] = _jpeg_round_trip(image, int(quality))
  return out


def flipped_images(images):
  """Each image mirrored left to right: `out[n, i, j, c] = images[n, i, W - 1 - j, c]`.

  A hard control for OOD detection: the pixels' values, hence any statistic
  that ignores their positions, are those of the original images.

  Args:
    images: `uint8` `[N, H, W, C]`.

  Returns:
    `uint8` `[N, H, W, C]`, a new array.
  """
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise TypeError(f"flipped_images expects uint8 images; got "
                    f"{images.dtype}.")
  if images.ndim != 4:
    raise ValueError(f"flipped_images expects [N, H, W, C] images; got shape "
                     f"{images.shape}.")
  return np.ascontiguousarray(images[:, :, ::-1, :])


def generate(special, num, shape, seed=None):
  """The `num` images `[num, H, W, C]` of a generated `SpecialDataset`.

  Args:
    special: a `SpecialDataset` with `is_generated` ("constant" or
      "uniform_random"); "grayed", "jpeg" and "flipped" need real images, see
      `grayed_images`, `jpeg_images` and `flipped_images`.
    num: Python `int`, number of images.
    shape: `(H, W, C)`.
    seed: seed of `"uniform_random"` (see `uniform_random_images`).
  """
  if special.kind == "constant":
    return constant_images(special.value, num, shape)
  if special.kind == "uniform_random":
    return uniform_random_images(num, shape, seed)
  raise ValueError(f"{special.kind!r} images are made from a real dataset, "
                   "not generated: use grayed_images(images, factor), "
                   "jpeg_images(images, quality) or flipped_images(images).")
