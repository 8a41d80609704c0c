"""Model x uint8 image arrays -> per-example likelihood terms, batch by batch."""

import dataclasses
from typing import Dict, Optional

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import metrics
from glow_ood import model_inputs
from glow_ood import progress as progress_lib

__all__ = ["ModelScores", "ModelScorer", "BitsPerDimEvaluator"]


@dataclasses.dataclass(frozen=True)
class ModelScores:
  """log p(x) of N images and its decomposition, numpy float64, per example.

  `log_prob = log_prob_z + log_det` is the continuous density log p(x) of the
  dequantized images (as `glow_ood.Glow.log_prob`; `log_prob_z` and `log_det`
  are the terms of `glow_ood.model.Decomposition`), and
  `discrete_log_prob = log_prob - D n_bits log 2` the log-probability of the
  images' bins (`glow_ood.metrics.discrete_log_prob`), the quantity of the
  paper's histograms and tables.

  Attributes:
    discrete_log_prob: `[N]`, log P(image) in nats (discrete).
    bits_per_dim: `[N]`, `-discrete_log_prob / (D log 2)`.
    log_prob_z: `[N]`, log p(z) (priors' log-dets included, as openai/glow).
    log_prob_z_per_level: `[N, L]`.
    log_det: `[N]`, log|det dz/dx| of the flow bijectors.
    log_det_per_level: `[N, L]`.
    log_det_per_kind: `kind -> [N]` (actnorm, permutation, coupling, other).
    num_dims: Python `int`, D = H W C.
    n_bits: Python `int`.
  """
  discrete_log_prob: np.ndarray
  bits_per_dim: np.ndarray
  log_prob_z: np.ndarray
  log_prob_z_per_level: np.ndarray
  log_det: np.ndarray
  log_det_per_level: np.ndarray
  log_det_per_kind: Dict[str, np.ndarray]
  num_dims: int
  n_bits: int

  def __len__(self):
    return len(self.discrete_log_prob)

  @property
  def log_prob(self):
    """`[N]`: the continuous log p(x) (nats), `log_prob_z + log_det`."""
    return self.log_prob_z + self.log_det

  @property
  def level_contributions(self):
    """`[N, L]`: level l's share of log p(x) (nats), `log p(z_l) + log|det_l|`."""
    return self.log_prob_z_per_level + self.log_det_per_level

  def summary(self):
    """Means of the stored terms (floats, JSON-ready).

    Keys `discrete_log_prob`, `bits_per_dim`, `log_prob_z`, `log_det` and the
    per-level / per-kind means; the continuous `log_prob` is not included
    (it is `log_prob_z + log_det`).
    """
    out = {name: float(np.mean(getattr(self, name)))
           for name in ("discrete_log_prob", "bits_per_dim", "log_prob_z",
                        "log_det")}
    out["log_prob_z_per_level"] = np.mean(self.log_prob_z_per_level, 0).tolist()
    out["log_det_per_level"] = np.mean(self.log_det_per_level, 0).tolist()
    out["log_det_per_kind"] = {k: float(np.mean(v))
                               for k, v in self.log_det_per_kind.items()}
    return out


def _image_batch_spec(model):
  """`[None, H, W, C]` uint8: one traced function serves every batch size."""
  return tf.TensorSpec([None, *model.config.image_shape], tf.uint8)


class ModelScorer:
  """`ModelScores` of uint8 image arrays under `model`, with one traced function.

  Images are dequantized at bin centres (deterministic), as in evaluation.

  Args:
    model: a `glow_ood.Glow`.
    batch_size: Python `int`. Default value: `256`.
    jit_compile: XLA-compile the batch function. Default value: `False`.
  """

  def __init__(self, model, batch_size=256, jit_compile=False):
    if int(batch_size) < 1:
      raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    self._model = model
    self._batch_size = int(batch_size)

    def terms(images):
      decomposition = model.decompose(model.preprocess(images, "center"))
      return dict(log_prob_z=decomposition.log_prob_z,
                  log_prob_z_per_level=decomposition.log_prob_z_per_level,
                  log_det=decomposition.log_det,
                  log_det_per_level=decomposition.log_det_per_level,
                  **{f"kind/{k}": v
                     for k, v in decomposition.log_det_per_kind.items()})
    # One trace for every batch size (a last, smaller batch included).
    self._fn = tf.function(terms, jit_compile=jit_compile,
                           input_signature=[_image_batch_spec(model)])

  def __call__(self, images, description: Optional[str] = None, stream=None):
    """uint8 `[N, H, W, C]` -> `ModelScores`; a progress bar if `description`."""
    images = model_inputs.uint8_image_batch(
        images, self._model.config, "ModelScorer")
    config = self._model.config
    if not len(images):
      raise ValueError("No images to score.")
    starts = range(0, len(images), self._batch_size)
    parts = []
    bar = (progress_lib.ProgressBar(len(starts), description, stream)
           if description else None)
    for start in starts:
      batch = self._fn(tf.constant(images[start:start + self._batch_size]))
      parts.append({k: v.numpy().astype(np.float64) for k, v in batch.items()})
      if bar:
        bar.update()
    if bar:
      bar.close()
    joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    num_dims = int(np.prod(config.image_shape))
    log_prob = joined["log_prob_z"] + joined["log_det"]
    return ModelScores(
        discrete_log_prob=metrics.discrete_log_prob(log_prob, num_dims,
                                                    config.n_bits),
        bits_per_dim=metrics.bits_per_dim(log_prob, num_dims, config.n_bits),
        log_prob_z=joined["log_prob_z"],
        log_prob_z_per_level=joined["log_prob_z_per_level"],
        log_det=joined["log_det"],
        log_det_per_level=joined["log_det_per_level"],
        log_det_per_kind={k.split("/", 1)[1]: v for k, v in joined.items()
                          if k.startswith("kind/")},
        num_dims=num_dims,
        n_bits=int(config.n_bits))


class BitsPerDimEvaluator:
  """Per-example bits/dim of uint8 image arrays, with one traced function.

  Uses `model.bits_per_dim` with deterministic (bin-centre) dequantization, so
  the same images always get the same numbers.

  Args:
    model: a `glow_ood.Glow`.
    batch_size: Python `int`.
    jit_compile: XLA-compile the batch function.
  """

  def __init__(self, model, batch_size, jit_compile=False):
    self._model = model
    self._batch_size = int(batch_size)
    self._fn = tf.function(
        lambda images: model.bits_per_dim(images, dequantization="center"),
        jit_compile=jit_compile, input_signature=[_image_batch_spec(model)])

  def __call__(self, images):
    """uint8 `[N, H, W, C]` -> float64 numpy `[N]`; other dtypes or shapes raise."""
    images = model_inputs.uint8_image_batch(
        images, self._model.config, "BitsPerDimEvaluator")
    if not len(images):
      return np.zeros([0])
    return np.concatenate([
        self._fn(tf.constant(images[i:i + self._batch_size])).numpy()
        for i in range(0, len(images), self._batch_size)]).astype(np.float64)
