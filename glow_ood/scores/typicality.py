"""Typicality test (Nalisnick, Matsukawa, Teh & Lakshminarayanan 2019)."""

import numpy as np

from glow_ood.scores import base

__all__ = ["Typicality"]


class Typicality(base.Score):
  """Distance of the negative log-likelihood from the entropy: `|-log p(x) - H|`.

  Samples of a D-dimensional model concentrate in its typical set, where
  `-log p(x)` is close to the entropy `H = E[-log p(x)]`; the mode, though of
  highest density, is atypical (for `N(0, I_D)`, `-log p(0) = H - D/2`). So
  inputs of too *high* likelihood are flagged as well as too low ones.

  `fit(features)` estimates, from held-out in-distribution examples,

      H_hat = mean_n(-discrete_log_prob_n)                         (nats)
      eps_alpha = alpha-quantile over K bootstrap batches of
                  |mean_{m <= M}(-discrete_log_prob) - H_hat|,

  each batch `M` examples drawn with replacement from the fit set. Then

    * `__call__` gives the per-example score `|-discrete_log_prob - H_hat|`
      (nats);
    * `score_batches` gives `|mean_{batch}(-discrete_log_prob) - H_hat|` for
      batches of `M = batch_size`, and `is_ood` compares it with `threshold = eps_alpha`:
      an in-distribution batch is flagged with probability about `1 - alpha`.

  The paper estimates `H_hat` on training data and `eps_alpha` on validation
  data; here both come from the one fit set. Prefer held-out data: a model's
  likelihoods on its own training set are biased upwards.

  Args:
    batch_size: Python `int`, `M`, the number of examples tested together.
      Default value: `1`.
    alpha: Python `float` in (0, 1), the quantile giving the threshold (the
      test's in-distribution acceptance rate). Default value: `0.99`.
    num_bootstrap: Python `int`, `K` bootstrap batches. Default value: `1000`.
    seed: Python `int`, seeds the bootstrap. Default value: `0`.

  #### References
  [1]: Nalisnick, Matsukawa, Teh, Lakshminarayanan. Detecting
       Out-of-Distribution Inputs to Deep Generative Models Using Typicality.
       arXiv 2019. https://arxiv.org/abs/1906.02994
  """
  name = "typicality"
  required_features = ("discrete_log_prob",)
  requires_fit = True

  def __init__(self, batch_size=1, alpha=0.99, num_bootstrap=1000, seed=0):
    super().__init__()
    if int(batch_size) != batch_size or batch_size < 1:
      raise ValueError(f"Typicality: batch_size must be an int >= 1; got "
                       f"{batch_size!r}.")
    if not 0. < alpha < 1.:
      raise ValueError(f"Typicality: alpha must be in (0, 1); got {alpha!r}.")
    if int(num_bootstrap) != num_bootstrap or num_bootstrap < 1:
      raise ValueError(f"Typicality: num_bootstrap must be an int >= 1; got "
                       f"{num_bootstrap!r}.")
    self.batch_size = int(batch_size)
    self.alpha = float(alpha)
    self.num_bootstrap = int(num_bootstrap)
    self.seed = int(seed)
    self._entropy = None
    self._threshold = None

  def _fit(self, features):
    nll = -features.discrete_log_prob
    if len(nll) < 2:
      raise ValueError(f"Typicality.fit needs at least 2 examples; got "
                       f"{len(nll)}.")
    self._entropy = float(np.mean(nll))
    rng = np.random.default_rng(self.seed)
    batches = rng.integers(0, len(nll), size=(self.num_bootstrap,
                                              self.batch_size))
    distances = np.abs(nll[batches].mean(axis=1) - self._entropy)
    self._threshold = float(np.quantile(distances, self.alpha))

  def _require_fit(self):
    if not self.is_fitted:
      raise base.NotFittedError(
          "Typicality is estimated from in-distribution data: call "
          ".fit(features) on held-out in-distribution Features first.")

  @property
  def entropy(self):
    """`H_hat`, the estimated entropy of the model in nats (after `fit`)."""
    self._require_fit()
    return self._entropy

  @property
  def threshold(self):
    """`eps_alpha` for batches of `batch_size` (nats; after `fit`)."""
    self._require_fit()
    return self._threshold

  def _score(self, features):
    return np.abs(-features.discrete_log_prob - self._entropy)

  def score_batches(self, features, seed=None):
    """`|mean(-discrete_log_prob) - H_hat|` of each batch of `M = batch_size`.

    Args:
      features: `Features` with `discrete_log_prob` `[N]`.
      seed: `None` (default) groups consecutive examples `[0, M)`, `[M, 2M)`,
        ...; an `int` shuffles the examples with that seed first.

    Returns:
      float64 `[N // M]`; the last `N % M` examples are left out.
    """
    self._check_features(features, "score_batches")
    self._require_fit()
    nll = -features.discrete_log_prob
    return np.abs(base.batch_means(nll, self.batch_size, seed) - self._entropy)

  def is_ood(self, features, seed=None):
    """bool `[N // M]`: batches (see `score_batches`) beyond `threshold`."""
    return self.score_batches(features, seed) > self.threshold

  def _config(self):
    config = {"batch_size": self.batch_size, "alpha": self.alpha,
              "num_bootstrap": self.num_bootstrap, "seed": self.seed}
    if self.is_fitted:
      config.update(entropy=self._entropy, threshold=self._threshold)
    return config
