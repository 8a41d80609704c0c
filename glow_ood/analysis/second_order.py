"""The second-order prediction of the likelihood gap (paper Section 5, Eq. 5-6).

Expanding `log p(x)` to second order around `x0` and taking expectations over
the training distribution `p` and another distribution `q` gives

    E_q[log p(x)] - E_p[log p(x)]
      ~= grad log p(x0)^T (mu_q - mu_p) + 1/2 Tr{H(x0) (Sigma_q - Sigma_p)},

`H(x0)` the Hessian of `log p` with respect to the (preprocessed) input. The
paper assumes equal means (first term zero) and diagonal covariances, so

    gap ~= 1/2 sum_d H_dd(x0) (sigma^2_{q,d} - sigma^2_{p,d}).            (Eq. 5)

For a constant-volume Glow with a unit-variance Gaussian prior the paper
(Appendix F, Eq. 11-13) keeps only the 1x1 convolutions, `H_dd ~= -w_d /
sigma_z^2` with `w_d = (sum_k sum_j u_{k,c,j})^2`, which per channel gives

    gap ~= -1/(2 sigma_z^2) sum_c alpha_c sum_{h,w} (sigma^2_{q,hwc} - sigma^2_{p,hwc}),
    alpha_c = (sum_k sum_j u_{k,c,j})^2                                    (Eq. 6)

Here `u_k` is flow step k's kernel in openai/glow's `[in, out]` layout (`c` the
input channel, `j` the output one; ours is stored `[out, in]`, so the inner
sum is a column sum of ours). In a multi-scale Glow the squeezes move a pixel
to other channels and the splits factor it out, so `paper_dimension_weights`
follows each input dimension `(h, w, c)` through the flow: every 1x1
convolution that still sees it adds its column sum at the channel the
dimension occupies there; ActNorm, couplings and priors are ignored, as in the
paper. `alpha_c` is then the mean of `w_d` over the dimensions of input
channel `c` (exactly the paper's `alpha_c` when all of them are equal).

Going beyond the paper, `hessian_diagonal` computes `H_dd(x0)` of the actual
model (couplings, ActNorm and learned priors included) by automatic
differentiation: exactly, with one Hessian-vector product per dimension, or
with Hutchinson's estimator `diag(H) ~= mean_s v_s * (H v_s)`, `v_s`
Rademacher.

Variances and means are on the model's input scale: pixels / 256 (plus a
constant shift, which changes neither), as in the paper's Figure 6.
"""

import dataclasses
from typing import Optional

import numpy as np
import tensorflow.compat.v2 as tf

import bijectors
from glow_ood.configs.analyze import HESSIAN_METHODS

__all__ = ["HESSIAN_METHODS", "paper_dimension_weights", "paper_prediction",
           "hessian_diagonal", "hessian_prediction", "first_order_term",
           "SecondOrderAnalysis"]



def _kernel_column_sums(bijector):
  """`sum_j u_{c,j}` per input channel `c` of a channel-mixing bijector, or None."""
  if isinstance(bijector, bijectors.InvertibleConv1x1):
    kernel, _ = bijector.kernel_and_log_abs_det()   # [C_out, C_in]
    return tf.reduce_sum(kernel, axis=0).numpy().astype(np.float64)
  if isinstance(bijector, bijectors.ChannelPermute):
    # A permutation matrix: every column sums to one.
    return np.ones(int(bijector.permutation.shape[0]))
  return None


def paper_dimension_weights(flow):
  """`w_d = (sum over the 1x1 kernels that see d of sum_j u_{k,c(d),j})^2`.

  Args:
    flow: a `bijectors.MultiScaleFlow` (e.g. `glow_ood.Glow(...).flow`).

  Returns:
    float64 numpy `[H, W, C]`, one weight per input dimension.
  """
  if not isinstance(flow, bijectors.MultiScaleFlow):
    raise TypeError(f"paper_dimension_weights needs a MultiScaleFlow; got "
                    f"{type(flow).__name__}.")
  image_shape = [int(d) for d in flow.image_shape]
  num_dims = int(np.prod(image_shape))
  # Where each input dimension sits: an image of its flat indices, moved by
  # the same squeezes and splits as the data.
  index = tf.reshape(tf.range(num_dims, dtype=tf.float64), [1] + image_shape)
  sums = np.zeros(num_dims)
  num_levels = len(flow.levels)
  for level, level_bijectors in enumerate(flow.levels):
    for bijector in level_bijectors:
      column_sums = _kernel_column_sums(bijector)
      if column_sums is not None:
        positions = index.numpy().astype(np.int64)[0]          # [h, w, c]
        np.add.at(sums, positions.reshape(-1),
                  np.broadcast_to(column_sums, positions.shape).reshape(-1))
      elif not isinstance(bijector, (bijectors.ActNorm,
                                     bijectors.AffineCoupling)):
        index = bijector.forward(index)   # e.g. Squeeze: a pure permutation
    if level < num_levels - 1:
      prior = flow.split_priors[level]
      channels = int(index.shape[-1])
      kept = channels // 2 if prior is None else prior.num_kept
      index = index[..., :kept]
  return (sums ** 2).reshape(image_shape)


def paper_prediction(weights, variance_p, variance_q, latent_variance=1.):
  """Eq. 6: `-1/(2 sigma_z^2) sum_d w_d (sigma^2_{q,d} - sigma^2_{p,d})`, nats.

  Args:
    weights: `[H, W, C]` from `paper_dimension_weights`.
    variance_p, variance_q: `[H, W, C]` per-dimension variances (pixels/256).
    latent_variance: `sigma_z^2`. Default value: `1.`.

  Returns:
    dict: `predicted_gap` (per-dimension form), `predicted_gap_per_channel`
    (Eq. 6 literally: `alpha_c` times the channel variance-sum difference),
    `alpha` `[C]`, `channel_variance_difference` `[C]`.
  """
  weights, variance_p, variance_q = (np.asarray(a, np.float64) for a in
                                     (weights, variance_p, variance_q))
  if not weights.shape == variance_p.shape == variance_q.shape:
    raise ValueError(f"weights {weights.shape} and variances {variance_p.shape}, "
                     f"{variance_q.shape} must all be [H, W, C].")
  if latent_variance <= 0:
    raise ValueError(f"latent_variance must be > 0; got {latent_variance}.")
  difference = variance_q - variance_p
  alpha = weights.mean(axis=(0, 1))
  channel_difference = difference.sum(axis=(0, 1))
  scale = -0.5 / latent_variance
  return dict(
      predicted_gap=float(scale * np.sum(weights * difference)),
      predicted_gap_per_channel=float(scale * np.sum(alpha * channel_difference)),
      alpha=alpha.tolist(),
      channel_variance_difference=channel_difference.tolist())


def _check_method(method):
  if method not in HESSIAN_METHODS:
    raise ValueError(f"Unknown Hessian method {method!r}; choose one of "
                     f"{HESSIAN_METHODS}.")


def hessian_diagonal(log_prob_fn, x0, method="exact", num_probes=256,
                     batch_size=64, seed=0, progress=None):
  """Diagonal of the Hessian of `log_prob_fn` at one input `x0`.

  Args:
    log_prob_fn: callable `x [B, H, W, C] -> [B]`, independent per example
      (e.g. `glow_ood.Glow.log_prob`; ActNorm must be initialized).
    x0: `[H, W, C]`, the expansion point (e.g. the training set's mean image
      on the model's input scale).
    method: `"exact"` (one Hessian-vector product per dimension, D in all) or
      `"hutchinson"` (`num_probes` Rademacher probes; unbiased, variance
      falling as 1/num_probes). Default value: `"exact"`.
    num_probes: Python `int`, for `"hutchinson"`. Default value: `256`.
    batch_size: Python `int`, Hessian-vector products per call.
      Default value: `64`.
    seed: Python `int`, for the probes. Default value: `0`.
    progress: optional callable `(done, total)`, called after every batch.

  Returns:
    float64 numpy `[H, W, C]`: `d^2 log p / dx_d^2` at `x0`.
  """
  _check_method(method)
  x0 = tf.convert_to_tensor(x0)
  shape = [int(d) for d in x0.shape]
  num_dims = int(np.prod(shape))
  batch_size = int(batch_size)

  @tf.function
  def hvp(vectors):   # [B, H, W, C] -> H v per vector
    x = tf.tile(x0[tf.newaxis], [tf.shape(vectors)[0], 1, 1, 1])
    with tf.GradientTape() as outer:
      outer.watch(x)
      with tf.GradientTape() as inner:
        inner.watch(x)
        total = tf.reduce_sum(log_prob_fn(x))
      gradient = inner.gradient(total, x)
      directional = tf.reduce_sum(gradient * tf.stop_gradient(vectors))
    return outer.gradient(directional, x)

  if method == "exact":
    total = num_dims
  else:
    if int(num_probes) < 1:
      raise ValueError(f"num_probes must be >= 1; got {num_probes}.")
    total = int(num_probes)
    rng = np.random.default_rng(seed)
  diagonal = np.zeros(num_dims)
  for start in range(0, total, batch_size):
    count = min(batch_size, total - start)
    if method == "exact":
      vectors = np.zeros([batch_size, num_dims])
      vectors[np.arange(count), start + np.arange(count)] = 1.
    else:
      vectors = np.zeros([batch_size, num_dims])
      vectors[:count] = rng.choice([-1., 1.], size=[count, num_dims])
    products = hvp(tf.constant(vectors.reshape([batch_size] + shape),
                               x0.dtype)).numpy().reshape(batch_size, num_dims)
    if method == "exact":
      diagonal[start:start + count] = products[np.arange(count),
                                               start + np.arange(count)]
    else:
      diagonal += np.sum(vectors[:count] * products[:count], axis=0)
    if progress is not None:
      progress(start + count, total)
  if method == "hutchinson":
    diagonal /= total
  return diagonal.reshape(shape)


def hessian_prediction(diagonal, variance_p, variance_q):
  """Eq. 5 with the model's Hessian diagonal: `1/2 sum_d H_dd Delta sigma^2_d` (nats)."""
  diagonal, variance_p, variance_q = (np.asarray(a, np.float64) for a in
                                      (diagonal, variance_p, variance_q))
  if not diagonal.shape == variance_p.shape == variance_q.shape:
    raise ValueError(f"Hessian diagonal {diagonal.shape} and variances "
                     f"{variance_p.shape}, {variance_q.shape} must match.")
  return float(0.5 * np.sum(diagonal * (variance_q - variance_p)))


def first_order_term(log_prob_fn, x0, mean_p, mean_q):
  """`grad log p(x0)^T (mu_q - mu_p)` (nats): zero under the paper's equal-means assumption."""
  x = tf.convert_to_tensor(x0)[tf.newaxis]
  with tf.GradientTape() as tape:
    tape.watch(x)
    total = tf.reduce_sum(log_prob_fn(x))
  gradient = tape.gradient(total, x)[0].numpy()
  return float(np.sum(gradient.astype(np.float64)
                      * (np.asarray(mean_q, np.float64)
                         - np.asarray(mean_p, np.float64))))


@dataclasses.dataclass(frozen=True)
class SecondOrderAnalysis:
  """Predicted and measured `E_q[log p(x)] - E_p[log p(x)]`, nats per image.

  Attributes:
    measured_gap: from the model's log-likelihoods of the two datasets.
    paper_gap: Eq. 6 over dimensions (`paper_prediction`'s `predicted_gap`).
    paper_gap_per_channel: Eq. 6 with per-channel `alpha_c`.
    alpha: `[C]` the paper's weights.
    channel_variance_sums_p, channel_variance_sums_q: `[C]`.
    hessian_gap: Eq. 5 with the model's Hessian diagonal (None if skipped).
    hessian_method: `"exact"`, `"hutchinson"` or None.
    first_order: `grad log p(x0)^T (mu_q - mu_p)` (None if skipped).
    num_dims: D, to convert to bits/dim (`gap / (D log 2)`).
  """
  measured_gap: float
  paper_gap: float
  paper_gap_per_channel: float
  alpha: tuple
  channel_variance_sums_p: tuple
  channel_variance_sums_q: tuple
  num_dims: int
  hessian_gap: Optional[float] = None
  hessian_method: Optional[str] = None
  first_order: Optional[float] = None

  def to_json(self):
    out = dataclasses.asdict(self)
    scale = 1. / (self.num_dims * np.log(2.))
    for name in ("measured_gap", "paper_gap", "paper_gap_per_channel",
                 "hessian_gap", "first_order"):
      if out[name] is not None:
        out[f"{name}_bits_per_dim"] = out[name] * scale
    return out
