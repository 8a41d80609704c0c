"""What an export fits on the run's own data: the images, and the typicality test.

The typicality test's entropy `H_hat` and threshold `eps_alpha` are
estimated by `glow_ood.scores.Typicality.fit` (as the OOD benchmark fits it
on its held-out split), from the discrete log P(image) of the fit images
under the very function the export serves (`serving.score_images`), which
is `launch/evaluate.py`'s number:

    H_hat     = mean_n(-log P(x_n))
    eps_alpha = alpha-quantile over K bootstrap batches of M images of
                |mean_batch(-log P) - H_hat|.

The fit images are a split of the run's in-distribution dataset, loaded
with the run's own `DataConfig` (`glow_ood.data.load_images`), so the
"validation" split is the one training carved out and never trained on.
"""

import dataclasses
import numpy as np

from glow_ood import data
from glow_ood import scores as scores_lib
from glow_ood.data import transforms
from glow_ood.export.serving import TypicalityFit

__all__ = ["FitImages", "fit_split", "load_fit_images", "fit_typicality"]

# Subsampling seed of the fit images (as `data.load_evaluation_sets`).
_SUBSAMPLE_SEED = 0


@dataclasses.dataclass(frozen=True)
class FitImages:
  """In-distribution images of one split, as the model sees them and as stored.

  Attributes:
    dataset: the run's dataset name.
    split: `"validation"`, `"test"` or `"train"`.
    images: uint8 `[N, H, W, C]` (the model's shape: padded / tiled as
      training did).
    raw_images: uint8 `[N, h, w, c]`, the same images before `pad_to` /
      `to_rgb`.
    num_available: images in the split before subsampling.
    source: how the split was made (`validation_size` and data `seed` of
      the run's `DataConfig`, `data_dir`).
  """
  dataset: str
  split: str
  images: np.ndarray
  raw_images: np.ndarray
  num_available: int
  source: dict


def fit_split(run_config, requested):
  """The split `requested` (`ExportConfig.typicality_fit_split`) resolves to.

  Raises:
    ValueError: `"validation"` for a run that carved none.
  """
  has_validation = run_config.data.validation_size > 0
  if requested == "auto":
    return "validation" if has_validation else "test"
  if requested == "validation" and not has_validation:
    raise ValueError(
        "--typicality_fit_split=validation: the run has no validation split "
        "(it was trained with --validation_size=0). Use "
        "--typicality_fit_split=test (held out from training too) or "
        "--typicality_fit_split=none.")
  return requested


def load_fit_images(run_config, split, num_examples, data_dir=None):
  """`FitImages` of the run's dataset's `split`, at most `num_examples` of them.

  Args:
    run_config: the run's `TrainConfig`.
    split: `"validation"`, `"test"` or `"train"`.
    num_examples: Python `int` or `None` (all).
    data_dir: overrides the run's `data_dir`.
  """
  config = run_config.data
  if data_dir is not None:
    config = config.replace(data_dir=data_dir)
  data.check_datasets(config, [config.dataset], splits=(split,),
                      what=f"the run's dataset ({config.dataset})")
  image_shape = tuple(run_config.model.image_shape)
  images = data.load_images(config.replace(image_shape=None), split)
  raw = data.load_images(config.replace(pad_to=None, to_rgb=False,
                                        image_shape=None), split)
  images = transforms.conform_images(images, image_shape,
                                     name=f"{config.dataset}/{split}")
  return FitImages(
      dataset=config.dataset, split=split,
      images=transforms.subsample(images, num_examples, _SUBSAMPLE_SEED),
      raw_images=transforms.subsample(raw, num_examples, _SUBSAMPLE_SEED),
      num_available=len(images),
      source=dict(validation_size=config.validation_size,
                  data_seed=config.seed,
                  data_dir=config.data_dir or data.default_data_dir()))


def fit_typicality(log_prob, fit_images, export_config):
  """The `TypicalityFit` of the fit images' discrete log P(image).

  Args:
    log_prob: float64 `[N]`, log P(image) (nats) of `fit_images.images`,
      as the export serves it (`serving.score_images`).
    fit_images: `FitImages`.
    export_config: `ExportConfig` (M, alpha, bootstrap, seed).
  """
  score = scores_lib.Typicality(
      batch_size=export_config.typicality_batch_size,
      alpha=export_config.typicality_alpha,
      num_bootstrap=export_config.typicality_num_bootstrap,
      seed=export_config.typicality_seed)
  score.fit(scores_lib.Features(discrete_log_prob=log_prob))
  fit = TypicalityFit(
      entropy=score.entropy, threshold=score.threshold,
      batch_size=score.batch_size, alpha=score.alpha,
      num_bootstrap=score.num_bootstrap, seed=score.seed,
      fitted_on=dict(
          dataset=fit_images.dataset, split=fit_images.split,
          num_examples=len(fit_images.images),
          split_size=fit_images.num_available,
          subsample_seed=_SUBSAMPLE_SEED, **fit_images.source,
          quantity="log_prob (discrete log P(image), nats)"))
  return fit
