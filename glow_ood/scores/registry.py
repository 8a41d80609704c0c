"""Scores by name: `make_score("typicality", batch_size=10)`.

The scores that run a model themselves take it as an argument:
`make_score("gradient_score_test", model=model)`.
"""

from glow_ood.scores import dose
from glow_ood.scores import gradient_norms
from glow_ood.scores import gradient_score
from glow_ood.scores import input_complexity
from glow_ood.scores import latent_goodness_of_fit
from glow_ood.scores import likelihood_ratio
from glow_ood.scores import likelihood_regret
from glow_ood.scores import negative_log_likelihood
from glow_ood.scores import per_level
from glow_ood.scores import typicality
from glow_ood.scores import waic

__all__ = ["SCORES", "SCORES_WITH_MODEL", "make_score", "score_class"]

_CLASSES = {
    cls.name: cls for cls in (
        negative_log_likelihood.NegativeLogLikelihood,
        typicality.Typicality,
        waic.WAIC,
        input_complexity.InputComplexity,
        likelihood_ratio.LikelihoodRatio,
        per_level.PerLevelLikelihood,
        dose.DoSE,
        latent_goodness_of_fit.LatentGoodnessOfFit,
        gradient_score.GradientScoreTest,
        gradient_norms.GradientNorms,
        likelihood_regret.LikelihoodRegret,
    )
}
SCORES = tuple(_CLASSES)


SCORES_WITH_MODEL = tuple(name for name, cls in _CLASSES.items()
                          if cls.requires_model)


def score_class(name):
  """The `Score` subclass registered as `name` (one of `SCORES`)."""
  if name not in _CLASSES:
    raise ValueError(f"Unknown score {name!r}; choose one of {SCORES}.")
  return _CLASSES[name]


def make_score(name, **kwargs):
  """A new, unfitted score `name` (one of `SCORES`) built with `kwargs`.

  The scores of `SCORES_WITH_MODEL` need `model=` (the density model they
  run on `Features.images`).
  """
  cls = score_class(name)
  if cls.requires_model and kwargs.get("model") is None:
    raise TypeError(f"The score {name!r} runs the model itself: "
                    f"make_score({name!r}, model=model, ...).")
  return cls(**kwargs)
