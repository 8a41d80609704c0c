"""What evaluation, scores, ensembles and the OOD benchmark need of a model.

Every model family's model (`glow_ood.Glow`, `glow_ood.models.pixelcnn.
PixelCNN`, `glow_ood.models.vae.VAE`, or one of your own registered with
`glow_ood.models.register`) is a `DensityModel` (a `tf.Module`) with these
members; the trainer, `glow_ood.runs`, `glow_ood.likelihood_terms` and the
experiments use nothing else, so they serve every family alike:

  config              the model's frozen config (`GlowConfig`,
                      `PixelCNNConfig`, `VAEConfig`, ...): `image_shape`,
                      `n_bits`, `dtype`, `num_dims`, `family`.
  family              `config.family`, the name its family is registered
                      under (`glow_ood.configs.families`); `DensityModel`
                      gives it.
  training_input      what the training pipeline feeds `loss_terms` and
                      `data_init`: `"dequantized"` (floats in [-0.5, 0.5)
                      with uniform noise in each bin, `preprocessing.
                      dequantize`) or `"uint8"` (the images as they are).
  loss_terms(x)       `LossTerms` of a training batch: the per-example
                      objective in bits/dim (a differentiable upper bound
                      of -log2 P(image) / D: Glow's dequantization bound,
                      the exact PixelCNN likelihood, the VAE's negative
                      ELBO) and its named per-example parts in nats.
  loss_part_names     tuple of the names of `loss_terms(x).parts`.
  data_init(x)        data-dependent initialization on one global batch
                      of training input (ActNorm, weight norm), called once
                      in cross-replica context before training; returns
                      the batch's per-example objective in bits/dim after
                      it (`[B]`). A family without one just evaluates.
  is_initialized      Python `bool`.
  discrete_log_prob(images)
                      `Estimate` of log P(image) in nats of uint8 images
                      `[B, H, W, C]`: the probability of each image's bins
                      (Glow: its density at the bin centres times the bin
                      volume; PixelCNN: exact; VAE: an importance-sampled
                      estimate with its standard error).
  bits_per_dim(images)
                      `[B]` bits/dim of uint8 images, deterministic (what
                      evaluation tables report); `DensityModel` gives
                      `-discrete_log_prob(images).log_prob / (D log 2)`.
  sample(n, seed=None)
                      `n` images `[n, H, W, C]` in [-0.5, 0.5)
                      (`preprocessing.to_uint8` makes them displayable).
  capabilities        frozenset of what the model offers beyond this
                      interface (its family's registered capabilities,
                      `CAPABILITIES`; `DensityModel` gives it), e.g.
                      `"decomposition"` (Glow's `decompose`: log p(z),
                      log|det| per level and kind; `decompose_and_encode`:
                      the same and the standardized latents), `"elbo"` (the
                      VAE's `elbo_terms`, and `log_weights`: the per-sample
                      log importance weights, optionally under a posterior
                      given in place of the encoder's), `"statistics"`
                      (`summary_statistics(images)`: `{name: [B]}`
                      per-example statistics besides log P, for DoSE: the
                      VAE's rate, distortion and posterior entropy, the
                      PixelCNN's per-pixel NLL spread and quantiles).

`require_capability(model, capability, what)` raises the one clear error a
score or an analysis gives when the model lacks what it needs;
`differentiable_log_prob(model, images)` is the per-example log-likelihood
whose gradient in the weights the gradient scores take (`glow_ood.scores`).
"""

from typing import Dict, NamedTuple, Optional

import math
import operator

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood.configs import families

__all__ = ["DensityModel", "LossTerms", "Estimate", "CAPABILITIES",
           "TRAINING_INPUTS", "require_capability",
           "missing_capability_message", "MissingCapabilityError",
           "sample_count", "check_count", "stateless_seed",
           "differentiable_log_prob"]

CAPABILITIES = families.CAPABILITIES
TRAINING_INPUTS = ("dequantized", "uint8")


class DensityModel(tf.Module):
  """The base of every family's model: `family` and `capabilities` from its registration.

  A subclass sets `self.config` (or a `config` property) to its family's
  config and implements the rest of the interface above (`training_input`,
  `loss_terms`, `loss_part_names`, `data_init`, `is_initialized`,
  `discrete_log_prob`, `sample`, and the methods of its capabilities); it
  may replace `bits_per_dim`.
  """

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    if hasattr(cls, "loss_extras"):   # the name before loss_part_names
      raise TypeError(
          f"{cls.__name__}.loss_extras is called loss_part_names now (the "
          "names of loss_terms(x).parts); rename it.")

  @property
  def family(self):
    """The name of the model's family (`config.family`)."""
    return type(self.config).family

  @property
  def capabilities(self):
    """`frozenset` of the family's capabilities (`CAPABILITIES`)."""
    return families.of_config(self.config).capabilities

  def bits_per_dim(self, images):
    """`-discrete_log_prob(images).log_prob / (D log 2)` of uint8 images -> `[...]`."""
    log_prob = self.discrete_log_prob(images).log_prob
    return -log_prob / (self.config.num_dims * math.log(2.))


class _LossTerms(NamedTuple):
  bits_per_dim: tf.Tensor
  parts: Dict[str, tf.Tensor]


class LossTerms(_LossTerms):
  """A training batch's objective, per example, and its named parts.

  Attributes:
    bits_per_dim: `[B]` float, the objective (lower is better) in bits/dim.
    parts: `{name: [B]}` per-example terms of the objective in nats (summed
      and logged by the trainer as `train/<name>`; the model's
      `loss_part_names`), e.g. Glow's `log_prob_z` and `log_det`, the VAE's
      `reconstruction` and `kl`; `{}` for none.
  """
  __slots__ = ()

  def __new__(cls, *args, **kwargs):
    if "extras" in kwargs:   # the keyword before `parts`
      raise TypeError("LossTerms(extras=...) is LossTerms(parts=...) now: "
                      "the objective's per-example parts, {name: [B]}.")
    return super().__new__(cls, *args, **kwargs)


class Estimate(NamedTuple):
  """log P(image) per example in nats, and its standard error where estimated.

  Attributes:
    log_prob: `[B]` float.
    stderr: `[B]` float, the standard error of `log_prob` as an estimate
      (delta method over the importance weights), or `None` when exact.
  """
  log_prob: tf.Tensor
  stderr: Optional[tf.Tensor] = None


class MissingCapabilityError(ValueError):
  """A score or analysis needs a capability the model's family lacks."""


def require_capability(model, capability, what):
  """Raises `MissingCapabilityError` unless `model` offers `capability`.

  Args:
    model: a density model.
    capability: one of `CAPABILITIES`.
    what: what needs it, for the message (e.g. "the per-level likelihood").
  """
  if capability not in CAPABILITIES:
    raise ValueError(f"Unknown model capability {capability!r}; known: "
                     f"{', '.join(CAPABILITIES)}.")
  if capability not in model.capabilities:
    raise MissingCapabilityError(missing_capability_message(
        what, capability, model.family, model.capabilities))


def missing_capability_message(what, capability, family, capabilities,
                               otherwise="leave it out"):
  """The one line saying that `what` needs `capability`, which `family` lacks.

  Names the family's capabilities (`capabilities`), the families that have
  `capability`, and the other way out (`otherwise`).
  """
  offered = ", ".join(sorted(capabilities)) or "none"
  return (f"{what} needs the model capability {capability!r}, which a "
          f"{family} model does not have (its capabilities: {offered}). Use "
          f"a {families.titles_with(capability)} run for it, or "
          f"{otherwise}.")


def check_count(value, name, where, minimum=0):
  """`value` as a Python `int >= minimum`, or one error naming `name` and `where`.

  Raises:
    TypeError: not an integer.
    ValueError: below `minimum`.
  """
  try:
    value = operator.index(value)
  except TypeError:
    raise TypeError(f"{where}: {name} must be an integer; got "
                    f"{value!r}.") from None
  if value < minimum:
    raise ValueError(f"{where}: {name} must be >= {minimum}; got {value}.")
  return value


def sample_count(num_samples, where):
  """`num_samples` of `sample(n)` as a Python `int >= 0` (`check_count`)."""
  return check_count(num_samples, "num_samples", where)


def stateless_seed(seed, where):
  """The int64 seed `[2]` of TensorFlow's stateless random ops, from a `seed` argument.

  `None`: a fresh one, drawn from the global generator (a different draw
  each call); a Python or numpy `int` `s`: `[s, 0]`; a pair of integers
  (`Tensor`, array, tuple): itself, cast to int64.

  Raises:
    ValueError: anything else (naming `where`).
  """
  if seed is None:
    return tf.random.uniform([2], minval=-2 ** 31, maxval=2 ** 31 - 1,
                             dtype=tf.int64)
  if isinstance(seed, (int, np.integer)):
    return tf.constant([int(seed), 0], tf.int64)
  seed = tf.convert_to_tensor(seed)
  if not seed.dtype.is_integer or seed.shape.as_list() != [2]:
    raise ValueError(f"{where}: seed must be an int or [2] integers; "
                     f"got {seed.dtype.name} of shape {seed.shape}.")
  return tf.cast(seed, tf.int64)


def differentiable_log_prob(model, images, num_samples=1, seed=None):
  """Per-example log-likelihood of uint8 images, differentiable in the weights, nats `[...]`.

  The objective each family is trained to maximize, evaluated on one batch
  (the per-example function whose parameter gradient the gradient scores of
  `glow_ood.scores` take):

    * a model with the `"elbo"` capability (the VAE): the ELBO
      `(1/S) sum_s log w_s` of `S = num_samples` draws of `model.log_weights`
      (reparameterized; keyed by `seed` and the image, so an image's value
      does not depend on its batch): the VAE's training objective, whose
      parameter gradient has mean ~0 at a trained model, which the IWAE
      estimate's lacks;
    * any other family: `model.discrete_log_prob(images).log_prob`, exact
      and deterministic (Glow: the density at the bin centres times the bin
      volume; PixelCNN++: exact, dropout off).

  Args:
    model: a density model.
    images: uint8 `[..., H, W, C]`.
    num_samples: `S` of the ELBO (ignored by the other families). Default
      value: `1`.
    seed: stateless seed of the ELBO's draws. Default value: `None`, the
      model's evaluation seed.

  Returns:
    float `[...]` of the model's dtype.
  """
  if "elbo" in model.capabilities:
    return tf.reduce_mean(
        model.log_weights(images, num_samples=num_samples, seed=seed), axis=0)
  return model.discrete_log_prob(images).log_prob
