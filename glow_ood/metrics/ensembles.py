"""Ensemble predictive density from the members' log-likelihoods."""

import numpy as np

__all__ = ["ensemble_log_prob"]


def ensemble_log_prob(log_probs):
  """`log p_ens(x) = logsumexp_m log p(x; theta_m) - log M`.

  Args:
    log_probs: array `[M, N]`, member `m`'s log p of example `n` (nats).

  Returns:
    float64 array `[N]`. Stable for log-probs of any magnitude (e.g. -1e4).
  """
  log_probs = np.asarray(log_probs, np.float64)
  if log_probs.ndim != 2 or not log_probs.shape[0]:
    raise ValueError(f"log_probs must be [M, N] with M >= 1; got shape "
                     f"{log_probs.shape}.")
  top = np.max(log_probs, axis=0)
  return top + np.log(np.mean(np.exp(log_probs - top), axis=0))
