"""Likelihood ratio against a background model (Ren et al. 2019)."""

from glow_ood.scores import base

__all__ = ["LikelihoodRatio"]


class LikelihoodRatio(base.Score):
  """`-(log p_model(x) - log p_background(x))` (nats).

  The background model is the same architecture trained on inputs perturbed
  by `glow_ood.scores.mutate` (a mutation rate `mu` tuned on validation data,
  of the order of 0.1-0.3, plus L2 regularization): it learns the
  population-level "background" statistics, so the ratio cancels them and
  keeps the "semantic" part of the likelihood. Both log-probs must use the
  same convention (the discretization constants then cancel).

  #### References
  [1]: Ren, Liu, Fertig, Snoek, Poplin, DePristo, Dillon, Lakshminarayanan.
       Likelihood Ratios for Out-of-Distribution Detection. NeurIPS 2019.
       https://arxiv.org/abs/1906.02845
  """
  name = "likelihood_ratio"
  required_features = ("discrete_log_prob", "discrete_log_prob_background")

  def _score(self, features):
    return features.discrete_log_prob_background - features.discrete_log_prob
