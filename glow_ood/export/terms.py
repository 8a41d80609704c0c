"""The per-example numbers of `launch/evaluate.py`'s scores.npz, as graph ops.

`likelihood_terms(model, images)` computes, inside a traced function, what
`glow_ood.likelihood_terms.LikelihoodTermsEvaluator` computes batch by batch in numpy, by
the same arithmetic in the same precision: the model's float32 terms, then
float64 from there on. So an exported model gives scores.npz's numbers on
the same images (to float32 round-off of the model's own terms, which is
zero when the batches are the same). With `D = H W C`:

  Glow (the "decomposition" capability), images dequantized at the bin centres:
    log_prob_z, log_det                     [B]      nats (model dtype -> f64)
    log_prob_z_per_level, log_det_per_level [B, L]
    log_det_<kind>                          [B]      actnorm, permutation, ...
    log_prob   = log_prob_z + log_det - D n_bits log 2           [B] float64
  PixelCNN (exact), VAE (IWAE estimate, with log_prob_stderr [B]):
    log_prob   = model.discrete_log_prob(images).log_prob        [B] float64
  every family:
    bits_per_dim = -log_prob / (D log 2)                         [B] float64

`log_prob` here is the discrete log P(image) (scores.npz's
`discrete_log_prob`), not a Glow's continuous density.
"""

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import preprocessing

__all__ = ["likelihood_terms", "has_decomposition", "DECOMPOSITION_TERMS"]

DECOMPOSITION_TERMS = ("log_prob_z", "log_det", "log_prob_z_per_level",
                       "log_det_per_level")


def has_decomposition(model):
  """Whether `model` offers Glow's decomposition of log p(x)."""
  return "decomposition" in model.capabilities


def likelihood_terms(model, images):
  """`{name: Tensor}` of uint8 images `[B, H, W, C]` (see the module docstring)."""
  num_dims = int(np.prod(model.config.image_shape))
  n_bits = int(model.config.n_bits)
  if has_decomposition(model):
    decomposition = model.decompose(model.preprocess(images, "center"))
    out = {name: tf.cast(getattr(decomposition, name), tf.float64)
           for name in DECOMPOSITION_TERMS}
    out.update({f"log_det_{kind}": tf.cast(value, tf.float64)
                for kind, value in decomposition.log_det_per_kind.items()})
    log_prob = out["log_prob_z"] + out["log_det"]    # continuous log p(x)
    out["log_prob"] = log_prob + preprocessing.discretization_correction(
        num_dims, n_bits)
    out["bits_per_dim"] = preprocessing.bits_per_dim(log_prob, num_dims,
                                                     n_bits)
    return out
  estimate = model.discrete_log_prob(images)
  out = {"log_prob": tf.cast(estimate.log_prob, tf.float64)}
  out["bits_per_dim"] = -out["log_prob"] / (num_dims * np.log(2.))
  if estimate.stderr is not None:
    out["log_prob_stderr"] = tf.cast(estimate.stderr, tf.float64)
  return out
