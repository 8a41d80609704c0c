"""Goodness-of-fit of a flow's latents to its own prior, one example or a batch at a time.

Under a multi-scale flow (`glow_ood.Glow`), each level's latent `z_l`
(`[h_l, w_l, c_l]`, `n_l = h_l w_l c_l` values) is, for an input drawn from the
model, Gaussian under the level's learned prior `N(mu_l, sigma_l^2)`
(`bijectors.SplitPrior`, the top prior), so its standardized values

    eps_l = (z_l - mu_l) / sigma_l

are `n_l` independent `N(0, 1)` draws, independent across levels (the flat
latent `z = concat(eps_1, ..., eps_L)` of `Glow.encode` is `N(0, I_D)`;
`Glow.decompose_and_encode` gives it with the likelihood's terms,
`Features.latents` holds it, `Features.latents_per_level` splits it). The
likelihood sees `eps_l` only through `|eps_l|^2`; a goodness-of-fit test
looks at the whole empirical distribution of the `n_l` values, so it also
sees latents of the right norm but the wrong shape (too concentrated in the
centre with heavy tails, skewed, shifted and shrunk at once).

#### One example (`__call__`)

For each level, the empirical CDF `F_n` of the `n = n_l` values of `eps_l`
is compared with `Phi`, the `N(0, 1)` CDF (a simple null: nothing is
estimated), by one of

  * `"anderson_darling"` (default; weights the tails):
    `A^2 = -n - (1/n) sum_i (2i - 1) [log Phi(x_(i)) + log(1 - Phi(x_(n+1-i)))]`
    (`x_(i)` sorted; `scipy.special.log_ndtr`, finite in the far tails), its
    p-value from the n -> infinity law by Marsaglia & Marsaglia's `ADinf`
    [3] (absolute error below 2e-6; the finite-n correction, of order 1/n,
    is left out: a level has hundreds of values);
  * `"cramer_von_mises"`: `W^2 = n int (F_n - Phi)^2 dPhi`, statistic and
    p-value from `scipy.stats.cramervonmises`;
  * `"kolmogorov_smirnov"`: `D = sup |F_n - Phi|` (as
    `scipy.stats.ks_1samp`, vectorized over examples), its p-value from the
    exact law `scipy.stats.kstwo`;

and the `L` levels' p-values are combined by Fisher's method (the levels are
independent under the model):

    X = -2 sum_l log p_l ~ chi2_{2L},    score = -log P(chi2_{2L} > X)

(`scipy.stats.chi2.logsf`), i.e. minus the log of the combined p-value:
`>= 0`, higher = more OOD; `exp(-score)` is uniform on (0, 1) for inputs
from the model.

Far in the tails the p-values would underflow to 0 (and scipy's CvM
p-values lose their accuracy below about 1e-9), which would tie every
clearly atypical example, the in-distribution ones of an imperfect model
included. So beyond a switch point each `log p_l` continues with the
leading term of its null law's tail, matched there to the p-value it
continues (for `W^2`, scipy's at `W^2 = 2` for that `n`), so it stays
continuous and decreasing in the statistic: with `A^2` and `W^2` of the form
`sum_j lambda_j chi2_1`, `P(> t) ~ prod_{j>1} (1 - lambda_j / lambda_1)^(-1/2)
P(lambda_1 chi2_1 > t)`, i.e. `sqrt(3) P(chi2_1 > 2 t)` for `A^2`
(`lambda_j = 1 / (j (j + 1))`), used beyond `A^2 = 7` (p about 3e-4), and
`sqrt(2) P(chi2_1 > pi^2 t)` for `W^2` (`lambda_j = 1 / (j pi)^2`), beyond
`W^2 = 2` (p about 1e-5); `P(D > d) ~ 2 exp(-2 n d^2)` for `D`, beyond `p =
1e-100`.

#### Batches (`score_batches`, `batch_size = M > 1`)

`fit` (with `batch_size > 1`) draws, per level, `K_l = min(num_projections
or n_l, n_l, 2048)` orthonormal directions `u_1, ..., u_K` in `R^{n_l}` (the
QR factor of a Gaussian matrix, seeded: a random rotation when `K_l =
n_l`). For a batch of `M` examples from the model, the `M K_l` projections
`u_k . eps_l^(m)` are independent `N(0, 1)` (orthonormal directions of an
isotropic Gaussian), so they are
pooled and tested together with a KS test against `N(0, 1)`, and the levels
combined with Fisher's method as above. Projections see the joint law of a
level's latent, not only its marginal (Cramér-Wold): coordinates with the
right marginals but correlated give projections of variance
`u^T Sigma u != 1`.

#### Fit

The test's null is the model's own prior, so nothing is estimated from data
but the batch test's directions; `fit` on held-out in-distribution features
also sets `threshold`, the `alpha`-quantile of their scores (of batches of
`M`: `num_bootstrap` batches, each of `M` distinct held-out examples), so
that `is_ood` flags new in-distribution inputs at about `1 - alpha` even
when the model's latents of real data are not quite `N(0, 1)`.
`config()["heldout_rejection_rate"]` is the fraction of held-out examples
(batches) whose combined p-value is below 0.05: 0.05 for a perfect model.

#### Shapes

`Features.latents` `[N, D]` and `num_dims_per_level` `(n_1, ..., n_L)`,
`D = sum n_l`; `__call__` -> float64 `[N]`; `score_batches` -> `[N // M]`;
`log_p_values` -> `[N, L]`.

#### References
[1]: Kingma & Dhariwal. Glow. NeurIPS 2018. https://arxiv.org/abs/1807.03039
     (the split priors whose standardized latents are tested).
[2]: Stephens. EDF Statistics for Goodness of Fit and Some Comparisons.
     JASA 69 (1974): the Anderson-Darling, Cramér-von Mises and
     Kolmogorov-Smirnov statistics with a fully specified null.
[3]: Marsaglia & Marsaglia. Evaluating the Anderson-Darling Distribution.
     Journal of Statistical Software 9(2), 2004.
[4]: Fisher. Statistical Methods for Research Workers. 1925 (combining
     independent p-values).
"""

import functools

import numpy as np
from scipy import special
from scipy import stats

from glow_ood.scores import base

__all__ = ["LatentGoodnessOfFit", "TESTS", "normality_log_p_values",
           "anderson_darling_statistic", "anderson_darling_log_sf"]

TESTS = ("anderson_darling", "cramer_von_mises", "kolmogorov_smirnov")
# Where each test's log p-value continues with its null law's leading tail
# term (see the module docstring).
_AD_SWITCH = 7.
_CVM_SWITCH = 2.
_KS_SWITCH_LOG_P = -100. * np.log(10.)
# Projections per level at most (memory: K x n_l float64 per level).
_MAX_PROJECTIONS = 2048


def anderson_darling_statistic(samples):
  """`A^2` of each row of `samples` `[..., n]` against `N(0, 1)` -> `[...]`."""
  x = np.sort(np.asarray(samples, np.float64), axis=-1)
  n = x.shape[-1]
  weights = 2. * np.arange(1, n + 1) - 1.
  terms = special.log_ndtr(x) + special.log_ndtr(-x)[..., ::-1]
  return -n - np.sum(weights * terms, axis=-1) / n


def _adinf_log_sf(z):
  """log(1 - ADinf(z)), Marsaglia & Marsaglia (2004), for `z > 0`."""
  z = np.asarray(z, np.float64)
  out = np.empty_like(z)
  small = z < 2.
  s = z[small]
  cdf = np.exp(-1.2337141 / s) / np.sqrt(s) * (
      2.00012 + (.247105 - (.0649821 - (.0347962 - (
          .011672 - .00168691 * s) * s) * s) * s) * s)
  out[small] = np.log1p(-cdf)
  t = z[~small]
  exponent = 1.0776 - (2.30695 - (.43424 - (.082433 - (
      .008056 - .0003146 * t) * t) * t) * t) * t
  out[~small] = np.log(-np.expm1(-np.exp(exponent)))
  return out


def _ad_tail(z):
  """log of the leading tail term of A^2's limit law, sqrt(3) P(chi2_1 > 2z)."""
  return np.log(2. * np.sqrt(3.)) + special.log_ndtr(-np.sqrt(2. * z))


def anderson_darling_log_sf(statistic):
  """`log P(A^2 > statistic)` under the null (see the module docstring)."""
  z = np.maximum(np.asarray(statistic, np.float64), 1e-12)
  beyond = z > _AD_SWITCH
  out = _adinf_log_sf(np.minimum(z, _AD_SWITCH))
  out[beyond] += _ad_tail(z[beyond]) - _ad_tail(_AD_SWITCH)
  return out


def _cvm_tail(z):
  """log of the leading tail term of W^2's limit law, sqrt(2) P(chi2_1 > pi^2 z)."""
  return np.log(2. * np.sqrt(2.)) + special.log_ndtr(-np.pi * np.sqrt(z))


@functools.lru_cache(maxsize=None)
def _cvm_log_p_at_switch(n):
  """scipy's log p-value of `W^2 = _CVM_SWITCH` for samples of size `n`.

  From a sample built to have exactly that statistic: `u_i = c (2i - 1) /
  (2n)` gives `W^2 = (1 + (1 - c)^2 (4 n^2 - 1)) / (12 n)`.
  """
  c = 1. - np.sqrt((12. * n * _CVM_SWITCH - 1.) / (4. * n * n - 1.))
  if not 0. < c < 1.:
    raise ValueError(f"The Cramér-von Mises test needs at least 2 values per "
                     f"level; got {n}.")
  u = c * (2. * np.arange(1, n + 1) - 1.) / (2. * n)
  return float(np.log(stats.cramervonmises(special.ndtri(u), "norm").pvalue))


def _ks_statistic(samples):
  """`D = sup |F_n - Phi|` of each row `[N, n]` (`scipy.stats.ks_1samp`'s, vectorized)."""
  cdf = special.ndtr(np.sort(samples, axis=1))
  n = samples.shape[1]
  steps = np.arange(1, n + 1) / n
  return np.maximum(np.max(steps - cdf, axis=1),
                    np.max(cdf - (steps - 1. / n), axis=1))


def _ks_log_sf(statistic, n):
  """log P(D_n > statistic): exact, then `-2 n d^2` beyond p about 1e-100."""
  d = np.asarray(statistic, np.float64)
  # Where 2 exp(-2 n d^2) = 1e-100; for small n before d = 1 - 1/n, beyond
  # which the exact tail (about 2 (1 - d)^n) may underflow.
  switch = min(np.sqrt((np.log(2.) - _KS_SWITCH_LOG_P) / (2. * n)), 1. - 1. / n)
  out = stats.kstwo.logsf(np.minimum(d, switch), n)
  beyond = d > switch
  out[beyond] -= 2. * n * (d[beyond] ** 2 - switch ** 2)
  return out


def normality_log_p_values(samples, test="anderson_darling"):
  """Each row of `samples` `[N, n]` tested against `N(0, 1)`.

  Args:
    samples: `[N, n]` floats, `n >= 2`.
    test: one of `TESTS`. Default value: `"anderson_darling"`.

  Returns:
    `(statistic, log_p)`, each float64 `[N]`; `log_p` finite (see the
    module docstring for the tails).
  """
  if test not in TESTS:
    raise ValueError(f"Unknown goodness-of-fit test {test!r}; choose one of "
                     f"{TESTS}.")
  samples = np.asarray(samples, np.float64)
  n = samples.shape[1]
  if n < 2:
    raise ValueError(f"A goodness-of-fit test needs at least 2 values per "
                     f"row; got {n}.")
  if test == "anderson_darling":
    statistic = anderson_darling_statistic(samples)
    return statistic, anderson_darling_log_sf(statistic)
  if test == "cramer_von_mises":
    result = stats.cramervonmises(samples, "norm", axis=1)
    statistic = np.asarray(result.statistic, np.float64)
    with np.errstate(divide="ignore"):
      log_p = np.log(np.asarray(result.pvalue, np.float64))
    beyond = statistic > _CVM_SWITCH
    log_p[beyond] = _cvm_log_p_at_switch(n) + (
        _cvm_tail(statistic[beyond]) - _cvm_tail(_CVM_SWITCH))
    return statistic, log_p
  statistic = _ks_statistic(samples)
  return statistic, _ks_log_sf(statistic, n)


def fisher_log_p(log_p_values):
  """Fisher's combination of `[..., L]` independent log p-values -> log p `[...]`."""
  log_p_values = np.asarray(log_p_values, np.float64)
  return stats.chi2.logsf(-2. * np.sum(log_p_values, axis=-1),
                          2 * log_p_values.shape[-1])


class LatentGoodnessOfFit(base.Score):
  """`-log p`: the latents' combined goodness-of-fit p-value (see module doc).

  Args:
    test: the one-example test, one of `TESTS`. Default value:
      `"anderson_darling"`.
    batch_size: Python `int`, `M` of `score_batches` (`M > 1`: the
      random-projection KS test of the batch; `M = 1`: the one-example
      test). Default value: `1`.
    num_projections: Python `int`, projections per level for batches, or
      `None` for `n_l` (a random rotation); at most 2048. Default value:
      `None`.
    alpha: Python `float` in (0, 1), the quantile of the held-out scores
      that is `threshold`. Default value: `0.95`.
    num_bootstrap: Python `int`, held-out batches of the threshold for
      `M > 1`. Default value: `1000`.
    seed: Python `int`, seeds the directions and the batches. Default
      value: `0`.
  """
  name = "latent_goodness_of_fit"
  required_capabilities = ("decomposition",)
  required_features = ("latents", "num_dims_per_level")
  requires_fit = True

  def __init__(self, test="anderson_darling", batch_size=1,
               num_projections=None, alpha=0.95, num_bootstrap=1000, seed=0):
    super().__init__()
    if test not in TESTS:
      raise ValueError(f"LatentGoodnessOfFit: unknown test {test!r}; choose "
                       f"one of {TESTS}.")
    for what, value in (("batch_size", batch_size),
                        ("num_bootstrap", num_bootstrap),
                        ("num_projections", 1 if num_projections is None
                         else num_projections)):
      if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"LatentGoodnessOfFit: {what} must be an int >= 1; "
                         f"got {value!r}.")
    if not 0. < alpha < 1.:
      raise ValueError(f"LatentGoodnessOfFit: alpha must be in (0, 1); got "
                       f"{alpha!r}.")
    self.test = test
    self.batch_size = int(batch_size)
    self.num_projections = (None if num_projections is None
                            else int(num_projections))
    self.alpha = float(alpha)
    self.num_bootstrap = int(num_bootstrap)
    self.seed = int(seed)
    self._num_dims_per_level = None
    self._directions = None
    self._threshold = None
    self._heldout_rejection_rate = None

  def log_p_values(self, features):
    """Per-level log p-values of the one-example test, float64 `[N, L]`."""
    self._check_features(features, "log_p_values")
    return np.stack([normality_log_p_values(latents, self.test)[1]
                     for latents in features.latents_per_level()], axis=1)

  def _score(self, features):
    return -fisher_log_p(self.log_p_values(features))

  def _fit(self, features):
    dims = features.num_dims_per_level
    rng = np.random.default_rng(self.seed)
    self._num_dims_per_level = tuple(dims)
    self._directions = None
    if self.batch_size == 1:
      scores = self._score(features)
    else:
      self._directions = []
      for n in dims:
        k = min(self.num_projections or n, n, _MAX_PROJECTIONS)
        q, r = np.linalg.qr(rng.standard_normal((n, k)))
        # Signs fixed by R's diagonal: Haar-distributed directions.
        self._directions.append((q * np.sign(np.diag(r))).T)   # [k, n]
      if len(features) < self.batch_size:
        raise ValueError(
            f"LatentGoodnessOfFit.fit needs at least batch_size = "
            f"{self.batch_size} examples; got {len(features)}.")
      batches = np.stack([rng.choice(len(features), self.batch_size,
                                     replace=False)
                          for _ in range(self.num_bootstrap)])
      scores = self._batch_scores(features, batches)
    self._threshold = float(np.quantile(scores, self.alpha))
    self._heldout_rejection_rate = float(np.mean(scores > -np.log(0.05)))

  def _batch_scores(self, features, batches):
    """`-log p` of the projection KS test of each row of indices `batches` `[B, M]`."""
    log_p = []
    for latents, directions in zip(features.latents_per_level(),
                                   self._directions):
      projections = latents.astype(np.float64) @ directions.T   # [N, k]
      pooled = projections[batches].reshape(len(batches), -1)   # [B, M k]
      log_p.append(normality_log_p_values(pooled, "kolmogorov_smirnov")[1])
    return -fisher_log_p(np.stack(log_p, axis=1))

  def _require_fit(self):
    if not self.is_fitted:
      raise base.NotFittedError(
          "LatentGoodnessOfFit draws its projections and threshold in fit: "
          "call .fit(features) on held-out in-distribution Features first.")

  @property
  def threshold(self):
    """The `alpha`-quantile of the held-out scores (of batches of `batch_size`)."""
    self._require_fit()
    return self._threshold

  def score_batches(self, features, seed=None):
    """`-log p` of each batch of `M = batch_size` examples.

    `M = 1`: the one-example scores (`__call__`); `M > 1`: the
    random-projection KS test of the batch's latents.

    Args:
      features: `Features` with `latents` and `num_dims_per_level`.
      seed: `None` (default) groups consecutive examples `[0, M)`, `[M, 2M)`,
        ...; an `int` shuffles the examples with that seed first.

    Returns:
      float64 `[N // M]`; the last `N % M` examples are left out.
    """
    self._check_features(features, "score_batches")
    self._require_fit()
    if tuple(features.num_dims_per_level) != self._num_dims_per_level:
      raise ValueError(
          f"LatentGoodnessOfFit was fitted on levels of sizes "
          f"{self._num_dims_per_level}; these features have "
          f"{tuple(features.num_dims_per_level)} (another model?).")
    batches = base.batch_indices(len(features), self.batch_size, seed)
    if self.batch_size == 1:
      return self(features)[batches[:, 0]]
    return self._batch_scores(features, batches)

  def is_ood(self, features, seed=None):
    """bool `[N // M]`: batches (see `score_batches`) above `threshold`."""
    return self.score_batches(features, seed) > self.threshold

  def _config(self):
    config = {"test": self.test, "batch_size": self.batch_size,
              "num_projections": self.num_projections, "alpha": self.alpha,
              "num_bootstrap": self.num_bootstrap, "seed": self.seed}
    if self.is_fitted:
      config.update(threshold=self._threshold,
                    heldout_rejection_rate=self._heldout_rejection_rate)
      if self._directions is not None:
        config["num_projections_per_level"] = [len(d)
                                               for d in self._directions]
    return config
