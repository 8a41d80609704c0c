"""`export_run(run, config, output_dir)`: a trained run as a SavedModel OOD scorer.

    run = glow_ood.runs.load_run("runs/fashion_mnist_glow_cpu")   # EMA weights
    info = export_run(run, ExportConfig(), "exports/fashion_mnist_glow_cpu")

    # anywhere, with TensorFlow only:
    scorer = tf.saved_model.load("exports/fashion_mnist_glow_cpu")
    out = scorer.signatures["serving_default"](images=tf.constant(uint8_images))

Steps: refuse an `output_dir` that exists and is not empty; load the fit
images (`calibration`) and fit the typicality test on them; build the
`serving.ServingModule`; save it to a staging folder beside `output_dir` with
`assets.extra/export_info.json` (the `metadata` signature's JSON); reload it
and check that it gives the in-memory function's log P(image) on the fit
images (`verify`; `tests/launch/export_test.py` checks these numbers
against `launch/evaluate.py`'s); move the folder into place
(`glow_ood.fileio.staged_outputs`). A failure leaves no `output_dir`; a full
or read-only disk raises `glow_ood.write_errors.WriteFailedError` naming
`output_dir` and the errno.
"""

import dataclasses
import json
import os
import sys
from typing import Optional

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import fileio
from glow_ood import models
from glow_ood import progress as progress_lib
from glow_ood import scores as scores_lib
from glow_ood.export import calibration
from glow_ood.export import image_ops
from glow_ood.export import serving
from glow_ood.export import terms as terms_lib

__all__ = ["export_run", "check_output_dir", "INFO_FILE", "FORMAT_VERSION",
           "VERIFY_TOLERANCE"]

INFO_FILE = os.path.join("assets.extra", "export_info.json")
FORMAT_VERSION = 1
# Largest |log P| difference (nats) `verify` accepts between the reloaded
# SavedModel and the function it was saved from, on the same batch.
VERIFY_TOLERANCE = 1e-4
_VERIFY_IMAGES = 64


def check_output_dir(output_dir, flag="--output_dir"):
  """Raises a one-line `ValueError` unless `output_dir` is new or an empty folder."""
  fileio.check_writable(output_dir, flag)
  if os.path.isdir(output_dir) and os.listdir(output_dir):
    raise ValueError(
        f"{flag}={output_dir} exists and is not empty; an export never "
        "overwrites. Pass a new folder (or remove this one).")


def _print(log, text):
  if log is not None:
    log(text)


def _png_agreement(images):
  """How the in-graph PNG lengths compare with Pillow's (`scores.compressed_bits`)."""
  python_bits = scores_lib.compressed_bits(images, "png")
  graph_bits = image_ops.png_bits(tf.constant(images)).numpy()
  difference = (graph_bits - python_bits) / 8.
  return dict(num_images=len(images),
              num_identical=int(np.sum(difference == 0)),
              max_abs_difference_bytes=float(np.max(np.abs(difference))),
              mean_difference_bytes=float(np.mean(difference)),
              mean_python_bytes=float(np.mean(python_bits) / 8.))


def _metadata(run, use_ema, fit, images, dataset_shape, png_agreement):
  model_config = run.config.model
  weights = ("exponential moving average (ema_decay="
             f"{run.config.ema_decay})" if run.config.ema_decay and
             use_ema else "trained weights (no EMA)")
  return {
      "format_version": FORMAT_VERSION,
      "sign_convention": "Every OOD score (bits_per_dim, typicality, "
                         "batch_typicality, input_complexity, "
                         "per_level_likelihood) is higher for inputs that "
                         "look more out-of-distribution; log_prob is higher "
                         "for inputs the model finds more likely.",
      "run": dict(workdir=os.path.abspath(run.workdir), name=run.name,
                  step=run.step, family=run.config.family,
                  model=models.describe(model_config), weights=weights,
                  dataset=run.config.data.dataset,
                  image_shape=list(model_config.image_shape),
                  n_bits=model_config.n_bits,
                  num_dims=int(np.prod(model_config.image_shape))),
      "typicality": None if fit is None else dict(
          entropy=fit.entropy, threshold=fit.threshold,
          batch_size=fit.batch_size, alpha=fit.alpha,
          num_bootstrap=fit.num_bootstrap, seed=fit.seed,
          fitted_on=fit.fitted_on),
      "input_complexity": None if png_agreement is None else dict(
          units="bits_per_dim", compressor="png",
          compression_level=image_ops.PNG_COMPRESSION,
          implementation="tf.io.encode_png (libpng); the Python score "
                         "glow_ood.scores.InputComplexity uses Pillow's PNG "
                         "writer, whose row filters differ, so lengths can "
                         "differ by a few percent on natural images",
          png_lengths_vs_python=png_agreement),
      "pad_like_training": None if dataset_shape is None else dict(
          input_shape=list(dataset_shape), pad_to=run.config.data.pad_to,
          to_rgb=run.config.data.to_rgb),
      "exported_with": dict(tensorflow=tf.__version__),
      "checked_on_images": None if images is None else len(images),
  }


def _verify(path, likelihood, images, raw_images, log):
  """Reloads `path` and compares its log P(image) with `likelihood`'s; returns the max |diff|.

  Both score the same batch (the first `_VERIFY_IMAGES` images): float32
  convolutions may round differently in batches of other sizes (about 1e-7
  of log P), which is not what this checks.
  """
  loaded = tf.saved_model.load(path)
  batch = tf.constant(images[:_VERIFY_IMAGES])
  expected = likelihood(batch)["log_prob"].numpy()
  got = loaded.signatures["serving_default"](images=batch)["log_prob"].numpy()
  difference = float(np.max(np.abs(got - expected)))
  if not difference <= VERIFY_TOLERANCE:
    raise ValueError(
        f"The reloaded SavedModel's log P(image) differs from the exported "
        f"function's by {difference:.3g} nats (> {VERIFY_TOLERANCE:g}) on "
        f"{len(got)} images; not exporting.")
  if raw_images is not None and "pad_like_training" in loaded.signatures:
    padded = loaded.signatures["pad_like_training"](
        images=tf.constant(raw_images[:_VERIFY_IMAGES]))["log_prob"].numpy()
    if not np.array_equal(padded, got):
      raise ValueError("pad_like_training disagrees with serving_default on "
                       "the same images after padding; not exporting.")
  _print(log, f"Verified: the reloaded SavedModel gives the exported "
              f"function's log P(image) on {len(got)} images (max "
              f"|difference| {difference:.2g} nats).")
  return difference


def export_run(run, config, output_dir, use_ema=True, stream=None, log=print):
  """Writes `run` as a SavedModel OOD scorer to `output_dir`; returns its metadata.

  Args:
    run: `glow_ood.runs.Run` (`load_run(workdir, use_ema=...)`); the weights
      the model holds are exported.
    config: `glow_ood.configs.ExportConfig`.
    output_dir: a new or empty folder.
    use_ema: what `load_run` was given: with the run's `ema_decay` set, the
      model holds the EMA weights (recorded in the metadata).
    stream: where progress bars go. Default value: `sys.stderr`.
    log: `print`-like function for progress lines, or `None`.

  Returns:
    The metadata dict (also in `<output_dir>/assets.extra/export_info.json`
    and the `metadata` signature), with `"signatures"` and
    `"left_out"` (signature -> why).

  Raises:
    ValueError: a non-empty `output_dir`, a missing fit split, a failed
      verification.
  """
  stream = stream or sys.stderr
  check_output_dir(output_dir)
  model = run.model
  image_shape = tuple(model.config.image_shape)
  _print(log, f"Exporting {run.name} (step {run.step}): "
              f"{models.describe(model.config)}, images {list(image_shape)}.")
  split = calibration.fit_split(run.config, config.typicality_fit_split)
  likelihood = serving.likelihood_function(model)
  checked = _check_images(run, config, split, image_shape)
  starts = range(0, len(checked.images), config.batch_size)
  bar = progress_lib.ProgressBar(len(starts), checked.what, stream)
  scored = serving.score_images(likelihood, checked.images, config.batch_size,
                                progress=bar)
  bar.close()
  fit = None
  if split != "none":
    fit = calibration.fit_typicality(scored["log_prob"], checked.fit_images,
                                     config)
    _print(log, f"Typicality fitted on {checked.fit_images.dataset}/{split} "
                f"({len(checked.fit_images.images)} of "
                f"{checked.fit_images.num_available} images): entropy "
                f"{fit.entropy:.6g} nats, threshold {fit.threshold:.6g} nats "
                f"(alpha {fit.alpha:g}, batches of {fit.batch_size}).")
  dataset_shape = _dataset_shape(config, checked, image_shape)
  png_agreement = (_png_agreement(checked.images) if config.input_complexity
                   else None)
  left_out = _left_out(run, config, fit, dataset_shape)
  metadata = _metadata(run, use_ema, fit, checked.images, dataset_shape,
                       png_agreement)
  metadata["left_out"] = left_out
  module = serving.ServingModule(model, typicality=fit,
                                 input_complexity=config.input_complexity,
                                 dataset_shape=dataset_shape,
                                 metadata=metadata, likelihood=likelihood)
  signatures = module.signatures
  metadata = json.loads(module.metadata_json)
  _print(log, f"Signatures: {', '.join(signatures)}.")
  for name, why in left_out.items():
    _print(log, f"Left out: {name} ({why}).")
  verify = ((lambda stage: _verify(stage, likelihood, checked.images,
                                   checked.raw_images, log))
            if config.verify else None)
  _save_into_place(module, signatures, metadata, output_dir, verify)
  _print(log, f"Written to {output_dir}/ (saved_model_cli show --dir "
              f"{output_dir} --all lists the signatures).")
  return metadata


@dataclasses.dataclass(frozen=True)
class _CheckImages:
  """The images an export is fitted and checked on.

  Attributes:
    images: uint8 `[N, H, W, C]` at the model's shape (padded like training).
    raw_images: the same images as stored (before `pad_to` / `to_rgb`), or
      `None` (seeded noise: nothing was loaded).
    fit_images: the `calibration.FitImages` loaded, or `None`.
    what: the progress bar's label.
  """
  images: np.ndarray
  raw_images: Optional[np.ndarray]
  fit_images: Optional[calibration.FitImages]
  what: str


def _reshapes(run):
  """Whether the run's data pipeline changes the stored images' shape."""
  return run.config.data.pad_to is not None or run.config.data.to_rgb


def _check_images(run, config, split, image_shape):
  """The fit split's images if a fit or the padding needs them, else seeded noise."""
  fit_images = None
  if split != "none" or (config.pad_like_training and _reshapes(run)):
    fit_images = calibration.load_fit_images(
        run.config, "test" if split == "none" else split,
        config.typicality_num_examples, data_dir=config.data_dir)
  if fit_images is not None:
    return _CheckImages(
        images=fit_images.images, raw_images=fit_images.raw_images,
        fit_images=fit_images,
        what=f"scoring {fit_images.dataset}/{fit_images.split}")
  # Nothing to fit: check the export on seeded noise images.
  noise = np.random.default_rng(0).integers(
      0, 256, (16, *image_shape)).astype(np.uint8)
  return _CheckImages(images=noise, raw_images=None, fit_images=None,
                      what="scoring 16 noise images")


def _dataset_shape(config, checked, image_shape):
  """The stored images' shape if `pad_like_training` is exported, else `None`.

  Raises:
    ValueError: the in-graph padding does not give the pipeline's images.
  """
  raw_images = checked.raw_images
  if (not config.pad_like_training or raw_images is None or
      raw_images.shape[1:] == image_shape):
    return None
  padded = image_ops.pad_like_training(tf.constant(raw_images),
                                       image_shape).numpy()
  if not np.array_equal(padded, checked.images):
    raise ValueError("The in-graph padding does not reproduce the run's "
                     "data pipeline on the fit images; not exporting.")
  return tuple(raw_images.shape[1:])


def _left_out(run, config, fit, dataset_shape):
  """`{signature: why}` of the signatures this export does not have."""
  left_out = {}
  if not terms_lib.has_decomposition(run.model):
    left_out["decomposition"] = (f"a {run.config.family} model has no "
                                 "decomposition of log p(x)")
  if fit is None:
    left_out["typicality"] = "--typicality_fit_split=none"
  if not config.input_complexity:
    left_out["input_complexity"] = "--noinput_complexity"
  if dataset_shape is None:
    left_out["pad_like_training"] = (
        "--nopad_like_training" if not config.pad_like_training else
        "the run used its images as stored: no pad_to, no to_rgb"
        if not _reshapes(run) else "the dataset's shape is the model's")
  return left_out


def _save_into_place(module, signatures, metadata, output_dir, verify):
  """Saves `module` (its `signatures`) with `metadata` to `output_dir`, staged.

  The SavedModel is written into a staging folder beside `output_dir`
  (`glow_ood.fileio.staged_outputs`), checked with `verify(stage) -> max
  |difference|` (unless `None`; the result is added to `metadata` as
  `"verified_max_abs_difference"`), and renamed to `output_dir`; on any
  failure nothing is left.

  Raises:
    glow_ood.write_errors.WriteFailedError: the disk refused a write (full,
      read-only), naming `output_dir` and the errno.
  """
  with fileio.staged_outputs(output_dir) as stage:
    tf.saved_model.save(module, stage, signatures=signatures)
    fileio.write_json(os.path.join(stage, INFO_FILE), metadata)
    if verify is not None:
      metadata["verified_max_abs_difference"] = verify(stage)
      fileio.write_json(os.path.join(stage, INFO_FILE), metadata)
    check_output_dir(output_dir)   # still new or empty
