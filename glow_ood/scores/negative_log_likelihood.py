"""Negative log-likelihood: the baseline score of Nalisnick et al. (2019)."""

import numpy as np

from glow_ood.scores import base

__all__ = ["NegativeLogLikelihood", "UNITS"]

UNITS = ("bits_per_dim", "nats")


class NegativeLogLikelihood(base.Score):
  """`-log P(x)`: `-discrete_log_prob / (D log 2)` bits/dim, or nats.

  The paper's point is that this score fails: a Glow trained on CIFAR-10 gives
  SVHN a *higher* likelihood (lower score) than CIFAR-10 test images. Both
  units rank examples identically; bits/dim is comparable across image sizes.

  Args:
    units: `"bits_per_dim"` (needs `Features.num_dims`) or `"nats"`.
      Default value: `"bits_per_dim"`.

  #### References
  [1]: Nalisnick, Matsukawa, Teh, Gorur, Lakshminarayanan. Do Deep Generative
       Models Know What They Don't Know? ICLR 2019.
       https://arxiv.org/abs/1810.09136
  """
  name = "negative_log_likelihood"

  def __init__(self, units="bits_per_dim"):
    super().__init__()
    if units not in UNITS:
      raise ValueError(f"NegativeLogLikelihood: unknown units {units!r}; "
                       f"choose one of {UNITS}.")
    self.units = units
    self.required_features = (
        ("discrete_log_prob", "num_dims") if units == "bits_per_dim"
        else ("discrete_log_prob",))

  def _score(self, features):
    if self.units == "nats":
      return -features.discrete_log_prob
    return -features.discrete_log_prob / (features.num_dims * np.log(2.))

  def _config(self):
    return {"units": self.units}
