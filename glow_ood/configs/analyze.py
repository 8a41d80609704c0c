"""`AnalysisConfig`: what `launch/analyze_data.py` computes (no TensorFlow)."""

import dataclasses
from typing import Optional, Tuple

from glow_ood.configs import dataset_names
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate
from glow_ood.configs.data import DataConfig
from glow_ood.configs.evaluate import DATA_LOCATION_FIELDS

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
      With a run, the run's own data settings are used instead (`run_data`),
      but for the fields of `data_overrides` and a `data_dir` that is not
      `None`.
    data_overrides: with a run, the fields of `data` that replace the run's:
      where its data are read from (`DATA_LOCATION_FIELDS`: data_dir,
      tfds_data_dir, source, tfds_download), e.g. the flags given.
    image_shape: every dataset is conformed (padded / tiled) to this shape;
      `None`: the first dataset's shape. With a run, the run's model's shape
      is used (a different `image_shape` raises).
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
  data_overrides: Tuple[str, ...] = option(
      (), "With a run: the fields of data that replace the run's.",
      choices=DATA_LOCATION_FIELDS, flag=False)
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

  def run_data(self, data):
    """A run's `DataConfig` `data` with `data_overrides` (and `data_dir`) from `self.data`."""
    names = set(self.data_overrides) | (
        {"data_dir"} if self.data.data_dir is not None else set())
    changes = {name: getattr(self.data, name) for name in DATA_LOCATION_FIELDS
               if name in names}
    return data.replace(**changes) if changes else data
