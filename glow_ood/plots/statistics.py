"""Histograms of data and latent-code statistics (Figures 6a, 11, 12, 13).

The paper's second-order analysis says a constant-volume flow gives higher
likelihood to a dataset that "sits inside" the training set: roughly the same
per-dimension mean and a smaller variance. These figures show exactly those
statistics, per dataset, one panel each, with shared bin edges per panel (see
`histograms.draw_histograms`). The legend of the variance (std) panel also
gives the trace of the covariance, `Tr = sum_d var_d` (`sum_d std_d^2`), as in
the captions of Figures 11 and 12.

The statistics are computed elsewhere (pixels scaled to [0, 1] by dividing by
256, as in the paper); here they are only drawn.
"""

import collections.abc

import numpy as np

from glow_ood.plots import common
from glow_ood.plots import histograms

__all__ = ["DATA_STATISTICS", "LATENT_STATISTICS", "data_statistics_panels",
           "latent_statistics_panels", "plot_data_statistics",
           "plot_latent_statistics"]

# key -> x label, in panel order.
DATA_STATISTICS = {
    "mean": "per-dimension mean",
    "variance": "per-dimension variance",
    "covariance_offdiagonal": "off-diagonal covariance",
    "normalized_norm": "||x|| / sqrt(D)",
}
LATENT_STATISTICS = {
    "mean": "per-dimension mean of z",
    "std": "per-dimension std of z",
    "norm": "norm of z",
}


def _entry(name, entry, keys):
  """`{key: array}` from a mapping, or from an object with those attributes."""
  if isinstance(entry, collections.abc.Mapping):
    missing = [key for key in keys if key not in entry]
    found = sorted(entry)
  else:
    missing = [key for key in keys if not hasattr(entry, key)]
    found = type(entry).__name__
  if missing:
    raise ValueError(f"stats[{name!r}] lacks {missing}: each entry needs the "
                     f"statistics {list(keys)} (a mapping or an object with "
                     f"these attributes); got {found}.")
  if isinstance(entry, collections.abc.Mapping):
    return {key: entry[key] for key in keys}
  return {key: getattr(entry, key) for key in keys}


def _panels(stats, keys, trace_key, square):
  """`[(values, xlabel)]` per statistic; the trace added to the labels of `trace_key`."""
  common.check_mapping(stats, "stats")
  stats = {name: _entry(name, entry, keys) for name, entry in stats.items()}
  panels = []
  for key, xlabel in keys.items():
    values = {name: entry[key] for name, entry in stats.items()}
    if key == trace_key:
      values = {}
      for name, entry in stats.items():
        terms = np.asarray(entry[key], np.float64)
        terms = terms[np.isfinite(terms)]  # the dropped ones are in the label
        trace = np.sum(np.square(terms) if square else terms)
        values[f"{name} (Tr = {trace:.4g})"] = entry[key]
    panels.append((values, xlabel))
  return panels


def data_statistics_panels(stats):
  """The panels of `plot_data_statistics`: `[(label -> values, xlabel)]`.

  Labels are the dataset names; in the variance panel they carry the trace,
  `"cifar10 (Tr = 189.5)"` with `Tr = sum_d variance_d` (finite terms).
  """
  return _panels(stats, DATA_STATISTICS, "variance", square=False)


def latent_statistics_panels(stats):
  """The panels of `plot_latent_statistics`: `[(label -> values, xlabel)]`.

  In the std panel the labels carry `Tr = sum_d std_d^2` (finite terms).
  """
  return _panels(stats, LATENT_STATISTICS, "std", square=True)


def _colors_by_dataset(stats, colors, panels):
  """The colours of every panel label, keyed by the dataset they come from."""
  color_of = common.assign_colors(list(stats), colors)
  result = {}
  for values, _ in panels:
    for label, name in zip(values, stats):
      result[label] = color_of[name]
  return result


def plot_data_statistics(stats, path, *, title=None, bins=50, colors=None):
  """Figure 11 / 6a: four panels of data statistics per dataset.

  Args:
    stats: non-empty mapping `dataset -> {"mean": [D], "variance": [D],
      "covariance_offdiagonal": [K], "normalized_norm": [N]}`: per-dimension
      mean and variance of the pixels, the off-diagonal entries of their
      covariance matrix (e.g. a sample of them), and `||x_n|| / sqrt(D)` per
      image (any shape, flattened; other keys are ignored). An entry may also
      be an object with these attributes, e.g. a
      `glow_ood.analysis.data_statistics.DataStatistics`. Datasets in legend
      order (training set first).
    path: output path without suffix; `<path>.png` and `<path>.pdf` are written.
    title: Python `str` or `None`. Default value: `None`.
    bins: see `histograms.bin_edges`, for every panel. Default value: `50`.
    colors: see `common.assign_colors`, by dataset. Default value: `None`.

  Returns:
    `[png_path, pdf_path]`.

  Raises:
    ValueError: empty `stats`, or an entry lacking one of these statistics.
  """
  panels = data_statistics_panels(stats)
  return histograms.plot_histogram_panels(
      panels, path, title=title, bins=bins,
      colors=_colors_by_dataset(stats, colors, panels))


def plot_latent_statistics(stats, path, *, title=None, bins=50, colors=None):
  """Figures 12-13: three panels of latent-code statistics per dataset.

  With codes `z [N, D]`: `mean_d = (1/N) sum_n z_nd`, `std_d^2 = 1/(N-1)
  sum_n (z_nd - mean_d)^2`, and a norm per example (the paper plots
  `||z_n|| / sqrt(D)`).

  Args:
    stats: non-empty mapping `dataset -> {"mean": [D], "std": [D],
      "norm": [N]}` (other keys ignored), or objects with these attributes
      (e.g. `glow_ood.analysis.latent_statistics.LatentStatistics`; pass
      `{"norm": s.normalized_norm, ...}` for the paper's `||z|| / sqrt(D)`),
      in legend order (training set first).
    path: output path without suffix; `<path>.png` and `<path>.pdf` are written.
    title: Python `str` or `None`. Default value: `None`.
    bins: see `histograms.bin_edges`, for every panel. Default value: `50`.
    colors: see `common.assign_colors`, by dataset. Default value: `None`.

  Returns:
    `[png_path, pdf_path]`.

  Raises:
    ValueError: empty `stats`, or an entry lacking one of these statistics.
  """
  panels = latent_statistics_panels(stats)
  return histograms.plot_histogram_panels(
      panels, path, title=title, bins=bins,
      colors=_colors_by_dataset(stats, colors, panels))
