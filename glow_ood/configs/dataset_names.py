"""The names of the special inputs of the OOD experiments: parsing, no images.

Nalisnick et al. (2019) score, besides real datasets, inputs that no camera
took: constant images and uniform noise; here also "grayed" images, real
images shrunk towards mid-grey (lower contrast, hence lower pixel variance),
"jpeg" images, real images through a JPEG round trip (to compare like
with like against a model trained on JPEG-compressed data such as
`cifar10_jpeg`), and "flipped" images, real images mirrored left to right
(a hard control: the same images, only their orientation is new). The images
themselves are made by `glow_ood.data.special`.

Names, accepted wherever a dataset name is (`DataConfig.dataset`):

    "constant:<value>"            every pixel = value, an int in 0..255
    "uniform_random"              every pixel i.i.d. uniform on 0..255
    "grayed:<dataset>:<factor>"   `grayed_images` of a real dataset's split,
                                  factor a float in [0, 1]
    "jpeg:<dataset>:<quality>"    `jpeg_images` of a real dataset's split:
                                  Pillow's JPEG encoder at quality an int
                                  in 1..95 (4:2:0 chroma for RGB), decoded
                                  back to uint8
    "flipped:<dataset>"           `flipped_images` of a real dataset's split:
                                  each image mirrored left to right

Generated sets ("constant:*", "uniform_random") have no native shape: the
caller gives it (`DataConfig.image_shape`, normally the in-distribution
images' shape). "grayed:*", "jpeg:*" and "flipped:*" keep the shape of their dataset.
"""

import dataclasses
from typing import Optional

__all__ = ["KINDS", "JPEG_QUALITIES", "SpecialDataset", "parse", "is_special",
           "is_generated"]

KINDS = ("constant", "uniform_random", "grayed", "jpeg", "flipped")
# The range of "jpeg" qualities, (lowest, highest): Pillow advises against
# qualities above 95 (parts of the compression are then switched off).
JPEG_QUALITIES = (1, 95)
_SYNTAX = ('"constant:<0..255>", "uniform_random", '
           '"grayed:<dataset>:<factor in [0, 1]>", '
           '"jpeg:<dataset>:<quality in 1..95>" or "flipped:<dataset>"')


@dataclasses.dataclass(frozen=True)
class SpecialDataset:
  """A parsed special dataset name.

  Attributes:
    kind: one of `KINDS`.
    value: the pixel value of `"constant"`, else `None`.
    base: the real dataset that `"grayed"` shrinks, `"jpeg"` compresses or
      `"flipped"` mirrors, else `None`.
    factor: the contrast factor of `"grayed"`, else `None`.
    quality: the JPEG quality of `"jpeg"` (an int in 1..95), else `None`.
  """
  kind: str
  value: Optional[int] = None
  base: Optional[str] = None
  factor: Optional[float] = None
  quality: Optional[int] = None

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
  (`"constant"`, `"uniform_random"`, `"grayed"`, `"jpeg"`, `"flipped"`) but
  is malformed.
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
  if kind == "flipped":
    if not rest:
      raise _bad(name, '"flipped" needs a dataset')
    if is_special(rest):
      raise _bad(name, f"the flipped dataset {rest!r} must be a real dataset")
    return SpecialDataset("flipped", base=rest)
  base, _, argument = rest.rpartition(":")
  what = "factor" if kind == "grayed" else "quality"
  if not base:
    raise _bad(name, f'"{kind}" needs a dataset and a {what}')
  if is_special(base):
    raise _bad(name, f"the {kind} dataset {base!r} must be a real dataset")
  if kind == "jpeg":
    return SpecialDataset("jpeg", base=base,
                          quality=_jpeg_quality(name, argument))
  try:
    factor = float(argument)
  except ValueError:
    raise _bad(name, f"the factor {argument!r} is not a number") from None
  if not 0. <= factor <= 1.:
    raise _bad(name, f"the factor {factor} is not in [0, 1]")
  return SpecialDataset("grayed", base=base, factor=factor)


def _jpeg_quality(name, text):
  """The quality of a "jpeg" name: an int in `JPEG_QUALITIES`' range."""
  try:
    quality = int(text)
  except ValueError:
    raise _bad(name, f"the quality {text!r} is not an integer") from None
  low, high = JPEG_QUALITIES
  if not low <= quality <= high:
    raise _bad(name, f"the quality {quality} is not in {low}..{high}")
  return quality
