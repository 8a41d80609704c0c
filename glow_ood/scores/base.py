"""`Score`: the interface shared by every OOD score in `glow_ood.scores`.

    score = glow_ood.scores.Typicality().fit(in_distribution_heldout_features)
    in_scores = score(test_features)        # float64 [N], higher = more OOD
    out_scores = score(ood_features)
    glow_ood.metrics.auroc(in_scores, out_scores)

A subclass sets `name` and `required_features`, implements `_score` (and
`_fit` if `requires_fit`), and adds its settings to `config()`. A score that
runs the model itself (a backward pass or an optimization per image) sets
`requires_model` and takes the model as its first argument.
"""

import numpy as np

from glow_ood.scores import features as features_lib

__all__ = ["Score", "NotFittedError", "batch_indices", "batch_means"]


class NotFittedError(RuntimeError):
  """A score that is estimated from in-distribution data was used before `fit`."""


class Score:
  """An OOD score: `Features` of `N` examples -> float64 `[N]`, higher = more OOD.

  Class attributes:
    name: registry name (see `glow_ood.scores.SCORES`).
    required_features: names of the `Features` fields `__call__` reads.
    requires_fit: whether `fit` must run (on in-distribution features) first.
    requires_model: whether the constructor takes the density model
      (`make_score(name, model=model)`), which the score runs on
      `Features.images`.
    required_capabilities: the model capabilities (`density_model.
      CAPABILITIES`) the score needs: e.g. `("decomposition",)` for the per-level terms,
      `("elbo",)` for a re-fitted posterior. A benchmark offers the score
      only for models that have them (`offered_by`).
  """
  name = None
  required_features = ()
  requires_fit = False
  requires_model = False
  required_capabilities = ()

  @classmethod
  def missing_capabilities(cls, capabilities):
    """The `required_capabilities` not in `capabilities` (a model's), in order."""
    return tuple(c for c in cls.required_capabilities
                 if c not in capabilities)

  @classmethod
  def offered_by(cls, capabilities):
    """Whether a model with `capabilities` has everything the score needs."""
    return not cls.missing_capabilities(capabilities)

  def __init__(self):
    self._fitted = False

  @property
  def is_fitted(self):
    return self._fitted

  def _check_features(self, features, what):
    if not isinstance(features, features_lib.Features):
      raise TypeError(
          f"{type(self).__name__}.{what} takes a glow_ood.scores.Features; "
          f"got {type(features).__name__}. Wrap arrays as "
          "Features(discrete_log_prob=..., ...).")
    missing = features.missing(self.required_features)
    if missing:
      hints = "; ".join(f"{name}: {features_lib.FIELD_HINTS[name]}"
                        for name in missing)
      raise ValueError(
          f"{type(self).__name__} needs Features field(s) "
          f"{', '.join(missing)}, which are None. Provide them: {hints}.")

  def fit(self, features):
    """Estimates the score's statistics from in-distribution `features`.

    Use held-out in-distribution data (not the training set, on which the
    model's likelihoods are biased upwards). A no-op for scores that need no
    fit. Returns `self`.
    """
    if self.requires_fit:
      self._check_features(features, "fit")
      self._fit(features)
    self._fitted = True
    return self

  def __call__(self, features):
    """Per-example scores of `features`: float64 `[N]`, higher = more OOD."""
    self._check_features(features, "__call__")
    if self.requires_fit and not self._fitted:
      raise NotFittedError(
          f"{type(self).__name__} is estimated from in-distribution data: "
          f"call .fit(features) on held-out in-distribution Features first.")
    scores = np.asarray(self._score(features), np.float64)
    if scores.shape != (len(features),):
      raise AssertionError(f"{type(self).__name__} returned shape "
                           f"{scores.shape} for {len(features)} examples.")
    return scores

  def config(self):
    """JSON-serializable description: name, settings, fitted statistics."""
    return {"name": self.name, **self._config()}

  def __repr__(self):
    settings = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
    return f"{type(self).__name__}({settings})"

  def _fit(self, features):
    raise NotImplementedError

  def _score(self, features):
    raise NotImplementedError

  def _config(self):
    return {}


def batch_indices(num_examples, batch_size, seed=None):
  """The examples of each batch of `M = batch_size`: int `[N // M, M]`.

  `seed`: `None` (default) groups examples `[0, M)`, `[M, 2M)`, ...; an `int`
  shuffles them with that seed first. The last `N % M` examples are left out.
  """
  order = np.arange(num_examples)
  if seed is not None:
    order = np.random.default_rng(seed).permutation(num_examples)
  num_batches = num_examples // batch_size
  return order[:num_batches * batch_size].reshape(num_batches, batch_size)


def batch_means(scores, batch_size, seed=None):
  """The mean of `scores` `[N]` over the batches of `batch_indices`: float64 `[N // M]`."""
  scores = np.asarray(scores, np.float64)
  return scores[batch_indices(len(scores), batch_size, seed)].mean(axis=1)
