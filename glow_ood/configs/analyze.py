"""`AnalysisConfig`: what `launch/analyze_data.py` computes (no TensorFlow)."""

import dataclasses
from typing import Optional, Tuple

from glow_ood.configs import dataset_names
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate
from glow_ood.configs.data import DataConfig

__all__ = ["AnalysisConfig", "HESSIAN_METHODS"]

# How the model's Hessian diagonal is computed (`glow_ood.analysis.second_order`).
HESSIAN_METHODS = ("exact", "hutchinson")


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
  """What `analyze` computes.

  Attributes:
    datasets: `p` (the training distribution; its train split) first, then
      the datasets `q` compared with it (test splits). With a run, `p`
      defaults to the run's dataset when `datasets` is empty or starts with
      another one.
    data: `DataConfig` template (data_dir, source, pad_to, to_rgb, ...).
    image_shape: every dataset is conformed (padded / tiled) to this shape;
      `None`: the first dataset's shape. With a run, the run's model's shape
      is used (a different `image_shape` raises), and of `data` only
      `data_dir` applies (the run's own data settings are used).
    num_examples: images per dataset for the data statistics (`None`: all).
    num_model_examples: images per dataset for the model terms.
    hessian_method: `"exact"` (D Hessian-vector products), `"hutchinson"`
      or `"none"` (skip the model's Hessian).
    num_probes: Hutchinson probes.
    graying_factors: for the latent statistics of grayed images (Fig. 13).
    batch_size: images per model call.
    seed: seeds subsampled covariance entries and Hutchinson probes.
  """
  datasets: Tuple[str, ...] = option(
      (), "p (training distribution, train split) first, then the datasets q "
      "compared with it (test splits). With --workdir, p defaults to the "
      "run's dataset.")
  data: DataConfig = DataConfig()
  image_shape: Optional[Tuple[int, int, int]] = option(
      None, "Conform every dataset to H,W,C (default: p's shape, or the "
      "run's model's).", minimum=1)
  num_examples: Optional[int] = option(
      None, "Images per dataset for data statistics; 0 = all.", minimum=2,
      flag_none=0)
  num_model_examples: int = option(2000, "Images per dataset for model "
                                   "terms.", minimum=2)
  hessian_method: str = option(
      "exact", "The model's Hessian diagonal: exact (D Hessian-vector "
      "products), Hutchinson's estimator, or skip it.",
      choices=HESSIAN_METHODS + ("none",))
  num_probes: int = option(256, "Hutchinson probes.", minimum=1)
  graying_factors: Tuple[float, ...] = option(
      (0.8, 0.5, 0.2), "Latent statistics of the grayed training images.",
      minimum=0., maximum=1.)
  batch_size: int = option(256, "Images per model call.", minimum=1)
  seed: int = option(0, "Seed of subsampling and probes.")

  def __post_init__(self):
    validate(self)
    for name in self.datasets:
      if dataset_names.is_generated(name):
        raise ValueError(f"{name!r} is generated, it has no data statistics "
                         "to compare; use real datasets (or grayed:...).")
