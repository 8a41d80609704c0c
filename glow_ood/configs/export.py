"""`ExportConfig`: what `launch/export.py` bakes into a SavedModel (no TensorFlow)."""

import dataclasses
from typing import Optional

from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate

__all__ = ["ExportConfig", "TYPICALITY_FIT_SPLITS"]

# Where the typicality test's entropy and threshold are fitted: "auto" is the
# run's held-out validation split if it carved one (DataConfig.validation_size
# > 0), else its test split; "none" leaves typicality out of the export.
TYPICALITY_FIT_SPLITS = ("auto", "validation", "test", "none")


@dataclasses.dataclass(frozen=True)
class ExportConfig:
  """What `glow_ood.export.export_run` writes besides the likelihood.

  Attributes:
    typicality_fit_split: the in-distribution split the typicality test is
      fitted on (`glow_ood.scores.Typicality.fit`): `"validation"` (the
      run's held-out `DataConfig.validation_size` train examples, carved
      with the run's data seed, so never trained on), `"test"`, `"auto"`
      (validation if the run has one, else test) or `"none"` (no typicality
      signature).
    typicality_num_examples: images of that split the fit uses (a seeded
      random subset, `data.subsample`), or `None` for all.
    typicality_batch_size: `M`, the images tested together; the threshold is
      for the mean of `M` negative log-likelihoods.
    typicality_alpha: quantile giving the threshold (the in-distribution
      acceptance rate).
    typicality_num_bootstrap: bootstrap batches of the threshold.
    typicality_seed: seeds the bootstrap.
    input_complexity: bake in the input-complexity score (PNG lengths
      computed in the graph by `tf.io.encode_png`).
    pad_like_training: also write a signature on the dataset's own image
      shape (e.g. `[None, 28, 28, 1]`) that pads / tiles as training did
      (`DataConfig.pad_to` / `to_rgb`), when that shape differs from the
      model's.
    batch_size: images per model call while fitting.
    data_dir: overrides the run's `data_dir` (local .npz files).
    verify: after saving, reload the SavedModel and check that it gives
      the fit images the log P(image) the in-memory function gave them.
  """
  typicality_fit_split: str = option(
      "auto", "Split the typicality test is fitted on: the run's held-out "
      "validation split, test, auto (validation if the run has one, else "
      "test) or none (no typicality signature).",
      choices=TYPICALITY_FIT_SPLITS)
  typicality_num_examples: Optional[int] = option(
      2000, "Images of that split the typicality fit uses (a seeded random "
      "subset); 0 = all.", minimum=2, flag_none=0)
  typicality_batch_size: int = option(
      1, "Images tested together by the typicality test (its threshold is "
      "for batches of this size).", minimum=1)
  typicality_alpha: float = option(
      0.99, "Quantile giving the typicality threshold (in-distribution "
      "acceptance rate).", minimum=0., maximum=1., exclusive_minimum=True,
      exclusive_maximum=True)
  typicality_num_bootstrap: int = option(
      1000, "Bootstrap batches of the typicality threshold.", minimum=1)
  typicality_seed: int = option(0, "Seed of the typicality bootstrap.")
  input_complexity: bool = option(
      True, "Bake in the input-complexity score (PNG lengths in the graph).")
  pad_like_training: bool = option(
      True, "Also write a signature on the dataset's own image shape that "
      "pads / tiles like training did (when it differs from the model's).")
  batch_size: int = option(256, "Images per model call while fitting.",
                           minimum=1)
  data_dir: Optional[str] = option(
      None, "Overrides the run's --data_dir (local .npz files).")
  verify: bool = option(
      True, "Reload the SavedModel after writing it and check its numbers "
      "against the function it was saved from.")

  def __post_init__(self):
    validate(self)
