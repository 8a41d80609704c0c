"""WAIC over an ensemble (Choi, Jang & Alemi 2018)."""

import numpy as np

from glow_ood.scores import base

__all__ = ["WAIC"]


class WAIC(base.Score):
  """`-(E_m[log p_m(x)] - Var_m[log p_m(x)])` over `M >= 2` ensemble members.

  The Watanabe-Akaike information criterion of Choi et al. penalizes the mean
  log-likelihood by its variance across independently trained models: an
  input on which the members disagree is likely out of distribution. With

      mean_n = (1/M) sum_m discrete_log_prob_members[m, n]
      var_n  = (1/M) sum_m (discrete_log_prob_members[m, n] - mean_n)**2

  (the population variance, `ddof=0`, as `Var_theta` over the members) the
  score is `var_n - mean_n` (nats): equal to `-log p(x)` when all members
  agree, higher with disagreement.

  Nats matter here: mean and variance do not scale alike, so the score (not
  only its ranking) depends on the unit; this follows Choi et al.

  #### References
  [1]: Choi, Jang, Alemi. WAIC, but Why? Generative Ensembles for Robust
       Anomaly Detection. arXiv 2018. https://arxiv.org/abs/1810.01392
  """
  name = "waic"
  required_features = ("discrete_log_prob_members",)

  def _score(self, features):
    members = features.discrete_log_prob_members
    if members.shape[0] < 2:
      raise ValueError(
          f"WAIC needs discrete_log_prob_members from M >= 2 ensemble "
          f"members; got M = {members.shape[0]}. Train more models (different seeds) and "
          "stack their discrete_log_prob as [M, N].")
    return np.var(members, axis=0) - np.mean(members, axis=0)
