"""The special inputs of the OOD experiments as uint8 images, and their names.

Nalisnick et al. (2019) score, besides real datasets, inputs that no camera
took: constant images and uniform noise; here also "grayed" images, real
images shrunk towards mid-grey (lower contrast, hence lower pixel variance).
Every function returns `uint8` NHWC arrays, like `glow_ood.data.load_images`.

Names, accepted wherever a dataset name is (`DataConfig.dataset`):

    "constant:<value>"            every pixel = value, an int in 0..255
    "uniform_random"              every pixel i.i.d. uniform on 0..255
    "grayed:<dataset>:<factor>"   `grayed_images` of a real dataset's split,
                                  factor a float in [0, 1]

Generated sets ("constant:*", "uniform_random") have no native shape: the
caller gives it (`DataConfig.image_shape`, normally the in-distribution
images' shape). "grayed:*" keeps the shape of its dataset.
"""

import dataclasses
from typing import Optional

import numpy as np

__all__ = ["KINDS", "SpecialDataset", "parse", "is_special", "is_generated",
           "constant_images", "uniform_random_images", "grayed_images",
           "generate"]

KINDS = ("constant", "uniform_random", "grayed")
_GREY = 128.
_SYNTAX = ('"constant:<0..255>", "uniform_random" or '
           '"grayed:<dataset>:<factor in [0, 1]>"')


@dataclasses.dataclass(frozen=True)
class SpecialDataset:
  """A parsed special dataset name.

  Attributes:
    kind: one of `KINDS`.
    value: the pixel value of `"constant"`, else `None`.
    base: the real dataset that `"grayed"` shrinks, else `None`.
    factor: the contrast factor of `"grayed"`, else `None`.
  """
  kind: str
  value: Optional[int] = None
  base: Optional[str] = None
  factor: Optional[float] = None

  @property
  def is_generated(self):
    """True if the images are made from nothing (their shape must be given)."""
    return self.kind in ("constant", "uniform_random")


def _bad(name, why):
  return ValueError(f"Bad special dataset name {name!r}: {why}. Special names "
                    f"are {_SYNTAX}.")


def is_special(name):
  """True if `name` starts like a special dataset name (see `parse`)."""
  head = name.split(":", 1)[0]
  return head in KINDS


def is_generated(name):
  """True if `name` is a generated dataset ("constant:V", "uniform_random")."""
  special = parse(name)
  return special is not None and special.is_generated


def parse(name):
  """`name` -> `SpecialDataset`, or `None` if `name` is not a special name.

  Raises `ValueError` naming the syntax if `name` starts with a special kind
  (`"constant"`, `"uniform_random"`, `"grayed"`) but is malformed.
  """
  if not is_special(name):
    return None
  kind, _, rest = name.partition(":")
  if kind == "uniform_random":
    if rest:
      raise _bad(name, '"uniform_random" takes no arguments')
    return SpecialDataset("uniform_random")
  if kind == "constant":
    try:
      value = int(rest)
    except ValueError:
      raise _bad(name, f"the constant {rest!r} is not an integer") from None
    if not 0 <= value <= 255:
      raise _bad(name, f"the constant {value} is not in 0..255")
    return SpecialDataset("constant", value=value)
  base, _, factor_text = rest.rpartition(":")
  if not base:
    raise _bad(name, '"grayed" needs a dataset and a factor')
  if is_special(base):
    raise _bad(name, f"the grayed dataset {base!r} must be a real dataset")
  try:
    factor = float(factor_text)
  except ValueError:
    raise _bad(name, f"the factor {factor_text!r} is not a number") from None
  if not 0. <= factor <= 1.:
    raise _bad(name, f"the factor {factor} is not in [0, 1]")
  return SpecialDataset("grayed", base=base, factor=factor)


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
