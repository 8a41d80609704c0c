"""Overlaid, density-normalized histograms of per-example scores (Figures 2, 4, 5a, 7, 10).

Each dataset's histogram is normalized to unit area over *shared* bin edges
(computed from the union of all datasets), so the heights of different
datasets compare as densities: `height_k = count_k / (N * width_k)`, and
`sum_k height_k * width_k = 1` for every dataset whose values all fall in the
bins.

#### Examples

```python
plot_log_prob_histograms(
    {"cifar10/train": lp_train, "cifar10/test": lp_test, "svhn/test": lp_svhn},
    "figures/figure2b")            # black, blue, red as in the paper
plot_decomposition_histograms(log_prob_z, log_det, "figures/figure4cd")
```
"""

import matplotlib.pyplot as plt
import numpy as np

from glow_ood.plots import common

__all__ = ["BIN_RULES", "bin_edges", "draw_histograms",
           "plot_log_prob_histograms", "plot_decomposition_histograms",
           "plot_histogram_panels"]

# String bin rules, as in `numpy.histogram_bin_edges`.
BIN_RULES = ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")


def bin_edges(values, bins=50):
  """Bin edges shared by every array in `values`, from their union.

  Args:
    values: sequence of 1-D float arrays (finite values only).
    bins: Python `int` (that many equal-width bins over the union's range), a
      rule name from `BIN_RULES`, or an increasing 1-D array of edges (used
      as given). Default value: `50`.

  Returns:
    float64 `[num_bins + 1]`, strictly increasing.

  Raises:
    ValueError: `bins` is not a positive int, a known rule or increasing edges.
  """
  if isinstance(bins, str):
    if bins not in BIN_RULES:
      raise ValueError(f"bins rule must be one of {BIN_RULES}; got {bins!r}.")
  elif np.ndim(bins) == 0:
    if (isinstance(bins, (bool, np.bool_)) or
        not isinstance(bins, (int, np.integer)) or bins < 1):
      raise ValueError(f"bins must be a positive int; got {bins!r}.")
  else:
    edges = np.asarray(bins, np.float64)
    if (edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges))
        or np.any(np.diff(edges) <= 0)):
      raise ValueError("bins given as edges must be a finite, strictly "
                       f"increasing 1-D array of at least 2 values; got {bins!r}.")
    return edges
  union = np.concatenate([np.asarray(v, np.float64).ravel() for v in values])
  return np.histogram_bin_edges(union, bins=bins)


def draw_histograms(ax, values, bins=50, colors=None, alpha=0.5):
  """Draws one density histogram per dataset on `ax`, over shared bin edges.

  Non-finite values are dropped and counted in the legend label; values
  outside explicitly given edges are counted there too.

  Args:
    ax: a matplotlib `Axes`.
    values: non-empty mapping `name -> array` of per-example values (any
      shape, flattened), in legend order.
    bins: see `bin_edges`. Default value: `50`.
    colors: see `common.assign_colors`. Default value: `None` (black, blue,
      red, ...).
    alpha: Python `float`, opacity of the overlaid bars. Default value: `0.5`.

  Returns:
    float64 `[num_bins + 1]`: the bin edges used for every dataset.
  """
  common.check_mapping(values, "values")
  cleaned = {name: common.finite_values(v, name) for name, v in values.items()}
  color_of = common.assign_colors(list(cleaned), colors)
  edges = bin_edges([v for v, _ in cleaned.values()], bins)
  for name, (finite, note) in cleaned.items():
    num_outside = int(np.sum((finite < edges[0]) | (finite > edges[-1])))
    if num_outside:
      note += f" ({num_outside} outside the bins)"
    ax.hist(finite, bins=edges, density=True, color=color_of[name],
            alpha=alpha, label=f"{name}{note}")
  ax.set_ylabel("density")
  ax.legend(fontsize="small")
  return edges


def plot_log_prob_histograms(values, path, *, xlabel="log p(x)", title=None,
                             bins=50, colors=None):
  """Figure 2 / 5a / 7 / 10: histograms of log p(x) (or bits/dim) of several datasets.

  Args:
    values: non-empty mapping `name -> [N_name]` per-example log p(x) in nats
      (or bits/dim, with `xlabel="bits/dim"`), in legend order: training set's
      train split, its test split, then out-of-distribution sets.
    path: output path without suffix; `<path>.png` and `<path>.pdf` are written.
    xlabel: Python `str`. Default value: `"log p(x)"`.
    title: Python `str` or `None`. Default value: `None`.
    bins: see `bin_edges`. Default value: `50`.
    colors: see `common.assign_colors`. Default value: `None` (black, blue,
      red, ...).

  Returns:
    `[png_path, pdf_path]`.
  """
  fig, ax = plt.subplots(figsize=(5.5, 3.8))
  try:
    draw_histograms(ax, values, bins=bins, colors=colors)
  except Exception:
    plt.close(fig)
    raise
  ax.set_xlabel(xlabel)
  if title is not None:
    ax.set_title(title)
  return common.save_figure(fig, path)


def plot_decomposition_histograms(log_prob_z, log_det, path, *,
                                  xlabels=("log p(z)", "log |det dz/dx|"),
                                  title=None, bins=50, colors=None):
  """Figure 4: log p(x) = log p(z) + log|det dz/dx|, one panel per term.

  Args:
    log_prob_z: non-empty mapping `name -> [N_name]`, log p(z) under the base
      distribution (nats).
    log_det: mapping with the same names `name -> [N_name]`, log|det dz/dx|
      summed over levels (nats). Colours follow the order of `log_prob_z`.
    path: output path without suffix; `<path>.png` and `<path>.pdf` are written.
    xlabels: pair of Python `str`, the x labels of the two panels.
      Default value: `("log p(z)", "log |det dz/dx|")`.
    title: Python `str` or `None`, the figure title. Default value: `None`.
    bins: see `bin_edges`; each panel computes its own shared edges.
      Default value: `50`.
    colors: see `common.assign_colors`. Default value: `None`.

  Returns:
    `[png_path, pdf_path]`.

  Raises:
    ValueError: the two mappings name different datasets, or a dataset has
      a different number of examples in the two.
  """
  common.check_mapping(log_prob_z, "log_prob_z")
  common.check_mapping(log_det, "log_det")
  if set(log_prob_z) != set(log_det):
    raise ValueError(
        "log_prob_z and log_det must name the same datasets; only in "
        f"log_prob_z: {sorted(set(log_prob_z) - set(log_det))}, only in "
        f"log_det: {sorted(set(log_det) - set(log_prob_z))}.")
  for name in log_prob_z:
    num_z, num_det = np.size(log_prob_z[name]), np.size(log_det[name])
    if num_z != num_det:
      raise ValueError(f"{name!r} has {num_z} log_prob_z values but {num_det} "
                       "log_det values: both terms are per example.")
  if len(xlabels) != 2:
    raise ValueError(f"xlabels must be 2 strings; got {xlabels!r}.")
  ordered_log_det = {name: log_det[name] for name in log_prob_z}
  return plot_histogram_panels(
      [(log_prob_z, xlabels[0]), (ordered_log_det, xlabels[1])], path,
      title=title, bins=bins, colors=colors)


def plot_histogram_panels(panels, path, *, title=None, bins=50, colors=None):
  """One row of histogram panels (see `draw_histograms`), colours shared by name.

  Args:
    panels: non-empty sequence of `(values, xlabel)`: `values` a non-empty
      mapping `name -> array`, drawn with its own shared bin edges; a name
      has the same colour in every panel (the order of first appearance).
    path: output path without suffix; `<path>.png` and `<path>.pdf` are written.
    title: Python `str` or `None`, the figure title. Default value: `None`.
    bins: see `bin_edges`, for every panel. Default value: `50`.
    colors: see `common.assign_colors`. Default value: `None`.

  Returns:
    `[png_path, pdf_path]`.
  """
  panels = list(panels)
  if not panels:
    raise ValueError("panels is empty: pass at least one (values, xlabel).")
  names = []
  for values, xlabel in panels:
    common.check_mapping(values, f"the values of panel {xlabel!r}")
    names.extend(name for name in values if name not in names)
  color_of = common.assign_colors(names, colors)
  fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6),
                           squeeze=False)
  try:
    for ax, (values, xlabel) in zip(axes[0], panels):
      draw_histograms(ax, values, bins=bins, colors=color_of)
      ax.set_xlabel(xlabel)
  except Exception:
    plt.close(fig)
    raise
  if title is not None:
    fig.suptitle(title)
  fig.tight_layout()
  return common.save_figure(fig, path)
