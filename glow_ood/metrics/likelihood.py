"""Likelihood units for discrete (quantized) images, on arrays.

A flow gives a continuous density `p(x)` of the dequantized image `x` in
`[-0.5, 0.5)^D` (see `glow_ood.preprocessing`). The probability of the
observed `n_bits` image (its bin of volume `2**(-n_bits D)`) is

    discrete_log_prob = log P(image) = log p(x) - D * n_bits * log 2    (nats)
    bits/dim          = -log P(image) / (D * log 2)

`log P` is what the paper's histograms show (they label it log p(x)); it is
comparable across models and datasets of the same `D` and `n_bits`.

Names: `log_prob` is the continuous `log p(x)`, `discrete_log_prob` the
discrete `log P(image)`. `bits_per_dim` and `log_prob_from_bits_per_dim` are
`glow_ood.preprocessing`'s (the same function objects): they take / give the
continuous `log p(x)` and need `n_bits`.
"""

import numpy as np

from glow_ood import preprocessing
from glow_ood.preprocessing import bits_per_dim
from glow_ood.preprocessing import log_prob_from_bits_per_dim

__all__ = ["discrete_log_prob", "bits_per_dim", "log_prob_from_bits_per_dim"]


def _check(num_dims, n_bits):
  if int(num_dims) < 1:
    raise ValueError(f"num_dims must be >= 1; got {num_dims}.")
  preprocessing.check_n_bits(n_bits)


def discrete_log_prob(log_prob, num_dims, n_bits=8):
  """`log p(x) - D n_bits log 2`: log-probability of the images' bins (nats).

  Args:
    log_prob: continuous `log p(x)` (nats) of the dequantized images, `[N]`.
    num_dims: Python `int`, `D`.
    n_bits: Python `int` in 1..8. Default value: `8`.

  Returns:
    float64 numpy `[N]`.
  """
  _check(num_dims, n_bits)
  return (np.asarray(log_prob, np.float64)
          + preprocessing.discretization_correction(num_dims, n_bits))
