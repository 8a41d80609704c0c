"""Figures of the paper, drawn with matplotlib (Agg backend): PNG and PDF, no display needed.

Every `plot_*` / `save_*` function takes a path (a `.png` / `.pdf` suffix is
optional), writes both formats and returns `[png_path, pdf_path]`.
"""

from glow_ood.plots.graying import plot_graying
from glow_ood.plots.histograms import plot_decomposition_histograms
from glow_ood.plots.histograms import plot_histogram_panels
from glow_ood.plots.histograms import plot_log_prob_histograms
from glow_ood.plots.limiting_bounds import plot_limiting_bounds
from glow_ood.plots.samples import save_sample_grid
from glow_ood.plots.statistics import plot_data_statistics
from glow_ood.plots.statistics import plot_latent_statistics
from glow_ood.plots.training_curves import plot_training_curves
from glow_ood.plots.training_curves import read_scalars
