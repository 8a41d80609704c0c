"""The special inputs of the OOD experiments as uint8 images.

Nalisnick et al. (2019) score, besides real datasets, inputs that no camera
took: constant images and uniform noise; here also "grayed" images, real
images shrunk towards mid-grey. Their names ("constant:128", "uniform_random",
"grayed:<dataset>:<factor>") are parsed by `glow_ood.configs.dataset_names`
(re-exported here); every function below returns `uint8` NHWC arrays, like
`glow_ood.data.load_images`.
"""

import numpy as np

from glow_ood.configs.dataset_names import KINDS
from glow_ood.configs.dataset_names import SpecialDataset
from glow_ood.configs.dataset_names import is_generated
from glow_ood.configs.dataset_names import is_special
from glow_ood.configs.dataset_names import parse

__all__ = ["KINDS", "SpecialDataset", "parse", "is_special", "is_generated",
           "constant_images", "uniform_random_images", "grayed_images",
           "generate"]

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


def generate(special, num, shape, seed=None):
  """The `num` images `[num, H, W, C]` of a generated `SpecialDataset`.

  Args:
    special: a `SpecialDataset` with `is_generated` ("constant" or
      "uniform_random"); "grayed" needs real images, see `grayed_images`.
    num: Python `int`, number of images.
    shape: `(H, W, C)`.
    seed: seed of `"uniform_random"` (see `uniform_random_images`).
  """
  if special.kind == "constant":
    return constant_images(special.value, num, shape)
  if special.kind == "uniform_random":
    return uniform_random_images(num, shape, seed)
  raise ValueError(f"{special.kind!r} images are made from a real dataset, "
                   "not generated: use grayed_images(images, factor).")
