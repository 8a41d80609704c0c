"""Model x uint8 image arrays -> per-example likelihood terms, batch by batch."""

import dataclasses
from typing import Dict, Optional

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import metrics
from glow_ood import model_inputs
from glow_ood import progress as progress_lib
from glow_ood.models import density_model

__all__ = ["LikelihoodTerms", "LikelihoodTermsEvaluator", "BitsPerDimEvaluator"]


@dataclasses.dataclass(frozen=True)
class LikelihoodTerms:
  """log p(x) of N images and (for a Glow) its decomposition, numpy float64, per example.

  `discrete_log_prob` is the log-probability of the images' bins, the
  quantity of the paper's histograms and tables: for a Glow
  `log_prob - D n_bits log 2` with `log_prob = log_prob_z + log_det` its
  continuous density at the bin centres (`glow_ood.metrics.
  discrete_log_prob`; `log_prob_z` and `log_det` are the terms of
  `glow_ood.models.glow.Decomposition`); for a PixelCNN the exact likelihood; for
  a VAE an importance-sampled estimate with its standard error
  `log_prob_stderr`. The decomposition fields are `None` for a model
  without the `"decomposition"` capability (`glow_ood.models.density_model`).

  Attributes:
    discrete_log_prob: `[N]`, log P(image) in nats (discrete).
    bits_per_dim: `[N]`, `-discrete_log_prob / (D log 2)`.
    log_prob_z: `[N]`, log p(z) (priors' log-dets included, as openai/glow),
      or `None`.
    log_prob_z_per_level: `[N, L]` or `None`.
    log_det: `[N]`, log|det dz/dx| of the flow bijectors, or `None`.
    log_det_per_level: `[N, L]` or `None`.
    log_det_per_kind: `kind -> [N]` (actnorm, permutation, coupling, other),
      or `None`.
    num_dims: Python `int`, D = H W C.
    n_bits: Python `int`.
    log_prob_stderr: `[N]`, the standard error of `discrete_log_prob` where
      it is an estimate (VAE), else `None`.
    latents: float32 `[N, D]`, a flow's standardized latents
      (`Glow.decompose_and_encode`), if asked for (`LikelihoodTermsEvaluator(...,
      latents=True)`), else `None`.
    statistics: `{name: [N]}`, the model's `summary_statistics`, if asked
      for (`LikelihoodTermsEvaluator(..., statistics=True)`), else `None`.
  """
  discrete_log_prob: np.ndarray
  bits_per_dim: np.ndarray
  log_prob_z: Optional[np.ndarray]
  log_prob_z_per_level: Optional[np.ndarray]
  log_det: Optional[np.ndarray]
  log_det_per_level: Optional[np.ndarray]
  log_det_per_kind: Optional[Dict[str, np.ndarray]]
  num_dims: int
  n_bits: int
  log_prob_stderr: Optional[np.ndarray] = None
  latents: Optional[np.ndarray] = None
  statistics: Optional[Dict[str, np.ndarray]] = None

  def __len__(self):
    return len(self.discrete_log_prob)

  @property
  def has_decomposition(self):
    return self.log_prob_z is not None

  @property
  def log_prob(self):
    """`[N]`: the continuous log p(x) (nats) of the dequantized images.

    A Glow's `log_prob_z + log_det`; for the other families the density of
    uniformly dequantized images, `discrete_log_prob + D n_bits log 2`
    (constant within each bin), so ensembles and the continuous-density
    scores treat every family alike.
    """
    if self.has_decomposition:
      return self.log_prob_z + self.log_det
    return self.discrete_log_prob + self.num_dims * self.n_bits * np.log(2.)

  @property
  def level_contributions(self):
    """`[N, L]`: level l's share of log p(x) (nats), `log p(z_l) + log|det_l|`."""
    if not self.has_decomposition:
      raise density_model.MissingCapabilityError(
          "The per-level likelihood needs the model capability "
          "'decomposition' (a Glow); these scores come from a model without "
          "it.")
    return self.log_prob_z_per_level + self.log_det_per_level

  def summary(self):
    """Means of the stored terms (floats, JSON-ready).

    Keys `discrete_log_prob`, `bits_per_dim`, and where the model has them
    `log_prob_z`, `log_det` and the per-level / per-kind means, and
    `log_prob_stderr` (the mean of the per-image standard errors) and
    `discrete_log_prob_stderr` (the standard error of the mean, from them);
    the continuous `log_prob` is not included.
    """
    out = {name: float(np.mean(getattr(self, name)))
           for name in ("discrete_log_prob", "bits_per_dim")}
    if self.has_decomposition:
      out.update({name: float(np.mean(getattr(self, name)))
                  for name in ("log_prob_z", "log_det")})
      out["log_prob_z_per_level"] = np.mean(self.log_prob_z_per_level,
                                            0).tolist()
      out["log_det_per_level"] = np.mean(self.log_det_per_level, 0).tolist()
      out["log_det_per_kind"] = {k: float(np.mean(v))
                                 for k, v in self.log_det_per_kind.items()}
    if self.log_prob_stderr is not None:
      out["log_prob_stderr"] = float(np.mean(self.log_prob_stderr))
      out["discrete_log_prob_stderr"] = float(
          np.sqrt(np.sum(self.log_prob_stderr ** 2)) / len(self))
    return out


def _image_batch_spec(model):
  """`[None, H, W, C]` uint8: one traced function serves every batch size."""
  return tf.TensorSpec([None, *model.config.image_shape], tf.uint8)


class LikelihoodTermsEvaluator:
  """`LikelihoodTerms` of uint8 image arrays under `model`, one traced function.

  A Glow's images are dequantized at bin centres (deterministic), as in
  evaluation, and decomposed; any other family's give
  `model.discrete_log_prob` (and its standard error, if an estimate).
  On request, in the same traced function (for DoSE and the latents'
  goodness-of-fit, `glow_ood.scores`): a flow's standardized latents
  (`latents=True`, the `"decomposition"` capability, from the same pass of
  the flow) and the model's `summary_statistics` (`statistics=True`, the
  `"statistics"` capability).

  Args:
    model: a density model (`glow_ood.models.density_model`).
    batch_size: Python `int`. Default value: `256`.
    jit_compile: XLA-compile the batch function. Default value: `False`.
    latents: Python `bool`, keep `LikelihoodTerms.latents` (`[N, D]`
      float32:
      4 D bytes per image). Default value: `False`.
    statistics: Python `bool`, compute `LikelihoodTerms.statistics`. Default
      value: `False`.

  Raises:
    MissingCapabilityError: `latents` or `statistics` asked of a model
      without the capability.
  """

  def __init__(self, model, batch_size=256, jit_compile=False, latents=False,
               statistics=False):
    if int(batch_size) < 1:
      raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    self._model = model
    self._batch_size = int(batch_size)

    self._decomposes = "decomposition" in model.capabilities
    if latents:
      density_model.require_capability(
          model, "decomposition", "LikelihoodTermsEvaluator(latents=True)")
    if statistics:
      density_model.require_capability(
          model, "statistics", "LikelihoodTermsEvaluator(statistics=True)")

    def model_statistics(images):
      if not statistics:
        return {}
      return {f"statistic/{name}": value for name, value in
              model.summary_statistics(images).items()}

    def estimate(images):
      result = model.discrete_log_prob(images)
      out = dict(discrete_log_prob=result.log_prob, **model_statistics(images))
      if result.stderr is not None:
        out["log_prob_stderr"] = result.stderr
      return out

    def terms(images):
      x = model.preprocess(images, "center")
      if latents:
        decomposition, z = model.decompose_and_encode(x)
      else:
        decomposition, z = model.decompose(x), None
      return dict(log_prob_z=decomposition.log_prob_z,
                  log_prob_z_per_level=decomposition.log_prob_z_per_level,
                  log_det=decomposition.log_det,
                  log_det_per_level=decomposition.log_det_per_level,
                  **({"latents": z} if latents else {}),
                  **model_statistics(images),
                  **{f"kind/{k}": v
                     for k, v in decomposition.log_det_per_kind.items()})
    # One trace for every batch size (a last, smaller batch included).
    self._fn = tf.function(terms if self._decomposes else estimate,
                           jit_compile=jit_compile,
                           input_signature=[_image_batch_spec(model)])

  def __call__(self, images, description: Optional[str] = None, stream=None):
    """uint8 `[N, H, W, C]` -> `LikelihoodTerms`; a progress bar if `description`."""
    images = model_inputs.uint8_image_batch(
        images, self._model.config, "LikelihoodTermsEvaluator")
    config = self._model.config
    if not len(images):
      raise ValueError("No images to score.")
    starts = range(0, len(images), self._batch_size)
    parts = []
    bar = (progress_lib.ProgressBar(len(starts), description, stream)
           if description else None)
    for start in starts:
      batch = self._fn(tf.constant(images[start:start + self._batch_size]))
      parts.append({k: v.numpy().astype(np.float32 if k == "latents"
                                        else np.float64)
                    for k, v in batch.items()})
      if bar:
        bar.update()
    if bar:
      bar.close()
    joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    num_dims = int(np.prod(config.image_shape))
    statistics = {k.split("/", 1)[1]: v for k, v in joined.items()
                  if k.startswith("statistic/")} or None
    if not self._decomposes:
      discrete = joined["discrete_log_prob"]
      return LikelihoodTerms(
          discrete_log_prob=discrete,
          bits_per_dim=-discrete / (num_dims * np.log(2.)),
          log_prob_z=None, log_prob_z_per_level=None, log_det=None,
          log_det_per_level=None, log_det_per_kind=None, num_dims=num_dims,
          n_bits=int(config.n_bits),
          log_prob_stderr=joined.get("log_prob_stderr"),
          statistics=statistics)
    log_prob = joined["log_prob_z"] + joined["log_det"]
    return LikelihoodTerms(
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
        n_bits=int(config.n_bits),
        latents=joined.get("latents"),
        statistics=statistics)


class BitsPerDimEvaluator:
  """Per-example bits/dim of uint8 image arrays, with one traced function.

  Uses `model.bits_per_dim` (Glow: deterministic bin-centre dequantization;
  PixelCNN: exact; VAE: the importance-sampled estimate with its fixed
  default seed), so the same images always get the same numbers.

  Args:
    model: a density model (`glow_ood.models.density_model`).
    batch_size: Python `int`.
    jit_compile: XLA-compile the batch function.
  """

  def __init__(self, model, batch_size, jit_compile=False):
    self._model = model
    self._batch_size = int(batch_size)
    self._fn = tf.function(
        lambda images: model.bits_per_dim(images),
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
