"""The score test combined with the typicality test (Bergamin et al. 2022), any family.

A trained model's parameters `theta` (approximately) maximize the expected
log-likelihood of the training distribution, so the per-example gradient

    g(x) = d l(x; theta) / d theta        [P]

(`l` the log-likelihood each family is trained on, see
`density_model.differentiable_log_prob`) has mean ~0 and covariance the
Fisher information `F = E[g g^T]` for in-distribution `x`. Rao's score test
of "x was drawn from the model" uses the statistic

    s(x) = g(x)^T F^-1 g(x),

large when the model would have to move its parameters to explain `x`.
With `F` approximated by its diagonal, estimated from in-distribution
examples,

    F_jj ~= (1/n_F) sum_i g_j(x_i)^2 + lambda,   lambda = damping * mean_j(...),
    s(x) = sum_j g_j(x)^2 / F_jj,

(`lambda`, `damping = 1e-4` by default, bounds the weight `1 / F_jj` of a
parameter whose gradient is (nearly) always 0 on the Fisher examples, e.g.
a ReLU unit they never activate, to `10^4` times that of an average
parameter; parameters whose gradient is always exactly 0, e.g.
PixelCNN++'s masked kernel entries, contribute 0.) The typicality
test (Nalisnick et al. 2019) uses the likelihood itself,

    t(x) = |l(x) - mean_i l(x_i)|,

two-sided in `l`: inputs too likely (a constant image under a natural-image
model) as well as too unlikely. Both null laws are unknown, so both
p-values are empirical (`EmpiricalNull`) and the two are combined by
Fisher's method:

    X = -2 (log p_s + log p_t),   score = -log P(chi2_4 > X)

(minus the log of the combined p-value, as `LatentGoodnessOfFit`; `>= 0`,
higher = more OOD). `s` and `t` depend on each other (both on the same
`x`), so the combined p-value is not exactly uniform in-distribution; the
`threshold` of `is_ood` is calibrated on held-out scores instead.

`score_alternative="greater"` (default, the score test's) takes large `s`
as extreme; `"two-sided"` also flags too small gradients (an input at the
mode of every parameter's likelihood, e.g. a Gaussian's mean, has `s` below
its in-distribution range).

#### Fit: two disjoint halves of the held-out in-distribution examples

`fit(features)` splits `features.images` (seeded) into a Fisher half
(`fisher_fraction`) and a calibration half. The Fisher half gives `F` and
the typicality centre `mean l`; the calibration half gives the null values
of `s` and `t` (computed with that `F` and centre), so a new
in-distribution input is exchangeable with them and its p-values are
valid. One backward pass per fit example. `threshold` is the
`alpha`-quantile of the calibration half's scores (of `num_bootstrap`
batches of `batch_size` distinct calibration examples when `batch_size >
1`); their p-values are computed against their own half (including
themselves: at most `1 / (n + 1)` larger than a new example's).

#### Batches

`score_batches` combines the `2 M` p-values of a batch of `M` examples by
Fisher's method (`chi2` with `4 M` degrees of freedom).

#### Shapes and cost

`Features.images` uint8 `[N, H, W, C]` -> float64 `[N]`; `log_p_values` ->
`[N, T]` (`T = len(tests)`). One forward and one backward pass per example
(`PerExampleGradients`), at fit and at scoring; a pass's results are
remembered per image set and model weights (`PassMemo`), so scoring the
same test set again, or refitting on the same held-out images, is free.
`config()["seconds_per_example"]` is the measured time of the fit's
calibration pass (when it ran).

#### References
[1]: Bergamin, Mattei, Havtorn, Sénétaire, Schmutz, Maaløe, Hauberg &
     Frellsen. Model-agnostic out-of-distribution detection using combined
     statistical tests. AISTATS 2022. https://arxiv.org/abs/2203.01097
[2]: Rao. Large sample tests of statistical hypotheses concerning several
     parameters with applications to problems of estimation. Mathematical
     Proceedings of the Cambridge Philosophical Society 44(1), 1948.
[3]: Nalisnick, Matsukawa, Teh & Lakshminarayanan. Detecting
     Out-of-Distribution Inputs to Deep Generative Models Using Typicality.
     2019. https://arxiv.org/abs/1906.02994
"""

import hashlib

import numpy as np

from glow_ood.models import density_model
from glow_ood.scores import base
from glow_ood.scores import empirical_null
from glow_ood.scores import latent_goodness_of_fit
from glow_ood.scores import pass_memo
from glow_ood.scores import per_example_gradients

__all__ = ["GradientScoreTest", "TESTS"]

TESTS = ("score", "typicality")
_SCORE_ALTERNATIVES = ("greater", "two-sided")


def variables_config(variables):
  """A JSON-ready description of a `variables` selection."""
  if variables is None or isinstance(variables, (int, str)):
    return variables
  raise TypeError(f"variables must be None, an int (the last K layers) or a "
                  f"str (a regular expression); got {variables!r}.")


class GradientScoreTest(base.Score):
  """`-log p` of the score test combined with typicality (see module doc).

  Args:
    model: an initialized density model of any family.
    variables: the parameters tested, `None` (all), an `int` `K` (the last
      `K` layers) or a regular expression (`PerExampleGradients`). Default
      value: `None`.
    tests: the tests combined, a non-empty subset of `("score",
      "typicality")`, in that order. Default value: both.
    score_alternative: `"greater"` or `"two-sided"` (the score statistic's
      extreme values). Default value: `"greater"`.
    fisher_fraction: Python `float` in (0, 1), the fit examples that
      estimate `F` and the typicality centre; the rest calibrate. Default
      value: `0.5`.
    damping: Python `float >= 0`, `lambda` relative to the mean of the
      diagonal. Default value: `1e-4`.
    num_samples: `S` of the VAE's ELBO. Default value: `1`.
    batch_size: Python `int`, `M` of `score_batches`. Default value: `1`.
    alpha: Python `float` in (0, 1), the quantile of held-out scores that is
      `threshold`. Default value: `0.95`.
    num_bootstrap: Python `int`, calibration batches of the threshold for
      `M > 1`. Default value: `1000`.
    tail_fraction: `EmpiricalNull`'s. Default value: `0.02`.
    seed: Python `int`, seeds the split, the ELBO's draws and the batches.
      Default value: `0`.
    memo: a `PassMemo` of `model` shared with other scores of the same
      model (e.g. this score at another `batch_size`, as the OOD benchmark's
      rows): the passes' keys hold every setting they depend on, so sharing
      never mixes results. Default value: a new one.
  """
  name = "gradient_score_test"
  required_features = ("images",)
  requires_model = True
  requires_fit = True

  def __init__(self, model, variables=None, tests=TESTS,
               score_alternative="greater", fisher_fraction=0.5, damping=1e-4,
               num_samples=1, batch_size=1, alpha=0.95, num_bootstrap=1000,
               tail_fraction=0.02, seed=0, memo=None):
    super().__init__()
    tests = tuple(tests)
    if not tests or any(t not in TESTS for t in tests) or len(
        set(tests)) != len(tests):
      raise ValueError(f"GradientScoreTest: tests must be a non-empty subset "
                       f"of {TESTS}; got {tests!r}.")
    if score_alternative not in _SCORE_ALTERNATIVES:
      raise ValueError(f"GradientScoreTest: score_alternative must be one of "
                       f"{_SCORE_ALTERNATIVES}; got {score_alternative!r}.")
    for what, value in (("fisher_fraction", fisher_fraction),
                        ("alpha", alpha), ("tail_fraction", tail_fraction)):
      if not 0. < value < 1.:
        raise ValueError(f"GradientScoreTest: {what} must be in (0, 1); got "
                         f"{value!r}.")
    if not damping >= 0.:
      raise ValueError(f"GradientScoreTest: damping must be >= 0; got "
                       f"{damping!r}.")
    self.variables = variables_config(variables)
    self.tests = tests
    self.score_alternative = score_alternative
    self.fisher_fraction = float(fisher_fraction)
    self.damping = float(damping)
    self.num_samples = density_model.check_count(
        num_samples, "num_samples", "GradientScoreTest", minimum=1)
    self.batch_size = density_model.check_count(
        batch_size, "batch_size", "GradientScoreTest", minimum=1)
    self.alpha = float(alpha)
    self.num_bootstrap = density_model.check_count(
        num_bootstrap, "num_bootstrap", "GradientScoreTest", minimum=1)
    self.tail_fraction = float(tail_fraction)
    self.seed = int(seed)
    self._gradients = per_example_gradients.PerExampleGradients(
        model, variables, num_samples, seed=(self.seed, 0))
    self._memo = pass_memo.shared_or_new(memo, model)
    # What a pass depends on besides the images and weights.
    self._pass_key = (self.name, self.variables, self.num_samples, self.seed)
    self._fitted_state = None

  @property
  def gradients(self):
    """The `PerExampleGradients` of the tested variables."""
    return self._gradients

  def _statistics(self, images):
    """`(s, t)` of uint8 images, each float64 `[N]` (fitted `F` and centre)."""
    state = self._fitted_state
    result = self._memo.get(
        images, lambda x: self._gradients.run(x, weights=state["weights"]),
        extra_key=(self._pass_key, state["token"]))
    return result.weighted, np.abs(result.log_prob - state["centre"])

  def _log_p(self, s, t):
    columns = {"score": lambda: self._score_null.log_p(
        s, self.score_alternative),
               "typicality": lambda: self._typicality_null.log_p(t)}
    return np.stack([columns[name]() for name in self.tests], axis=1)

  def _fit(self, features):
    images = features.images
    n = len(images)
    num_fisher = int(round(self.fisher_fraction * n))
    if num_fisher < 2 or n - num_fisher < 10:
      raise ValueError(
          f"GradientScoreTest.fit needs at least 2 examples to estimate the "
          f"Fisher information and 10 to calibrate; {n} held-out examples "
          f"with fisher_fraction={self.fisher_fraction} give {num_fisher} "
          f"and {n - num_fisher}.")
    order = np.random.default_rng(self.seed).permutation(n)
    fisher_images = images[np.sort(order[:num_fisher])]
    calibration_images = images[np.sort(order[num_fisher:])]
    # Remembered, as the calibration pass: a benchmark that refits the
    # score on the same held-out images (once per OOD pair) runs neither
    # again.
    fisher_pass = self._memo.get(
        fisher_images, lambda x: self._gradients.run(x, accumulate=True),
        extra_key=(self._pass_key, "fisher"))
    diagonal = [total / num_fisher for total in fisher_pass.sum_of_squares]
    mean = float(np.sum([d.sum() for d in diagonal]) /
                 self._gradients.num_parameters)
    if not mean > 0.:
      raise ValueError("GradientScoreTest.fit: every gradient is zero on the "
                       "held-out examples; nothing to test.")
    damping = self.damping * mean
    weights = [1. / (d + damping) for d in diagonal]
    token = hashlib.sha1()
    for w in weights:
      token.update(np.ascontiguousarray(w).tobytes())
    self._fitted_state = {
        "weights": weights,
        "centre": float(np.mean(fisher_pass.log_prob)),
        # Identifies the weights in the memo's keys: the same fit twice
        # gives the same token.
        "token": token.hexdigest(),
    }
    calibration = self._memo.get(
        calibration_images,
        lambda x: self._gradients.run(x, weights=weights),
        extra_key=(self._pass_key, self._fitted_state["token"]))
    s = calibration.weighted
    t = np.abs(calibration.log_prob - self._fitted_state["centre"])
    self._score_null = empirical_null.EmpiricalNull(s, self.tail_fraction)
    self._typicality_null = empirical_null.EmpiricalNull(t, self.tail_fraction)
    log_p = self._log_p(s, t)                                 # [n_C, T]
    if self.batch_size == 1:
      scores = -latent_goodness_of_fit.fisher_log_p(log_p)
    else:
      if len(log_p) < self.batch_size:
        raise ValueError(
            f"GradientScoreTest.fit: the calibration half has {len(log_p)} "
            f"examples, fewer than batch_size = {self.batch_size}.")
      rng = np.random.default_rng(self.seed)
      batches = np.stack([rng.choice(len(log_p), self.batch_size,
                                     replace=False)
                          for _ in range(self.num_bootstrap)])
      scores = -latent_goodness_of_fit.fisher_log_p(
          log_p[batches].reshape(len(batches), -1))
    self._summary = {
        "num_parameters": self._gradients.num_parameters,
        "num_layers": len(self._gradients.layers),
        "num_fisher_examples": num_fisher,
        "num_calibration_examples": n - num_fisher,
        "typicality_centre": self._fitted_state["centre"],
        # s / P: about 1 when the gradients have mean 0 and F is their
        # second moment.
        "score_statistic_mean_per_parameter": float(
            np.mean(s) / self._gradients.num_parameters),
        "threshold": float(np.quantile(scores, self.alpha)),
        "heldout_rejection_rate": float(np.mean(scores > -np.log(0.05))),
        "seconds_per_example": calibration.seconds_per_example,
    }

  def log_p_values(self, features):
    """Per-example log p-values of `tests`, float64 `[N, T]`."""
    self._check_features(features, "log_p_values")
    self._require_fit()
    return self._log_p(*self._statistics(features.images))

  def _score(self, features):
    return -latent_goodness_of_fit.fisher_log_p(self.log_p_values(features))

  def _require_fit(self):
    if not self.is_fitted:
      raise base.NotFittedError(
          "GradientScoreTest estimates the Fisher information and its null "
          "laws in fit: call .fit(features) on held-out in-distribution "
          "Features (with images) first.")

  @property
  def threshold(self):
    """The `alpha`-quantile of the calibration scores (of batches of `batch_size`)."""
    self._require_fit()
    return self._summary["threshold"]

  def score_batches(self, features, seed=None):
    """`-log p` of each batch of `M = batch_size` examples (Fisher over `T M` p-values).

    Args:
      features: `Features` with `images`.
      seed: `None` (default) groups consecutive examples `[0, M)`, `[M, 2M)`,
        ...; an `int` shuffles the examples with that seed first.

    Returns:
      float64 `[N // M]`; the last `N % M` examples are left out.
    """
    log_p = self.log_p_values(features)
    batches = base.batch_indices(len(log_p), self.batch_size, seed)
    return -latent_goodness_of_fit.fisher_log_p(
        log_p[batches].reshape(len(batches), -1))

  def is_ood(self, features, seed=None):
    """bool `[N // M]`: batches (see `score_batches`) above `threshold`."""
    return self.score_batches(features, seed) > self.threshold

  def _config(self):
    config = {"variables": self.variables, "tests": list(self.tests),
              "score_alternative": self.score_alternative,
              "fisher_fraction": self.fisher_fraction,
              "damping": self.damping, "num_samples": self.num_samples,
              "batch_size": self.batch_size, "alpha": self.alpha,
              "num_bootstrap": self.num_bootstrap,
              "tail_fraction": self.tail_fraction, "seed": self.seed}
    if self.is_fitted:
      config.update(self._summary)
    return config
