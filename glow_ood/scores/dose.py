"""DoSE: the density of a model's per-example statistics (Morningstar et al. 2021).

A model's likelihood is one statistic of an input; DoSE ("density of
states") does not ask whether `log p(x)` is high but whether it, and every
other statistic `T_j(x)` the model computes, is *typical*: how often the
in-distribution data give that value. With `T(x) = (T_1(x), ..., T_S(x))`
and the held-out in-distribution statistics `T(x_1), ..., T(x_n)`:

  * `estimator="kde"` (DoSE_KDE): one Gaussian kernel density estimate per
    statistic on the standardized values `t_j = (T_j - m_j) / s_j` (fit-set
    mean and standard deviation) and the score

        S(x) = -sum_j log KDE_j(t_j(x)),
        KDE_j(t) = (1/n) sum_i N(t; t_j(x_i), h^2),  h = (3n / 4)^(-1/5)

    (scikit-learn's `KernelDensity(bandwidth="silverman")` for one
    dimension: the normal-reference rule `1.06 s n^(-1/5)` in the
    statistic's own units; its tree sums to a relative tolerance of 1e-8).
    The statistics are treated as independent, as in DoSE_KDE.
  * `estimator="svm"` (DoSE_SVM): the standardized statistics are whitened
    (PCA, `w = Lambda^(-1/2) V^T (t - mean)`, dropping the principal axes with
    variance below `1e-10` of the largest: e.g. log p(x) is the sum of a
    Glow's level terms plus a constant, an exact linear dependence), and a
    one-class SVM (`sklearn.svm.OneClassSVM`, RBF kernel `K(w, w') =
    exp(-gamma |w - w'|^2)`, `nu = 0.5`, `gamma = 1 / k` for `k` whitened
    dimensions, which is scikit-learn's `gamma="scale"` on whitened data) is
    fitted to them. Its decision function is `f(w) = sum_i a_i K(w, w_i) -
    rho` with `0 <= a_i <= 1`, `sum_i a_i = nu n` (libsvm's scaling), and

        S(x) = -f(w(x)) / (nu n),

    a weighted mean of kernels minus an offset, so that estimators fitted
    on different numbers of points (the calibration folds below) give
    comparable scores. With `nu = 0.5` at least half of the fit points are
    support vectors: `f` is a smooth, density-like average that also ranks
    points inside the support, where a small `nu` leaves it flat (a
    boundary drawn by a few points).

Both are two-sided by construction: a statistic far from the fit set's
values in *either* direction (a likelihood too high as well as too low, as
for SVHN under a CIFAR-10 model) has a low density and a high score. A
statistic constant on the fit set (a Glow's log|det| with additive
couplings) carries no information about typicality and is dropped (listed in
`config()["dropped"]`).

#### The statistics (`statistics_of`)

Every one `Features` provides, float64 `[N]` each, in this order:

  log_prob                  `discrete_log_prob` (nats; a VAE's IWAE estimate)
  level_<l>/log_prob_z      `log_prob_z_per_level[:, l - 1]` (l = 1..L)
  level_<l>/log_det         `log_det_per_level[:, l - 1]`
  level_<l>/latent_norm     `|eps_l|_2` of the level's standardized latents
                            (`latents`, split by `num_dims_per_level`)
  compressed_bits           `compressed_bits(images, compressor)`
  <name>                    each entry of `Features.statistics`: the
                            model's own (VAE: rate, distortion,
                            posterior_entropy; PixelCNN++: the per-pixel
                            NLL's spread and quantiles)

`DoSE(statistics=None)` uses every one the fit set has; a tuple of names
picks some. The features scored later must provide the same ones.

#### Thresholds and batches

`fit` also calibrates a threshold: with the fit set split into `num_folds`
folds (`sklearn.model_selection.KFold`, shuffled with `seed`), each fold is
scored by the estimator fitted on the others, and `threshold` is the
`alpha`-quantile of these out-of-fold scores (of the means of
`num_bootstrap` batches of `batch_size` out-of-fold scores, drawn with
replacement, when `batch_size > 1`). In-sample scores would be too low (a KDE
puts mass on its own points), hence a threshold too low and an
in-distribution flag rate above `1 - alpha`; out-of-fold estimators, fitted on
`(num_folds - 1) / num_folds` of the data, err slightly the other way.
`score_batches` scores a batch of `M = batch_size` examples by the mean of
their scores (for the KDE: the batch's joint negative log density over `M`,
the examples being independent) and `is_ood` compares it with `threshold`.

#### References
[1]: Morningstar, Ham, Gallagher, Lakshminarayanan, Alemi, Dillon. Density
     of States Estimation for Out-of-Distribution Detection. AISTATS 2021.
     https://arxiv.org/abs/2006.09273
[2]: Silverman. Density Estimation for Statistics and Data Analysis.
     Chapman & Hall 1986 (the normal-reference bandwidth, eq. 3.28).
"""

import numpy as np
from sklearn import decomposition
from sklearn import model_selection
from sklearn import neighbors
from sklearn import svm

from glow_ood.scores import base
from glow_ood.scores import input_complexity

__all__ = ["DoSE", "ESTIMATORS", "statistics_of"]

ESTIMATORS = ("kde", "svm")
# Principal axes of the standardized statistics with less variance than this
# fraction of the largest are linear dependences, left out of the whitening.
_MIN_RELATIVE_VARIANCE = 1e-10
# Relative tolerance of scikit-learn's tree-based KDE sums (3x faster than
# exact sums, log densities within 1e-8 of them).
_KDE_RTOL = 1e-8


def statistics_of(features, compressor="png"):
  """Every DoSE statistic `features` provides: `{name: float64 [N]}`, ordered.

  See the module docstring for the names. Per-level names count levels from
  1 (finest) to L (coarsest), as the benchmark's rows.

  Args:
    features: `Features`.
    compressor: the `compressed_bits` compressor of the `compressed_bits`
      statistic (`"png"` or `"zlib"`), or `None` to leave it out. Needs
      `features.images`. Default value: `"png"`.

  Raises:
    ValueError: an entry of `features.statistics` has a built-in's name.
  """
  out = {}
  if features.discrete_log_prob is not None:
    out["log_prob"] = features.discrete_log_prob
  for field, suffix in (("log_prob_z_per_level", "log_prob_z"),
                        ("log_det_per_level", "log_det")):
    values = getattr(features, field)
    if values is not None:
      for level in range(values.shape[1]):
        out[f"level_{level + 1}/{suffix}"] = values[:, level]
  if not features.missing(("latents", "num_dims_per_level")):
    for level, latents in enumerate(features.latents_per_level()):
      out[f"level_{level + 1}/latent_norm"] = np.linalg.norm(
          latents.astype(np.float64), axis=1)
  if compressor is not None and features.images is not None:
    out["compressed_bits"] = input_complexity.compressed_bits(
        features.images, compressor)
  for name, values in (features.statistics or {}).items():
    if name in out:
      raise ValueError(f"Features.statistics has an entry {name!r}, the name "
                       "of a statistic DoSE computes itself; rename it.")
    out[name] = values
  return out


class _Estimator:
  """Standardization and the density estimate of one fit: `[n, S] -> score [n]`."""

  def __init__(self, estimator, nu, gamma):
    self._estimator = estimator
    self._nu = nu
    self._gamma = gamma

  def fit(self, values):
    self.mean = values.mean(axis=0)
    self.std = values.std(axis=0)
    standardized = (values - self.mean) / self.std
    if self._estimator == "kde":
      self.kdes = [neighbors.KernelDensity(
          kernel="gaussian", bandwidth="silverman", rtol=_KDE_RTOL).fit(column)
                   for column in standardized.T[:, :, np.newaxis]]
      self.bandwidth = float(self.kdes[0].bandwidth_)
      return self
    variances = decomposition.PCA(svd_solver="full").fit(
        standardized).explained_variance_
    self.num_components = int(np.sum(
        variances > _MIN_RELATIVE_VARIANCE * variances[0]))
    self.whitening = decomposition.PCA(
        n_components=self.num_components, whiten=True,
        svd_solver="full").fit(standardized)
    self.gamma_value = float(1. / self.num_components if self._gamma is None
                             else self._gamma)
    self.svm = svm.OneClassSVM(kernel="rbf", nu=self._nu,
                               gamma=self.gamma_value).fit(
                                   self.whitening.transform(standardized))
    self.svm_scale = self._nu * len(values)   # sum_i a_i
    return self

  def score(self, values):
    standardized = (values - self.mean) / self.std
    if self._estimator == "kde":
      return -sum(kde.score_samples(column) for kde, column in
                  zip(self.kdes, standardized.T[:, :, np.newaxis]))
    return -self.svm.decision_function(
        self.whitening.transform(standardized)) / self.svm_scale


class DoSE(base.Score):
  """`S(x)`: minus the density of the model's statistics of `x` (see module doc).

  Args:
    estimator: `"kde"` (one KDE per statistic, summed log densities) or
      `"svm"` (a one-class SVM on the whitened statistics). Default value:
      `"kde"`.
    statistics: `None` (every statistic the fit set provides) or a tuple of
      names (`statistics_of`). Default value: `None`.
    compressor: compressor of the `compressed_bits` statistic (`"png"`,
      `"zlib"`) or `None` (left out). Default value: `"png"`.
    batch_size: Python `int`, `M` of `score_batches`. Default value: `1`.
    alpha: Python `float` in (0, 1), the quantile of the out-of-fold
      in-distribution scores that is the threshold (an in-distribution
      example, or batch, is flagged with probability about `1 - alpha`).
      Default value: `0.95`.
    num_folds: Python `int >= 2`, folds of the threshold's calibration.
      Default value: `5`.
    num_bootstrap: Python `int`, bootstrap batches of the threshold for
      `batch_size > 1`. Default value: `1000`.
    nu: the one-class SVM's `nu` in (0, 1] (an upper bound on the fraction
      of fit points outside its boundary, a lower bound on the fraction of
      support vectors). Default value: `0.5`.
    gamma: the SVM's RBF `gamma`, or `None` for `1 / k` (`k` whitened
      dimensions). Default value: `None`.
    seed: Python `int`, seeds the folds and the bootstrap. Default value: `0`.

  #### References
  [1]: Morningstar et al. Density of States Estimation for
       Out-of-Distribution Detection. AISTATS 2021.
       https://arxiv.org/abs/2006.09273
  """
  name = "dose"
  requires_fit = True

  def __init__(self, estimator="kde", statistics=None, compressor="png",
               batch_size=1, alpha=0.95, num_folds=5, num_bootstrap=1000,
               nu=0.5, gamma=None, seed=0):
    super().__init__()
    if estimator not in ESTIMATORS:
      raise ValueError(f"DoSE: unknown estimator {estimator!r}; choose one of "
                       f"{ESTIMATORS}.")
    if compressor not in input_complexity.COMPRESSORS + (None,):
      raise ValueError(f"DoSE: unknown compressor {compressor!r}; choose one "
                       f"of {input_complexity.COMPRESSORS} or None.")
    for what, value, minimum in (("batch_size", batch_size, 1),
                                 ("num_folds", num_folds, 2),
                                 ("num_bootstrap", num_bootstrap, 1)):
      if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"DoSE: {what} must be an int >= {minimum}; got "
                         f"{value!r}.")
    if not 0. < alpha < 1.:
      raise ValueError(f"DoSE: alpha must be in (0, 1); got {alpha!r}.")
    if not 0. < nu <= 1.:
      raise ValueError(f"DoSE: nu must be in (0, 1]; got {nu!r}.")
    if gamma is not None and not gamma > 0.:
      raise ValueError(f"DoSE: gamma must be > 0 or None; got {gamma!r}.")
    self.estimator = estimator
    self.statistics = None if statistics is None else tuple(statistics)
    self.compressor = compressor
    self.batch_size = int(batch_size)
    self.alpha = float(alpha)
    self.num_folds = int(num_folds)
    self.num_bootstrap = int(num_bootstrap)
    self.nu = float(nu)
    self.gamma = None if gamma is None else float(gamma)
    self.seed = int(seed)
    self._names = None
    self._dropped = None
    self._model = None
    self._threshold = None

  def _values(self, features, names, what):
    """`[N, S]` of the statistics `names`; a clear error if one is missing."""
    # Compress the images only if their length is used.
    available = statistics_of(
        features, self.compressor if "compressed_bits" in names else None)
    missing = [name for name in names if name not in available]
    if missing:
      raise ValueError(
          f"DoSE.{what}: the features lack the statistic(s) "
          f"{', '.join(missing)} (they provide: "
          f"{', '.join(available) or 'none'}). Compute the same Features "
          "fields (latents, images, statistics, per-level terms) for every "
          "set.")
    return np.stack([available[name] for name in names], axis=1)

  def _fit(self, features):
    if self.statistics is None:
      available = statistics_of(features, self.compressor)
      if not available:
        raise ValueError(
            "DoSE.fit: the features hold no statistic; give Features with "
            "discrete_log_prob, per-level terms, latents, images or "
            "statistics.")
      names = list(available)
      values = np.stack(list(available.values()), axis=1)
    else:
      names = list(self.statistics)
      values = self._values(features, names, "fit")
    if len(values) < 2 * self.num_folds:
      raise ValueError(f"DoSE.fit needs at least {2 * self.num_folds} "
                       f"examples (num_folds={self.num_folds}); got "
                       f"{len(values)}.")
    std, mean = values.std(axis=0), np.abs(values.mean(axis=0))
    constant = std <= 1e-12 * np.maximum(mean, 1.)
    self._dropped = [n for n, c in zip(names, constant) if c]
    self._names = [n for n, c in zip(names, constant) if not c]
    if not self._names:
      raise ValueError(
          "DoSE.fit: every statistic is constant on the fit set "
          f"({', '.join(names) or 'none given'}); give Features with "
          "per-example statistics that vary.")
    values = values[:, ~constant]
    self._model = _Estimator(self.estimator, self.nu, self.gamma).fit(values)
    out_of_fold = np.empty(len(values))
    folds = model_selection.KFold(self.num_folds, shuffle=True,
                                  random_state=self.seed)
    for train, held_out in folds.split(values):
      out_of_fold[held_out] = _Estimator(
          self.estimator, self.nu, self.gamma).fit(values[train]).score(
              values[held_out])
    if self.batch_size > 1:
      rng = np.random.default_rng(self.seed)
      batches = rng.integers(0, len(values),
                             (self.num_bootstrap, self.batch_size))
      out_of_fold = out_of_fold[batches].mean(axis=1)
    self._threshold = float(np.quantile(out_of_fold, self.alpha))

  def _score(self, features):
    return self._model.score(self._values(features, self._names, "__call__"))

  def _require_fit(self):
    if not self.is_fitted:
      raise base.NotFittedError(
          "DoSE is estimated from in-distribution data: call .fit(features) "
          "on held-out in-distribution Features first.")

  @property
  def threshold(self):
    """The calibrated threshold of `is_ood` for batches of `batch_size`."""
    self._require_fit()
    return self._threshold

  @property
  def statistic_names(self):
    """The statistics the fitted estimator uses, in order (after `fit`)."""
    self._require_fit()
    return tuple(self._names)

  def score_batches(self, features, seed=None):
    """The mean score of each batch of `M = batch_size` examples.

    Args:
      features: `Features` of `N` examples.
      seed: `None` (default) groups consecutive examples `[0, M)`, `[M, 2M)`,
        ...; an `int` shuffles the examples with that seed first.

    Returns:
      float64 `[N // M]`; the last `N % M` examples are left out.
    """
    return base.batch_means(self(features), self.batch_size, seed)

  def is_ood(self, features, seed=None):
    """bool `[N // M]`: batches (see `score_batches`) above `threshold`."""
    return self.score_batches(features, seed) > self.threshold

  def _config(self):
    config = {"estimator": self.estimator,
              "statistics": (None if self.statistics is None
                             else list(self.statistics)),
              "compressor": self.compressor, "batch_size": self.batch_size,
              "alpha": self.alpha, "num_folds": self.num_folds,
              "num_bootstrap": self.num_bootstrap, "seed": self.seed}
    if self.estimator == "svm":
      config.update(nu=self.nu, gamma=self.gamma)
    if self.is_fitted:
      config.update(used=list(self._names), dropped=list(self._dropped),
                    threshold=self._threshold)
      if self.estimator == "kde":
        config["bandwidth"] = self._model.bandwidth
      else:
        config.update(num_components=self._model.num_components,
                      gamma_value=self._model.gamma_value)
    return config
