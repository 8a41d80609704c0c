"""Likelihood units for discrete (quantized) images, on arrays.

A flow gives a continuous density `p(x)` of the dequantized image `x` in
`[-0.5, 0.5)^D` (see `glow_ood.preprocessing`). The probability of the
observed `n_bits` image (its bin of volume `2**(-n_bits D)`) is

    log P(image) = log p(x) - D * n_bits * log 2          (nats)
    bits/dim     = -log P(image) / (D * log 2)

`log P` is what the paper's histograms show (they label it log p(x)); it is
comparable across models and datasets of the same `D` and `n_bits`.
"""

import numpy as np

from glow_ood import preprocessing

__all__ = ["discrete_log_prob", "bits_per_dim", "log_prob_from_bits_per_dim"]


def _check(num_dims, n_bits):
  if int(num_dims) < 1:
    raise ValueError(f"num_dims must be >= 1; got {num_dims}.")
  if not 1 <= int(n_bits) <= 8:
    raise ValueError(f"n_bits must be in 1..8; got {n_bits}.")


def discrete_log_prob(continuous_log_prob, num_dims, n_bits=8):
  """`log p(x) - D n_bits log 2`: log-probability of the image's bin, nats `[N]`."""
  _check(num_dims, n_bits)
  return (np.asarray(continuous_log_prob, np.float64)
          + preprocessing.discretization_correction(num_dims, n_bits))


def bits_per_dim(log_prob, num_dims):
  """Bits/dim `-log P / (D log 2)` of discrete log-probabilities `log P` (nats)."""
  _check(num_dims, 8)
  return -np.asarray(log_prob, np.float64) / (float(num_dims) * np.log(2.))


def log_prob_from_bits_per_dim(bits, num_dims):
  """Inverse of `bits_per_dim`: discrete log-probability in nats."""
  _check(num_dims, 8)
  return -np.asarray(bits, np.float64) * float(num_dims) * np.log(2.)
