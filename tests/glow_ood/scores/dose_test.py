"""Tests of `glow_ood.scores.DoSE` on statistics with a known law.

The "model" computes three statistics per example, on different scales and
two of them correlated, as a model's are:

    a = 100 + 10 u,   b = -5 + 0.1 (u + v),   c = w,    u, v, w ~ N(0, 1).

Held-out in-distribution sets fit the score; an independent in-distribution
set must not be detected (AUROC near 0.5; under the null, the AUROC of two
sets of 2000 has standard deviation sqrt(4001 / (12 * 2000^2)) = 0.009), and
sets with one statistic too large *or* too small must be.
"""

import json

import numpy as np
import pytest

from glow_ood import metrics
from glow_ood import scores

ESTIMATORS = ("kde", "svm")


def statistic_features(num_examples, seed, shift=0., scale=1.):
  """Features whose `a` is shifted by `shift` standard deviations of u, scaled by `scale`."""
  u, v, w = np.random.default_rng(seed).normal(size=(3, num_examples))
  u = u * scale + shift
  return scores.Features(statistics={
      "a": 100. + 10. * u, "b": -5. + 0.1 * (u + v), "c": w})


@pytest.fixture(scope="module")
def heldout():
  return statistic_features(2000, seed=0)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_an_independent_in_distribution_set_is_not_detected(heldout,
                                                            estimator):
  score = scores.DoSE(estimator, alpha=0.9).fit(heldout)
  test = statistic_features(2000, seed=1)
  # 4.4 null standard deviations either side of 0.5.
  other = statistic_features(2000, seed=2)
  assert 0.46 < metrics.auroc(score(other), score(test)) < 0.54
  # The calibrated threshold flags about 1 - alpha = 10% of new
  # in-distribution examples: binomial sd 0.007 for 2000 examples, plus the
  # threshold's own error (a quantile of 2000 out-of-fold scores, sd 0.007).
  assert 0.065 < score.is_ood(test).mean() < 0.135


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("shift", [3., -3.])
def test_a_statistic_too_large_or_too_small_is_detected(heldout, estimator,
                                                        shift):
  score = scores.DoSE(estimator).fit(heldout)
  test = statistic_features(1000, seed=3)
  out = statistic_features(1000, seed=4, shift=shift)
  # A shift of 3 sd in one of three statistics: the best one-dimensional
  # test reaches Phi(3 / sqrt(2)) = 0.983.
  assert metrics.auroc(score(test), score(out)) > 0.9
  # A one-sided score (the statistic itself) detects one direction only.
  one_sided = metrics.auroc(test.statistics["a"], out.statistics["a"])
  assert one_sided > 0.95 if shift > 0 else one_sided < 0.05


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_too_wide_a_spread_is_detected(heldout, estimator):
  score = scores.DoSE(estimator).fit(heldout)
  out = statistic_features(1000, seed=5, scale=3.)
  assert metrics.auroc(score(statistic_features(1000, seed=6)),
                       score(out)) > 0.75


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_batches_detect_a_small_shift_at_the_stated_rate(heldout, estimator):
  batched = scores.DoSE(estimator, batch_size=10, alpha=0.9).fit(heldout)
  test = statistic_features(3000, seed=7)
  out = statistic_features(3000, seed=8, shift=2.)
  # The same estimator: batch_size changes only the batches and threshold.
  test_scores, out_scores = batched(test), batched(out)
  in_batches = batched.score_batches(test)
  # Consecutive batches: the mean of each 10 examples' scores.
  np.testing.assert_allclose(in_batches,
                             test_scores.reshape(300, 10).mean(axis=1))
  one_at_a_time = metrics.auroc(test_scores, out_scores)
  assert one_at_a_time < 0.9
  assert metrics.auroc(in_batches, batched.score_batches(out)) > 0.97
  # 300 in-distribution batches of 10: flagged at about 1 - alpha = 10%
  # (binomial sd 0.017, plus the bootstrap threshold's error).
  assert 0.05 < np.mean(in_batches > batched.threshold) < 0.16
  assert batched.is_ood(out).mean() > 0.8
  shuffled = batched.score_batches(test, seed=1)
  assert shuffled.shape == (300,)
  assert not np.array_equal(shuffled, in_batches)
  np.testing.assert_allclose(np.sort(shuffled.reshape(-1)).sum(),
                             in_batches.sum())


def test_kde_is_the_sum_of_the_statistics_log_densities():
  """Against scipy's own KDE with the same (normal-reference) bandwidth."""
  from scipy import stats   # pylint: disable=g-import-not-at-top
  fit = statistic_features(300, seed=9)
  test = statistic_features(50, seed=10)
  score = scores.DoSE("kde").fit(fit)
  expected = np.zeros(50)
  for name in ("a", "b", "c"):
    values = fit.statistics[name]
    # scipy scales its factor by the data's (ddof=1) standard deviation;
    # DoSE standardizes with ddof=0, so match that.
    kde = stats.gaussian_kde(values, bw_method=lambda k: (
        (3 * k.n / 4) ** -0.2 * np.std(values) / np.std(values, ddof=1)))
    expected -= kde.logpdf(test.statistics[name]) + np.log(np.std(values))
  np.testing.assert_allclose(score(test), expected, rtol=1e-8)
  assert score.config()["bandwidth"] == pytest.approx((3 * 300 / 4) ** -0.2)


def test_constant_and_dependent_statistics():
  u, v = np.random.default_rng(11).normal(size=(2, 500))
  features = scores.Features(statistics={
      "u": u, "v": v, "sum": u + 2. * v + 3., "constant": np.full(500, 7.)})
  score = scores.DoSE("svm").fit(features)
  # The constant is dropped; u + 2v + 3 is a linear dependence, whitened out.
  assert score.statistic_names == ("u", "v", "sum")
  config = score.config()
  assert config["dropped"] == ["constant"]
  assert config["num_components"] == 2 and config["gamma_value"] == 0.5
  assert np.all(np.isfinite(score(features)))
  with pytest.raises(ValueError, match="every statistic is constant"):
    scores.DoSE().fit(scores.Features(statistics={"k": np.ones(20)}))
  with pytest.raises(ValueError, match="no statistic"):
    scores.DoSE().fit(scores.Features(num_dims=3))


def test_statistics_of_a_flows_features():
  rng = np.random.default_rng(12)
  latents = rng.normal(size=(4, 12))
  features = scores.Features(
      discrete_log_prob=rng.normal(size=4), num_dims=12,
      log_prob_z_per_level=rng.normal(size=(4, 2)),
      log_det_per_level=rng.normal(size=(4, 2)), num_dims_per_level=(8, 4),
      images=rng.integers(0, 256, (4, 2, 2, 3), np.uint8), latents=latents,
      statistics={"rate": rng.normal(size=4)})
  values = scores.statistics_of(features)
  assert list(values) == [
      "log_prob", "level_1/log_prob_z", "level_2/log_prob_z",
      "level_1/log_det", "level_2/log_det", "level_1/latent_norm",
      "level_2/latent_norm", "compressed_bits", "rate"]
  np.testing.assert_allclose(values["level_2/latent_norm"],
                             np.linalg.norm(latents[:, 8:], axis=1), rtol=1e-6)
  np.testing.assert_array_equal(values["level_2/log_det"],
                                features.log_det_per_level[:, 1])
  np.testing.assert_array_equal(
      values["compressed_bits"], scores.compressed_bits(features.images))
  assert "compressed_bits" not in scores.statistics_of(features, None)
  clash = scores.Features(discrete_log_prob=[0.],
                          statistics={"log_prob": [1.]})
  with pytest.raises(ValueError, match="rename"):
    scores.statistics_of(clash)


def test_dose_needs_the_statistics_it_was_fitted_on(heldout):
  score = scores.DoSE(statistics=("a", "c")).fit(heldout)
  assert score.statistic_names == ("a", "c")
  fewer = scores.Features(statistics={"a": np.zeros(3)})
  with pytest.raises(ValueError, match="lack the statistic.*c"):
    score(fewer)
  with pytest.raises(ValueError, match="lack the statistic.*d"):
    scores.DoSE(statistics=("d",)).fit(heldout)
  with pytest.raises(scores.NotFittedError, match="fit"):
    scores.DoSE()(heldout)
  with pytest.raises(scores.NotFittedError, match="fit"):
    _ = scores.DoSE().threshold
  with pytest.raises(ValueError, match="at least 10"):
    scores.DoSE().fit(heldout.take(np.arange(9)))
  for bad in (dict(estimator="gmm"), dict(alpha=1.), dict(num_folds=1),
              dict(nu=0.), dict(gamma=-1.), dict(batch_size=0),
              dict(compressor="jpeg")):
    with pytest.raises(ValueError):
      scores.DoSE(**bad)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_config_is_json(heldout, estimator):
  score = scores.make_score("dose", estimator=estimator, batch_size=5)
  assert json.loads(json.dumps(score.config())) == score.config()
  score.fit(heldout)
  config = json.loads(json.dumps(score.config()))
  assert config["name"] == "dose" and config["estimator"] == estimator
  assert config["used"] == ["a", "b", "c"] and config["dropped"] == []
  assert config["threshold"] == score.threshold


def test_on_a_tiny_glows_statistics_dose_flags_the_too_likely_images():
  """A Glow's own statistics (LikelihoodTermsEvaluator with latents): the paper's failure.

  The model (ActNorm-initialized on toy images, untrained) gives the same
  blocky images without their pixel noise a *higher* likelihood than its
  in-distribution images, so -log p(x) ranks them as in-distribution; DoSE,
  two-sided, flags them.
  """
  import glow_ood   # pylint: disable=g-import-not-at-top
  from glow_ood import likelihood_terms   # pylint: disable=g-import-not-at-top
  from tests.toy_data import toy_images   # pylint: disable=g-import-not-at-top
  model = glow_ood.Glow(glow_ood.GlowConfig(
      image_shape=(8, 8, 1), num_levels=2, num_steps_per_level=1,
      hidden_width=8, seed=3))
  model.initialize(model.preprocess(toy_images(256, seed=0)))
  scorer = likelihood_terms.LikelihoodTermsEvaluator(model, 256, latents=True)
  dims = [int(s.num_elements()) for s in model.flow.latent_shapes]

  def features(images):
    return scores.from_likelihood_terms(scorer(images), images=images,
                                    num_dims_per_level=dims)

  blocks = np.random.default_rng(3).integers(40, 216, (300, 2, 2, 1))
  quiet = np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2).astype(np.uint8)
  heldout, test, out = (features(toy_images(600, seed=1)),
                        features(toy_images(300, seed=2)), features(quiet))
  nll = scores.NegativeLogLikelihood()
  assert metrics.auroc(nll(test), nll(out)) < 0.3
  for estimator in ESTIMATORS:
    score = scores.DoSE(estimator).fit(heldout)
    # Sigmoid couplings at initialization have input-independent log-dets:
    # constant statistics, dropped.
    assert {"log_prob", "level_1/log_prob_z", "level_2/latent_norm"} <= set(
        score.statistic_names)
    assert "level_1/log_det" in score.config()["dropped"]
    assert metrics.auroc(score(test), score(out)) > 0.8
    # alpha = 0.95: binomial sd 0.013 over 300 examples.
    assert score.is_ood(test).mean() < 0.1
