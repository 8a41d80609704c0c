"""`EvaluationConfig`: what `launch/evaluate.py` scores and draws (no TensorFlow)."""

import dataclasses
from typing import Optional, Tuple

from glow_ood.configs import dataset_names
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate
from glow_ood.configs.data import SOURCES

__all__ = ["EvaluationConfig", "DEFAULT_EXTRA_DATASETS",
           "DATA_LOCATION_FIELDS"]

# The `DataConfig` fields that say where a trained run's data are read from,
# which a program reading the run may change (its flags have training's names:
# --data_dir, --tfds_data_dir, --data_source, --tfds_download); what the data
# are (dataset, pad_to, to_rgb, n_bits, ...) stays the run's.
DATA_LOCATION_FIELDS = ("data_dir", "tfds_data_dir", "source", "tfds_download")

# Special inputs evaluated besides a run's own eval_datasets unless datasets
# are given (paper Appendix D: constant and random images).
DEFAULT_EXTRA_DATASETS = ("constant:0", "constant:128", "uniform_random")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
  """What `evaluate` scores and draws.

  Attributes:
    datasets: other datasets, scored on their test split (real, e.g.
      "mnist", or special: "constant:128", "uniform_random",
      "grayed:cifar10_jpeg:0.5", "jpeg:cifar10_lossless:75",
      "flipped:cifar10_jpeg"). The
      in-distribution train and test splits are always scored.
    num_examples: images per dataset (a seeded random subset in file order,
      `data.subsample`), or `None` for all.
    batch_size: images per model call.
    graying_factors: factors of the graying curve on the in-distribution
      test split (1 = original, 0 = constant gray); empty to skip.
    num_bootstrap: bootstrap resamples of the AUROC intervals.
    num_samples: images per sample grid (0 to skip).
    sample_temperatures: temperatures of the sample grids.
    data_dir: overrides the runs' `data_dir` (e.g. another machine's copy).
    tfds_data_dir, source, tfds_download: override the runs' (`None`: the
      run's own, from its config.json); see `run_data`.
    seed: seeds the bootstrap and the samples.
  """
  datasets: Tuple[str, ...] = option(
      (), "Other datasets to score (test split): real (mnist, notmnist, ...) "
      "or special (constant:V, uniform_random, grayed:<dataset>:<factor>, "
      "jpeg:<dataset>:<quality>, flipped:<dataset>). "
      "Default: the run's --eval_datasets plus "
      + ", ".join(DEFAULT_EXTRA_DATASETS) + ".")
  num_examples: Optional[int] = option(
      2000, "Images per dataset (a seeded random subset); 0 = all.",
      minimum=2, flag_none=0)
  batch_size: int = option(256, "Images per model call.", minimum=1)
  graying_factors: Tuple[float, ...] = option(
      (1., 0.8, 0.6, 0.4, 0.2, 0.), "Graying curve of the in-distribution "
      "test split (1 = original, 0 = constant gray); empty to skip.",
      minimum=0., maximum=1.)
  num_bootstrap: int = option(1000, "Bootstrap resamples of the AUROC "
                              "intervals.", minimum=1)
  num_samples: int = option(36, "Images per sample grid (0: none).",
                            minimum=0)
  sample_temperatures: Tuple[float, ...] = option(
      (0.7, 1.), "Temperatures of the sample grids.", minimum=0.,
      exclusive_minimum=True)
  data_dir: Optional[str] = option(
      None, "Overrides the runs' --data_dir (local .npz files).")
  tfds_data_dir: Optional[str] = option(
      None, "Overrides the runs' --tfds_data_dir (tensorflow_datasets "
      "data_dir).")
  source: Optional[str] = option(
      None, "Overrides the runs' --data_source: auto (npz if present, else "
      "tfds), npz or tfds.", choices=SOURCES, flag="data_source")
  tfds_download: Optional[bool] = option(
      None, "Overrides the runs' --tfds_download (tensorflow_datasets may "
      "download missing datasets; needs internet).")
  seed: int = option(0, "Seed of the bootstrap and the samples.")

  def __post_init__(self):
    validate(self)
    for name in self.datasets:
      dataset_names.parse(name)   # raises on a malformed special name

  def run_data(self, data):
    """The run's `DataConfig` `data` with this config's data overrides applied.

    Only where the data are read from (`DATA_LOCATION_FIELDS`) is replaced,
    by the overrides that are not `None`.
    """
    changes = {name: getattr(self, name) for name in DATA_LOCATION_FIELDS
               if getattr(self, name) is not None}
    return data.replace(**changes) if changes else data
