"""Out-of-distribution scores of a density model, side by side, one interface.

Sign convention, for every score here and for `glow_ood.metrics`: a score is
HIGHER for inputs that look MORE out-of-distribution. In-distribution inputs
are the negatives, OOD inputs the positives, so
`glow_ood.metrics.auroc(score(in_features), score(out_features))` is the
detection AUROC directly (0.5 = chance, below 0.5 = the score ranks the wrong
way, as likelihood does for CIFAR-10 -> SVHN).

Every score maps `Features` (precomputed per-example model outputs, see
`features.py`) of N examples to float64 [N]; scores estimated from data are
`fit` on held-out in-distribution `Features` first:

  name                     score (nats unless stated)      needs
  negative_log_likelihood  -log p(x) (bits/dim or nats)    discrete_log_prob
  typicality               |-log p(x) - H_hat|             discrete_log_prob; fit
  waic                     Var_m[log p_m] - E_m[log p_m]   discrete_log_prob_members
  input_complexity         -log2 p(x) - L(x) (bits[/dim])  discrete_log_prob, images
  likelihood_ratio         log p_bg(x) - log p(x)          discrete_log_prob(_background)
  per_level_likelihood     -(log p(z_l) + log det_l)       per-level terms
  dose                     -log density of the model's     any statistics; fit
                           statistics (KDE or 1-class SVM)
  latent_goodness_of_fit   -log p of the latents' test     latents (a flow); fit
                           against N(0, 1), levels combined
  gradient_score_test      -log p of the score test        images, the model
                           g^T diag(F)^-1 g combined with  (any family); fit
                           typicality (Fisher's method)
  gradient_norms           -log density of the layer-wise  images, the model
                           log gradient norms (DoSE's      (any family); fit
                           estimators)
  likelihood_regret        ELBO gain from optimizing the   images, the model
                           posterior for the one image     (a VAE)

Here `log p(x)` is the discrete log-probability of the image
(`Features.discrete_log_prob`, as in the paper's figures), not the continuous
density of `glow_ood.Glow.log_prob`.

The last three run the model themselves (one backward pass per image, or
an optimization per image, `requires_model`, listed in
`SCORES_WITH_MODEL`): they take it as an argument
(`GradientScoreTest(model)`, `make_score(name, model=model)`), read `Features.images`, and remember their
passes per image set and model weights (`pass_memo`).

`mutate` perturbs images to train the background model of `likelihood_ratio`.
"""

from glow_ood.scores.base import NotFittedError
from glow_ood.scores.base import Score
from glow_ood.scores.dose import DoSE
from glow_ood.scores.dose import statistics_of
from glow_ood.scores.features import Features
from glow_ood.scores.features import from_likelihood_terms
from glow_ood.scores.gradient_norms import GradientNorms
from glow_ood.scores.gradient_score import GradientScoreTest
from glow_ood.scores.input_complexity import compressed_bits
from glow_ood.scores.input_complexity import InputComplexity
from glow_ood.scores.latent_goodness_of_fit import LatentGoodnessOfFit
from glow_ood.scores.likelihood_ratio import LikelihoodRatio
from glow_ood.scores.likelihood_regret import LikelihoodRegret
from glow_ood.data.mutation import mutate
from glow_ood.scores.negative_log_likelihood import NegativeLogLikelihood
from glow_ood.scores.per_level import level_contributions
from glow_ood.scores.per_level import PerLevelLikelihood
from glow_ood.scores.registry import make_score
from glow_ood.scores.registry import SCORES
from glow_ood.scores.registry import SCORES_WITH_MODEL
from glow_ood.scores.registry import score_class
from glow_ood.scores.typicality import Typicality
from glow_ood.scores.waic import WAIC
