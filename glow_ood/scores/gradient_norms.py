"""Layer-wise gradient norms scored by a fitted density (Dauncey et al. 2024), any family.

With `g_k(x) = d l(x; theta) / d theta_k` the gradient of the per-example
log-likelihood (`density_model.differentiable_log_prob`) in the weights of
layer `k` (`PerExampleGradients`: a layer is the variables of one name
scope, in forward order), the features of `x` are

    f_k(x) = log |g_k(x)|_2,        k = 1..K,

one per layer. Dauncey et al. motivate them as a block-diagonal
approximation of the Fisher information metric `g^T F^-1 g`: the Fisher
matrix's mass sits on its diagonal blocks (layers), each block's `|g_k|^2`
is roughly a scaled chi-square, and its log is close to Gaussian; the
layers' log-norms are only weakly correlated, so each adds information. An
input the model has not seen makes it want to move some layers more than
in-distribution inputs do (or, less often, less: e.g. inputs at a
likelihood maximum), so `f(x)` falls outside the fit set's cloud.

The density of `f` on held-out in-distribution examples is estimated with
DoSE's estimators (`glow_ood.scores.DoSE` on `Features(statistics={layer:
f_k})`): `estimator="kde"` (default) sums one Gaussian KDE per feature on
the standardized log-norms, `"svm"` fits a one-class SVM to them whitened;
the score is minus the log density (two-sided by construction). DoSE also
calibrates `threshold` (out-of-fold quantile) and scores batches
(`score_batches`: the mean of `M` scores). Layers whose gradient is
constant on the fit set (e.g. always 0) are dropped (`config()["dropped"]`).

#### Shapes and cost

`Features.images` uint8 `[N, H, W, C]` -> float64 `[N]`; `log_norms(images)` ->
`{layer: [N]}`. One forward and one backward pass per example, at fit (all
held-out examples) and at scoring; results are remembered per image set and
model weights (`PassMemo`). `variables` restricts the layers (`None`: all;
`K`: the last `K`; a regular expression). `config()["seconds_per_example"]`
is the measured time of the fit's pass.

#### References
[1]: Dauncey, Holmes, Williams & Falck. Approximations to the Fisher
     Information Metric of Deep Generative Models for Out-Of-Distribution
     Detection. 2024. https://arxiv.org/abs/2403.01485
[2]: Morningstar et al. Density of States Estimation for Out-of-Distribution
     Detection. AISTATS 2021. https://arxiv.org/abs/2006.09273 (the
     estimators).
"""

import numpy as np

from glow_ood.models import density_model
from glow_ood.scores import base
from glow_ood.scores import dose
from glow_ood.scores import features as features_lib
from glow_ood.scores import gradient_score
from glow_ood.scores import pass_memo
from glow_ood.scores import per_example_gradients

__all__ = ["GradientNorms"]

# Squared norms below this are floored before the log (an exactly zero
# gradient, e.g. a layer the input does not reach), keeping features finite.
_MIN_SQUARED_NORM = 1e-300


class GradientNorms(base.Score):
  """`-log density` of the layer-wise log gradient norms (see module doc).

  Args:
    model: an initialized density model of any family.
    variables: `None` (every layer), an `int` `K` (the last `K` layers) or a
      regular expression (`PerExampleGradients`). Default value: `None`.
    estimator: DoSE's `"kde"` or `"svm"`. Default value: `"kde"`.
    num_samples: `S` of the VAE's ELBO. Default value: `1`.
    batch_size: Python `int`, `M` of `score_batches`. Default value: `1`.
    alpha: Python `float` in (0, 1), the threshold's quantile. Default
      value: `0.95`.
    num_folds: Python `int >= 2`, DoSE's calibration folds. Default value:
      `5`.
    num_bootstrap: Python `int`, DoSE's bootstrap batches for `M > 1`.
      Default value: `1000`.
    seed: Python `int`, seeds the ELBO's draws, the folds and the batches.
      Default value: `0`.
    memo: a `PassMemo` of `model` shared with other scores of the same
      model (`GradientScoreTest`'s). Default value: a new one.
  """
  name = "gradient_norms"
  required_features = ("images",)
  requires_model = True
  requires_fit = True

  def __init__(self, model, variables=None, estimator="kde", num_samples=1,
               batch_size=1, alpha=0.95, num_folds=5, num_bootstrap=1000,
               seed=0, memo=None):
    super().__init__()
    self.variables = gradient_score.variables_config(variables)
    self.num_samples = density_model.check_count(
        num_samples, "num_samples", "GradientNorms", minimum=1)
    self.seed = int(seed)
    # Validates the estimator's settings now, before any gradient.
    self._dose = dose.DoSE(estimator, compressor=None, batch_size=batch_size,
                           alpha=alpha, num_folds=num_folds,
                           num_bootstrap=num_bootstrap, seed=seed)
    self._gradients = per_example_gradients.PerExampleGradients(
        model, variables, num_samples, seed=(self.seed, 0))
    self._memo = pass_memo.shared_or_new(memo, model)
    self._pass_key = (self.name, self.variables, self.num_samples, self.seed)
    self._seconds_per_example = None

  @property
  def gradients(self):
    """The `PerExampleGradients` of the scored layers."""
    return self._gradients

  @property
  def batch_size(self):
    return self._dose.batch_size

  def _pass(self, images):
    """`(GradientPass, {layer: log norm [N]})` of uint8 images (remembered)."""
    result = self._memo.get(images, self._gradients.run,
                            extra_key=self._pass_key)
    squared = self._gradients.layer_squared_norms(result.squared_norms)
    log_norms = 0.5 * np.log(np.maximum(squared, _MIN_SQUARED_NORM))
    return result, {name: log_norms[:, k]
                    for k, name in enumerate(self._gradients.layers)}

  def log_norms(self, images):
    """`{layer: log |g_layer(x)|_2}` of uint8 images `[N, H, W, C]`, float64 `[N]` each."""
    return self._pass(images)[1]

  def _statistics(self, features):
    return features_lib.Features(statistics=self.log_norms(features.images))

  def _fit(self, features):
    result, statistics = self._pass(features.images)
    self._seconds_per_example = result.seconds_per_example
    self._dose.fit(features_lib.Features(statistics=statistics))

  def _score(self, features):
    return self._dose(self._statistics(features))

  @property
  def threshold(self):
    """DoSE's calibrated threshold for batches of `batch_size`."""
    self._require_fit()
    return self._dose.threshold

  def _require_fit(self):
    if not self.is_fitted:
      raise base.NotFittedError(
          "GradientNorms fits the density of the gradient norms in fit: call "
          ".fit(features) on held-out in-distribution Features (with images) "
          "first.")

  def score_batches(self, features, seed=None):
    """The mean score of each batch of `M = batch_size` examples (`DoSE.score_batches`)."""
    self._check_features(features, "score_batches")
    self._require_fit()
    return self._dose.score_batches(self._statistics(features), seed)

  def is_ood(self, features, seed=None):
    """bool `[N // M]`: batches (see `score_batches`) above `threshold`."""
    return self.score_batches(features, seed) > self.threshold

  def _config(self):
    estimator = self._dose.config()
    config = {"variables": self.variables,
              "estimator": estimator["estimator"],
              "num_samples": self.num_samples,
              "batch_size": estimator["batch_size"],
              "alpha": estimator["alpha"],
              "num_folds": estimator["num_folds"],
              "num_bootstrap": estimator["num_bootstrap"], "seed": self.seed}
    if self.is_fitted:
      config.update(
          num_parameters=self._gradients.num_parameters,
          layers=list(self._gradients.layers),
          used=estimator["used"], dropped=estimator["dropped"],
          threshold=estimator["threshold"],
          seconds_per_example=self._seconds_per_example)
    return config
