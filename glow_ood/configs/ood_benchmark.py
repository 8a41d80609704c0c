"""`BenchmarkConfig`: the OOD benchmark's pairs, models and statistics (no TensorFlow)."""

import dataclasses
from typing import Optional, Tuple

from glow_ood.configs import dataset_names
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate
from glow_ood.configs.model import COUPLING_SCALES

__all__ = ["BenchmarkConfig", "DEFAULT_PAIRS", "FREE_FIELDS"]

DEFAULT_PAIRS = (
    ("fashion_mnist", "mnist"),
    ("notmnist", "mnist"),
    ("mnist", "notmnist"),
    ("cifar10_jpeg", "constant:128"),
    ("cifar10_jpeg", "uniform_random"),
    ("cifar10_jpeg", "grayed:cifar10_jpeg:0.5"),
    ("cifar10_jpeg", "mnist"),
)


# Fields a resumed benchmark may change: new pairs add cells; the data's
# location does not change results.
FREE_FIELDS = ("pairs", "data_dir")


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
  """The benchmark's models, data and statistics.

  Attributes:
    pairs: `(in-distribution, out-of-distribution)` dataset names.
    num_seeds: models (and background models) per in-distribution dataset.
    image_size: images are zero-padded to `image_size` squares.
    num_levels, num_steps_per_level, hidden_width, coupling_scale: the Glow.
    train_steps, batch_size, learning_rate, warmup_steps: its training.
    mutation_rate: `mu` of the background models.
    validation_size: training images held out to fit the typicality test.
    num_examples: test images per dataset (a seeded random subset).
    typicality_batch_size: `M` of the batch typicality test.
    num_bootstrap: bootstrap resamples of the intervals.
    data_dir: folder of the local npz files (`None`: the default).
    eval_batch_size: images per model call when scoring.
  """
  pairs: Tuple[Tuple[str, str], ...] = option(
      DEFAULT_PAIRS, "in->out dataset pairs (quote them in a shell).")
  num_seeds: int = option(3, "Models (and background models) per "
                          "in-distribution dataset; >= 2 (the ensemble score "
                          "needs several models).", minimum=2)
  image_size: int = option(32, "Images are zero-padded to this square size.",
                           minimum=1)
  num_levels: int = option(3, "Glow levels.", minimum=1)
  num_steps_per_level: int = option(2, "Glow steps per level.", minimum=1)
  hidden_width: int = option(64, "Coupling network width.", minimum=1)
  coupling_scale: str = option("sigmoid", "Coupling scale.",
                               choices=COUPLING_SCALES)
  train_steps: int = option(1000, "Training steps per model.", minimum=1)
  batch_size: int = option(64, "Training batch.", minimum=1)
  learning_rate: float = option(1e-3, "Peak learning rate.", minimum=0.,
                                exclusive_minimum=True)
  warmup_steps: int = option(100, "Learning-rate warm-up steps.", minimum=0)
  mutation_rate: float = option(
      0.2, "Mutation rate of the background models' inputs.", minimum=0.,
      maximum=1., exclusive_minimum=True, exclusive_maximum=True)
  validation_size: int = option(
      2000, "Training images held out to fit the typicality test.",
      minimum=1)
  num_examples: int = option(2000, "Test images per dataset.", minimum=1)
  typicality_batch_size: int = option(5, "M of the batch typicality test.",
                                      minimum=1)
  num_bootstrap: int = option(500, "Bootstrap resamples of the intervals.",
                              minimum=1)
  data_dir: Optional[str] = option(None, "Folder of <name>_<split>.npz "
                                   "files.")
  eval_batch_size: int = option(500, "Images per model call when scoring.",
                                minimum=1)

  def __post_init__(self):
    validate(self)
    if not self.pairs:
      raise ValueError("BenchmarkConfig.pairs is empty; give in:out pairs.")
    for in_name, out_name in self.pairs:
      if dataset_names.parse(in_name) is not None:
        raise ValueError(f"In-distribution dataset {in_name!r} must be a real "
                         "dataset (models are trained on it).")
      dataset_names.parse(out_name)   # raises on malformed names

  @property
  def in_distributions(self):
    return tuple(dict.fromkeys(a for a, _ in self.pairs))

  def replace(self, **changes):
    return dataclasses.replace(self, **changes)
