"""Scalars over training read from TensorBoard event files, and their plot (Figure 5b).

`glow_ood.train` writes `bits_per_dim/<dataset>/<split>` (e.g.
`bits_per_dim/cifar10_jpeg/test`) into `<workdir>/eval/` and the training
scalars (`bits_per_dim`, `log_prob_z`, `log_det`, `grad_norm`, ...) into
`<workdir>/train/`, with `tf.summary.scalar` (stored as rank-0 tensors).

#### Examples

```python
scalars = training_curves.read_scalars(f"{workdir}/eval", "bits_per_dim/")
curves = {tag.removeprefix("bits_per_dim/"): c for tag, c in scalars.items()}
training_curves.plot_training_curves(curves, "figures/figure5b")
```
"""

import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from glow_ood.plots import common

__all__ = ["read_scalars", "plot_training_curves"]

_EVENT_PATTERN = "*tfevents*"


def _scalar(value, plugin):
  """The float of one `Summary.Value`, or `None` if it is no scalar summary."""
  kind = value.WhichOneof("value")
  if kind == "simple_value":  # TF1 `tf.compat.v1.summary.scalar`
    return float(value.simple_value)
  if kind != "tensor" or plugin not in ("", "scalars"):
    return None  # images, histograms, text, ...
  array = tf.make_ndarray(value.tensor)
  if array.size != 1 or not np.issubdtype(array.dtype, np.number):
    return None
  return float(array.reshape([]))


def read_scalars(logdir, tag_prefix=""):
  """Every scalar summary in the event files of `logdir`, per tag, sorted by step.

  All `*tfevents*` files directly in `logdir` are read (not its
  subfolders). A step logged more than once (e.g. re-run after a resumption)
  keeps the value written last (largest wall time; on a tie, the one read
  last, files in name order). Non-scalar summaries (images, ...) are skipped;
  a truncated last record (a file still being written) ends that file with a
  warning.

  Args:
    logdir: folder holding the event files, e.g. `<workdir>/eval`.
    tag_prefix: Python `str`; only tags starting with it are returned (the
      tags are returned whole). Default value: `""` (all scalar tags).

  Returns:
    `dict` tag -> `(steps, values)`: int64 `[K]` strictly increasing steps and
    float64 `[K]` values.

  Raises:
    FileNotFoundError: `logdir` holds no event file.
    ValueError: no scalar tag starts with `tag_prefix` (the message lists the
      scalar tags found).
  """
  logdir = os.fspath(logdir)
  paths = (sorted(tf.io.gfile.glob(os.path.join(logdir, _EVENT_PATTERN)))
           if tf.io.gfile.isdir(logdir) else [])
  if not paths:
    raise FileNotFoundError(
        f"No TensorBoard event files ({_EVENT_PATTERN}) in {logdir!r}: pass the "
        "folder a summary writer wrote to, e.g. <workdir>/eval or "
        "<workdir>/train.")
  plugins = {}   # tag -> plugin name (metadata may come with the first value only)
  latest = {}    # tag -> step -> ((wall_time, order), value)
  all_tags = set()
  order = 0
  for path in paths:
    try:
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          plugin = value.metadata.plugin_data.plugin_name
          if plugin:
            plugins[value.tag] = plugin
          scalar = _scalar(value, plugins.get(value.tag, ""))
          if scalar is None:
            continue
          all_tags.add(value.tag)
          if not value.tag.startswith(tag_prefix):
            continue
          order += 1
          key = (event.wall_time, order)
          by_step = latest.setdefault(value.tag, {})
          if event.step not in by_step or by_step[event.step][0] <= key:
            by_step[event.step] = (key, scalar)
    except tf.errors.DataLossError as e:
      warnings.warn(f"{path}: truncated event record, read up to it ({e}).")
  if not latest:
    raise ValueError(f"No scalar summary tag starts with {tag_prefix!r} in "
                     f"{logdir!r}; scalar tags found: {sorted(all_tags)}.")
  result = {}
  for tag in sorted(latest):
    steps = np.array(sorted(latest[tag]), np.int64)
    values = np.array([latest[tag][s][1] for s in steps], np.float64)
    result[tag] = (steps, values)
  return result


def plot_training_curves(curves, path, *, ylabel="bits/dim",
                         xlabel="iterations", title=None, colors=None):
  """Figure 5b: one line per curve, value against training step.

  Args:
    curves: non-empty mapping `name -> (steps [K], values [K])`, e.g. the
      output of `read_scalars`, in legend order (training set's train split,
      its test split, then other sets: black, blue, red, ...). Non-finite
      values are dropped and counted in the legend.
    path: output path without suffix; `<path>.png` and `<path>.pdf` are written.
    ylabel: Python `str`. Default value: `"bits/dim"`.
    xlabel: Python `str`. Default value: `"iterations"`.
    title: Python `str` or `None`. Default value: `None`.
    colors: see `common.assign_colors`. Default value: `None`.

  Returns:
    `[png_path, pdf_path]`.

  Raises:
    ValueError: empty `curves`, an entry that is no `(steps, values)` pair, or
      steps and values of different lengths.
  """
  common.check_mapping(curves, "curves")
  points = {}
  for name, curve in curves.items():
    try:
      steps, values = curve
    except (TypeError, ValueError):
      raise ValueError(f"curves[{name!r}] must be a pair (steps, values); got "
                       f"{type(curve).__name__}.") from None
    points[name] = common.finite_curve(steps, values, name, x_name="steps")
  color_of = common.assign_colors(list(points), colors)
  fig, ax = plt.subplots(figsize=(5.5, 3.8))
  for name, (steps, values, note) in points.items():
    sort = np.argsort(steps, kind="stable")
    ax.plot(steps[sort], values[sort], color=color_of[name],
            marker="." if len(steps) < 50 else None, label=f"{name}{note}")
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.legend(fontsize="small")
  if title is not None:
    ax.set_title(title)
  return common.save_figure(fig, path)
