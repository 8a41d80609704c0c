"""Figure 8 of Nalisnick et al. (2019): the change-of-variables terms against their bounds.

For a flow `f` (data -> latent) with a standard normal base, the two terms of

  log p(x) = log N(f(x); 0, I) + log|det df/dx|

are bounded above by the Gaussian's log-mode and by the volume bound (Eq. 8, 9):

  E[log p(z)]  <= -D/2 log(2 pi)
  E[log|det|]  <= D log L     (exp scale, L the Lipschitz constant of f)
  E[log|det|]  <= 0           (sigmoid scale)

One panel per coupling scale, "(a) Exponential Parametrization",
"(b) Sigmoid Parametrization": the empirical means as solid lines, their
bounds dashed in the same colour, against the data dimensionality `D`.
"""

import os

import matplotlib

matplotlib.use("Agg")

# pylint: disable=g-import-not-at-top,wrong-import-position
from matplotlib import pyplot as plt

from glow_ood.plots import common

__all__ = ["plot_limiting_bounds", "PANEL_TITLES"]

# Panel order and titles, as in the paper's Figure 8.
PANEL_TITLES = {
    "exp": "Exponential Parametrization",
    "sigmoid": "Sigmoid Parametrization",
}

_REQUIRED_KEYS = ("scale", "num_dims", "mean_log_prob_z", "log_prob_z_bound",
                  "mean_log_det", "log_det_bound")


def _cells_by_scale(results):
  """`{scale: cells sorted by num_dims}` in `PANEL_TITLES` order."""
  cells = results.get("cells") if isinstance(results, dict) else None
  if not cells:
    raise ValueError(
        "results has no 'cells': pass the dict returned by "
        "glow_ood.experiments.two_moons.experiment.run (or loaded from its results.json).")
  by_scale = {}
  for cell in cells:
    missing = [key for key in _REQUIRED_KEYS if key not in cell]
    if missing:
      raise ValueError(f"A results cell lacks {missing}; got keys "
                       f"{sorted(cell)}.")
    if cell["scale"] not in PANEL_TITLES:
      raise ValueError(f"Unknown coupling scale {cell['scale']!r} in results; "
                       f"expected one of {tuple(PANEL_TITLES)}.")
    by_scale.setdefault(cell["scale"], []).append(cell)
  return {scale: sorted(by_scale[scale], key=lambda c: c["num_dims"])
          for scale in PANEL_TITLES if scale in by_scale}


def _strip_extension(path):
  root, extension = os.path.splitext(os.fspath(path))
  return root if extension.lower() in (".png", ".pdf") else os.fspath(path)


def plot_limiting_bounds(results, path):
  """Writes Figure 8 as `<path>.png` and `<path>.pdf`.

  Args:
    results: `dict` with `"cells"`, a list of dicts, one per (scale, D), each
      with `"scale"` (`"exp"` or `"sigmoid"`), `"num_dims"` (`D`),
      `"mean_log_prob_z"`, `"log_prob_z_bound"`, `"mean_log_det"` and
      `"log_det_bound"` (nats); the schema of
      `glow_ood.experiments.two_moons.experiment.run`. Other keys are ignored.
    path: output path without extension; a trailing `.png` or `.pdf` is
      stripped. Missing parent directories are created; each file is
      replaced atomically (`common.save_figure`).

  Returns:
    List of the written paths, `[<path>.png, <path>.pdf]`.

  Raises:
    ValueError: if `results` has no cells, a cell lacks a key, or a scale is
      unknown.
  """
  panels = _cells_by_scale(results)
  root = _strip_extension(path)
  figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.),
                              squeeze=False)
  for index, (axis, (scale, cells)) in enumerate(zip(axes[0], panels.items())):
    dims = [c["num_dims"] for c in cells]
    axis.plot(dims, [c["mean_log_prob_z"] for c in cells], "-o", color="C0",
              markersize=3, label=r"$\mathrm{E}[\log p(z)]$")
    axis.plot(dims, [c["log_prob_z_bound"] for c in cells], "--", color="C0",
              label=r"bound $-\frac{D}{2}\log 2\pi$")
    axis.plot(dims, [c["mean_log_det"] for c in cells], "-o", color="C1",
              markersize=3, label=r"$\mathrm{E}[\log|\det \partial f/\partial x|]$")
    volume_bound = r"bound $D \log L$" if scale == "exp" else "bound $0$"
    axis.plot(dims, [c["log_det_bound"] for c in cells], "--", color="C1",
              label=volume_bound)
    axis.axhline(0., color="0.8", linewidth=0.8, zorder=0)
    axis.set_title(f"({chr(ord('a') + index)}) {PANEL_TITLES[scale]}")
    axis.set_xlabel("data dimensionality $D$")
    axis.set_ylabel("nats")
    axis.legend(fontsize=8)
  figure.suptitle("Limiting bounds: RealNVP on two moons copied to $D$ dims",
                  fontsize=10)
  figure.tight_layout()
  return common.save_figure(figure, root, dpi=150, tight=False)
