"""Grids of sample images (Figure 14), pixel-exact.

The images are tiled row by row (`glow_ood.data.transforms.image_grid`) and each
pixel is drawn as a `scale x scale` block of the PNG, with
`scale = ceil(MIN_SIDE_PIXELS / max(grid height, grid width))` (at least 1),
so small grids stay legible; the PNG holds exactly the grid (plus a title
band on top if a title is given), the PDF the same picture as vector + image.
"""

import math

import matplotlib.pyplot as plt
import numpy as np

from glow_ood.data import transforms
from glow_ood.plots import common

__all__ = ["MIN_SIDE_PIXELS", "save_sample_grid"]

MIN_SIDE_PIXELS = 256
_DPI = 100
_TITLE_PIXELS = 28


def save_sample_grid(images, path, num_columns=None, title=None):
  """Writes uint8 images `[N, H, W, C]` as one grid, `num_columns` per row.

  Args:
    images: `uint8` array `[N, H, W, C]`, C = 1 (drawn in grey levels, 0 black,
      255 white) or 3 (RGB); e.g. `glow_ood.preprocessing.to_uint8(samples)`.
    path: output path without suffix; `<path>.png` and `<path>.pdf` are written.
    num_columns: Python `int`, images per row. Default value: `None`
      (`ceil(sqrt(N))`). Cells after the last image stay black.
    title: Python `str` or `None`, written above the grid. Default value: `None`.

  Returns:
    `[png_path, pdf_path]`.

  Raises:
    TypeError: `images` is not `uint8`.
    ValueError: `images` is not `[N, H, W, 1 or 3]` with N >= 1, or
      `num_columns` is not a positive int.
  """
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise TypeError(f"save_sample_grid expects uint8 images in 0..255; got "
                    f"{images.dtype}: convert model samples with "
                    "glow_ood.preprocessing.to_uint8 first.")
  if images.ndim != 4 or images.shape[-1] not in (1, 3) or not len(images):
    raise ValueError("images must be [N, H, W, C] with N >= 1 and C = 1 or 3; "
                     f"got shape {images.shape}.")
  if num_columns is not None and (
      isinstance(num_columns, bool) or
      not isinstance(num_columns, (int, np.integer)) or num_columns < 1):
    raise ValueError(f"num_columns must be a positive int or None; got "
                     f"{num_columns!r}.")
  grid = transforms.image_grid(images, num_columns)[0]   # [rows*H, cols*W, C]
  scale = max(1, math.ceil(MIN_SIDE_PIXELS / max(grid.shape[:2])))
  grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
  height, width = grid.shape[:2]
  title_height = _TITLE_PIXELS if title is not None else 0
  fig = plt.figure(figsize=(width / _DPI, (height + title_height) / _DPI))
  ax = fig.add_axes([0., 0., 1., height / (height + title_height)])
  if grid.shape[-1] == 1:   # R = G = B: exact grey levels, no colormap rounding
    grid = np.repeat(grid, 3, axis=-1)
  ax.imshow(grid, interpolation="nearest")
  ax.set_axis_off()
  if title is not None:
    fig.text(0.5, 1. - 0.5 * title_height / (height + title_height), title,
             ha="center", va="center")
  return common.save_figure(fig, path, dpi=_DPI, tight=False)
