"""What every figure shares: the Agg backend, the paper's colours, input checks, saving.

The backend is set to "Agg" before `matplotlib.pyplot` is imported, so figures
are drawn without a display (CI, remote machines). Every figure is written
twice, as PNG (for a README or a quick look) and PDF (vector, for a paper).

Colours follow the paper (Figures 2, 5a, 7, 10): the training set's train split
in black, its test split in blue, the out-of-distribution set in red. Datasets
are given in that order; further sets get other distinct colours.
"""

import collections.abc
import os
import warnings

import matplotlib

matplotlib.use("Agg")

# pylint: disable=g-import-not-at-top,wrong-import-position
import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np

from glow_ood import fileio

__all__ = ["PAPER_COLORS", "default_colors", "assign_colors", "finite_values",
           "finite_curve", "check_mapping", "save_figure"]

# In the order of the datasets: training set (train split), training set (test
# split), first out-of-distribution set, then further sets.
PAPER_COLORS = ("black", "blue", "red", "tab:green", "tab:orange",
                "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan",
                "tab:gray")

_SUFFIXES = (".png", ".pdf")


def check_mapping(values, what):
  """Raises `ValueError` unless `values` is a non-empty mapping `name -> data`.

  Args:
    values: the argument to check.
    what: Python `str`, how the error names the argument (e.g. `"values"`).
  """
  if not isinstance(values, collections.abc.Mapping):
    raise ValueError(f"{what} must be a mapping name -> array (e.g. a dict "
                     f"{{'cifar10/test': array}}); got {type(values).__name__}.")
  if not values:
    raise ValueError(f"{what} is empty: pass at least one dataset to plot.")


def default_colors(count):
  """`count` distinct colours: `PAPER_COLORS`, then tab20's light shades, then hues.

  A report may score more sets than the paper's palette has colours (every
  OOD set raw and JPEG-compressed); the extra sets get tab20's lighter
  shades of the same hues and, past those, evenly spaced hues.
  """
  colors = list(PAPER_COLORS)
  colors += [matplotlib.colors.to_hex(c) for c in
             matplotlib.colormaps["tab20"].colors[1::2]]
  extra = count - len(colors)
  if extra > 0:
    colors += [matplotlib.colors.to_hex(
        matplotlib.colormaps["hsv"](index / extra)) for index in range(extra)]
  return tuple(colors[:count])


def assign_colors(names, colors=None):
  """The colour of each dataset: `PAPER_COLORS` in order, unless given.

  Args:
    names: sequence of dataset names, in legend order (training set's train
      split first, then its test split, then the other sets).
    colors: `None`, a mapping `name -> colour` covering every name, or a
      sequence with at least `len(names)` colours (any matplotlib colour spec).
      Default value: `None` (`default_colors`: the paper's black, blue, red,
      then `tab:` colours, as many as there are names).

  Returns:
    `dict` name -> colour.

  Raises:
    ValueError: too few colours, a name without a colour, or an entry that is
      no matplotlib colour.
  """
  names = list(names)
  if colors is None:
    result = dict(zip(names, default_colors(len(names))))
  elif isinstance(colors, collections.abc.Mapping):
    missing = [name for name in names if name not in colors]
    if missing:
      raise ValueError(f"colors has no entry for {missing}; it covers "
                       f"{sorted(colors)}.")
    result = {name: colors[name] for name in names}
  else:
    colors = list(colors)
    if len(colors) < len(names):
      raise ValueError(f"{len(names)} datasets but only {len(colors)} colors "
                       f"given ({colors}).")
    result = dict(zip(names, colors))
  for name, color in result.items():
    if not matplotlib.colors.is_color_like(color):
      raise ValueError(f"colour {color!r} of {name!r} is no matplotlib colour "
                       "(use e.g. 'red', '#ff0000' or (1., 0., 0.)).")
  return result


def finite_values(values, name):
  """Flattened float64 values without NaN/inf, and a legend note on what was dropped.

  Non-finite values are never dropped silently: the returned note (to append
  to the legend label) counts them and a `UserWarning` is issued.

  Args:
    values: array-like of numbers, any shape (flattened).
    name: Python `str`, the dataset name used in messages.

  Returns:
    `(finite, note)`: float64 `[M]` and `""` or `" (3 non-finite dropped)"`.

  Raises:
    ValueError: `values` is empty or holds no finite value at all.
  """
  values = np.asarray(values, np.float64).ravel()
  if not values.size:
    raise ValueError(f"{name!r} has no values to plot.")
  finite = np.isfinite(values)
  num_dropped = int(values.size - finite.sum())
  if num_dropped == values.size:
    raise ValueError(f"{name!r} has no finite values ({values.size} NaN/inf): "
                     "nothing to plot.")
  if not num_dropped:
    return values, ""
  warnings.warn(f"{name!r}: {num_dropped} of {values.size} non-finite values "
                "dropped from the plot.", stacklevel=3)
  return values[finite], f" ({num_dropped} non-finite dropped)"


def finite_curve(x, y, name, x_name="x"):
  """The points `(x_i, y_i)` of a curve with finite `y_i`, and a legend note.

  Like `finite_values`, points with a non-finite `y` are dropped, counted in
  the returned note and warned about; `x` itself must be finite.

  Args:
    x: array-like `[K]`, the abscissae (steps, graying factors).
    y: array-like `[K]`, the values.
    name: Python `str`, the curve name used in messages.
    x_name: Python `str`, how messages call `x`. Default value: `"x"`.

  Returns:
    `(x, y, note)`: float64 `[M]`, float64 `[M]`, `""` or
    `" (3 non-finite dropped)"`.

  Raises:
    ValueError: `x` or `y` is not 1-D, their lengths differ, they are empty,
      `x` is not finite, or no `y` is finite.
  """
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  if x.ndim != 1 or y.ndim != 1:
    raise ValueError(f"{name!r}: {x_name} and values must be 1-D; got shapes "
                     f"{x.shape} and {y.shape}.")
  if x.shape != y.shape:
    raise ValueError(f"{name!r} has {y.size} values for {x.size} {x_name}: "
                     "give one value per entry.")
  if not np.all(np.isfinite(x)):
    raise ValueError(f"{name!r}: {x_name} must be finite; got {x}.")
  _, note = finite_values(y, name)
  keep = np.isfinite(y)
  return x[keep], y[keep], note


def save_figure(fig, path, dpi=150, tight=True):
  """Writes `fig` as `<path>.png` and `<path>.pdf`, then closes it.

  Args:
    fig: a matplotlib `Figure`.
    path: output path; a `.png` or `.pdf` suffix is removed (both are written).
      Missing parent folders are created.
    dpi: Python `int`, resolution of the PNG. Default value: `150`.
    tight: crop the white margin (`bbox_inches="tight"`). Default value: `True`.

  Each file is written to a temporary name and renamed
  (`fileio.replaced_atomically`): a kill leaves the previous figure.

  Returns:
    `[png_path, pdf_path]`.
  """
  path = os.fspath(path)
  root, suffix = os.path.splitext(path)
  if suffix.lower() in _SUFFIXES:
    path = root
  try:
    paths = [path + ".png", path + ".pdf"]
    for output in paths:
      with fileio.replaced_atomically(output) as temp:
        fig.savefig(temp, format=output[-3:], dpi=dpi,
                    bbox_inches="tight" if tight else None)
  finally:
    plt.close(fig)
  return paths
