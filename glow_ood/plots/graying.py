"""The graying effect (Figure 6b-c): likelihood against the graying factor.

Graying pulls pixels towards mid-grey, `x' = 128 + factor * (x - 128)` (see
`glow_ood.data.special.grayed_images`): `factor = 1` is the original data,
`factor = 0` a constant image. The paper's analysis predicts that shrinking
the variance raises the likelihood (lowers bits/dim) of every dataset. The
histogram form of Figure 6b is `histograms.plot_log_prob_histograms` with one
entry per (dataset, factor).
"""

import matplotlib.pyplot as plt
import numpy as np

from glow_ood.plots import common

__all__ = ["plot_graying"]


def plot_graying(factors, values, path, *, ylabel="bits/dim",
                 xlabel="graying factor (1 = original, 0 = constant grey)",
                 title=None, colors=None):
  """One line per dataset: mean bits/dim (or log p(x)) at each graying factor.

  Args:
    factors: array-like `[F]`, the finite graying factors, distinct.
    values: non-empty mapping `dataset -> [F]`, the value at each factor (e.g.
      mean bits/dim of the grayed test split); non-finite points are dropped
      and counted in the legend. In legend order (training set first).
    path: output path without suffix; `<path>.png` and `<path>.pdf` are written.
    ylabel: Python `str`. Default value: `"bits/dim"`.
    xlabel: Python `str`.
      Default value: `"graying factor (1 = original, 0 = constant grey)"`.
    title: Python `str` or `None`. Default value: `None`.
    colors: see `common.assign_colors`. Default value: `None`.

  Returns:
    `[png_path, pdf_path]`.

  Raises:
    ValueError: empty `values` or `factors`, repeated or non-finite factors,
      or a dataset without exactly one value per factor.
  """
  factors = np.asarray(factors, np.float64)
  if factors.ndim != 1 or not factors.size:
    raise ValueError(f"factors must be a non-empty 1-D array; got shape "
                     f"{factors.shape}.")
  if len(np.unique(factors)) != factors.size:
    raise ValueError(f"factors must be distinct; got {factors}.")
  common.check_mapping(values, "values")
  curves = {name: common.finite_curve(factors, v, name, x_name="factors")
            for name, v in values.items()}
  color_of = common.assign_colors(list(curves), colors)
  fig, ax = plt.subplots(figsize=(5.5, 3.8))
  for name, (x, y, note) in curves.items():
    sort = np.argsort(x)
    ax.plot(x[sort], y[sort], marker="o", color=color_of[name],
            label=f"{name}{note}")
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.legend(fontsize="small")
  if title is not None:
    ax.set_title(title)
  return common.save_figure(fig, path)
