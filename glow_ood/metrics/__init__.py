"""Plain functions on arrays: likelihood units, ensembles, OOD detection scores.

`bits_per_dim` and `log_prob_from_bits_per_dim` are `glow_ood.preprocessing`'s
(the same function objects): bits/dim from the continuous `log p(x)`.
"""

from glow_ood.metrics.ensembles import ensemble_log_prob
from glow_ood.metrics.likelihood import bits_per_dim
from glow_ood.metrics.likelihood import discrete_log_prob
from glow_ood.metrics.likelihood import log_prob_from_bits_per_dim
from glow_ood.metrics.ood_detection import auroc
from glow_ood.metrics.ood_detection import aupr
from glow_ood.metrics.ood_detection import bootstrap_interval
from glow_ood.metrics.ood_detection import fpr_at_tpr
from glow_ood.metrics.ood_detection import seed_bootstrap_interval

__all__ = ["ensemble_log_prob", "bits_per_dim", "discrete_log_prob",
           "log_prob_from_bits_per_dim", "auroc", "aupr", "bootstrap_interval",
           "fpr_at_tpr", "seed_bootstrap_interval"]
