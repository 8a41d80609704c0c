"""Per-level likelihood of a multi-scale flow (Schirrmeister et al.; Kirichenko et al. 2020)."""

import numpy as np

from glow_ood.scores import base

__all__ = ["PerLevelLikelihood", "level_contributions", "UNITS"]

UNITS = ("nats", "bits_per_dim")


def level_contributions(features):
  """`c_l = log p(z_l) + log|det dz/dx|_l`, each level's share of log p(x).

  Summed over levels and added to the discretization constant
  `-D * n_bits * log 2`, they give `features.discrete_log_prob`.

  Returns:
    float64 `[N, L]` (nats).
  """
  missing = features.missing(("log_prob_z_per_level", "log_det_per_level"))
  if missing:
    raise ValueError(f"level_contributions needs Features field(s) "
                     f"{', '.join(missing)}; use Features.from_decomposition.")
  return features.log_prob_z_per_level + features.log_det_per_level


class PerLevelLikelihood(base.Score):
  """`-c_l`: minus one level's contribution to log p(x) (see `level_contributions`).

  Schirrmeister et al. and Kirichenko et al. find that log p(x) of a Glow is
  dominated by local pixel statistics, shared by all natural images and
  modelled by the fine levels, while the coarse levels carry more global
  structure; so one level's term, the last (coarsest) one in particular, can
  separate datasets that the full likelihood confuses. `level=-1` (default)
  is that last level; score every level to compare them.

  `units="bits_per_dim"` gives `-c_l / (D_l log 2)`, `D_l` the size of level
  `l`'s latent (`Features.num_dims_per_level`). It leaves out the
  discretization constant, which would add the same `n_bits` to every
  example (the ranking is unchanged).

  Args:
    level: Python `int`, the level `l` (0 = finest, `-1` = last, i.e. coarsest);
      checked against `L` when called. Default value: `-1`.
    units: `"nats"` or `"bits_per_dim"` (needs `num_dims_per_level`).
      Default value: `"nats"`.

  #### References
  [1]: Schirrmeister, Zhou, Ball, Zhang. Understanding Anomaly Detection with
       Deep Invertible Networks through Hierarchies of Distributions and
       Features. NeurIPS 2020. https://arxiv.org/abs/2006.10848
  [2]: Kirichenko, Izmailov, Wilson. Why Normalizing Flows Fail to Detect
       Out-of-Distribution Data. NeurIPS 2020.
       https://arxiv.org/abs/2006.08545
  """
  name = "per_level_likelihood"
  required_capabilities = ("decomposition",)

  def __init__(self, level=-1, units="nats"):
    super().__init__()
    if isinstance(level, bool) or int(level) != level:
      raise ValueError(f"PerLevelLikelihood: level must be an int; got "
                       f"{level!r}.")
    if units not in UNITS:
      raise ValueError(f"PerLevelLikelihood: unknown units {units!r}; choose "
                       f"one of {UNITS}.")
    self.level = int(level)
    self.units = units
    self.required_features = ("log_prob_z_per_level", "log_det_per_level")
    if units == "bits_per_dim":
      self.required_features += ("num_dims_per_level",)

  def _score(self, features):
    contributions = level_contributions(features)
    num_levels = contributions.shape[1]
    if not -num_levels <= self.level < num_levels:
      raise ValueError(
          f"PerLevelLikelihood: level {self.level} does not exist in a "
          f"{num_levels}-level model; use 0..{num_levels - 1} or -1 for the "
          "last.")
    score = -contributions[:, self.level]
    if self.units == "bits_per_dim":
      score = score / (features.num_dims_per_level[self.level] * np.log(2.))
    return score

  def _config(self):
    return {"level": self.level, "units": self.units}
