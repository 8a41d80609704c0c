"""Tests of `glow_ood.scores.LatentGoodnessOfFit` on latents with a known law.

A two-level "flow" with levels of 768 and 256 values (the sizes of a 32x32x1
Glow's first two levels): latents drawn from N(0, 1) are what the model
expects, so their combined p-values must be uniform (rejection rate at 0.05
near 0.05; binomial sd 0.011 for 400 examples); latents with standard
deviation 0.8 or 1.2 must be detected. The p-values themselves are checked
against published critical values and scipy's own tests, and a tiny Glow's
own latents (decoded from N(0, 1) and encoded again) pass.
"""

import json

import numpy as np
import pytest
from scipy import stats

import glow_ood
from glow_ood import metrics
from glow_ood import scores
from glow_ood.scores import latent_goodness_of_fit as gof

DIMS = (768, 256)
TESTS = gof.TESTS


def latent_features(num_examples, seed, scale=1., dims=DIMS):
  latents = np.random.default_rng(seed).normal(
      0., scale, (num_examples, sum(dims)))
  return scores.Features(latents=latents, num_dims_per_level=dims)


# The p-values.


@pytest.mark.parametrize("statistic, p_value", [
    (1.933, 0.10), (2.492, 0.05), (3.070, 0.025), (3.857, 0.01)])
def test_anderson_darling_p_values_at_the_published_critical_values(
    statistic, p_value):
  # Stephens (1974), case 0 (fully specified null), n -> infinity; these
  # older tables are off by up to 2.5% of p (3.857 has p = 0.0102 by
  # Marsaglia & Marsaglia's accurate ADinf).
  assert np.exp(gof.anderson_darling_log_sf([statistic]))[0] == pytest.approx(
      p_value, rel=0.03)


def test_anderson_darling_against_scipys_monte_carlo_test():
  rng = np.random.default_rng(0)
  samples = np.stack([rng.normal(0., 1., 200), rng.normal(0., 0.85, 200),
                      rng.normal(0.15, 1., 200)])
  statistic, log_p = gof.normality_log_p_values(samples, "anderson_darling")
  for row, ours, our_log_p in zip(samples, statistic, log_p):
    result = stats.goodness_of_fit(
        stats.norm, row, known_params={"loc": 0., "scale": 1.},
        statistic="ad", n_mc_samples=4999, rng=1)
    assert ours == pytest.approx(result.statistic, rel=1e-10)
    # Monte Carlo standard error sqrt(p (1 - p) / 4999) <= 0.007.
    assert np.exp(our_log_p) == pytest.approx(result.pvalue, abs=0.025)


def _samples_of_growing_misfit(n, seed):
  """Rows from N(0, s^2), s from 1 down to 0.05 and up to 6: any statistic grows."""
  rng = np.random.default_rng(seed)
  scales = np.concatenate([np.linspace(1., 0.05, 60), np.linspace(1., 6., 60)])
  return rng.normal(size=(len(scales), n)) * scales[:, np.newaxis]


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("n", [50, 768])
def test_log_p_values_are_finite_and_decrease_with_the_statistic(test, n):
  statistic, log_p = gof.normality_log_p_values(
      _samples_of_growing_misfit(n, seed=n), test)
  assert np.all(np.isfinite(log_p)) and np.all(log_p <= 0.)
  order = np.argsort(statistic)
  assert np.all(np.diff(log_p[order]) <= 1e-9)
  # Far misfits reach below 1e-8, where scipy's CvM p-values are noise.
  assert log_p.min() < np.log(1e-8)


@pytest.mark.parametrize("n", [50, 768])
def test_scipys_p_values_are_kept_where_they_are_accurate(n):
  samples = _samples_of_growing_misfit(n, seed=1)
  cvm = stats.cramervonmises(samples, "norm", axis=1)
  statistic, log_p = gof.normality_log_p_values(samples, "cramer_von_mises")
  inside = statistic <= 2.
  np.testing.assert_allclose(log_p[inside], np.log(cvm.pvalue[inside]))
  ks = stats.ks_1samp(samples, stats.norm.cdf, axis=1, method="exact")
  statistic, log_p = gof.normality_log_p_values(samples, "kolmogorov_smirnov")
  inside = ks.pvalue > 1e-90
  np.testing.assert_allclose(log_p[inside], np.log(ks.pvalue[inside]),
                             rtol=1e-9)
  np.testing.assert_allclose(statistic, ks.statistic, rtol=1e-12)


def test_fisher_combination_is_scipys():
  p = np.random.default_rng(2).uniform(size=(20, 3))
  np.testing.assert_allclose(
      np.exp(gof.fisher_log_p(np.log(p))),
      stats.combine_pvalues(p, method="fisher", axis=1).pvalue, rtol=1e-10)


# The score, one example at a time.


@pytest.mark.parametrize("test", TESTS)
def test_latents_from_the_prior_get_uniform_p_values(test):
  score = scores.LatentGoodnessOfFit(test).fit(latent_features(100, seed=1))
  p_values = np.exp(-score(latent_features(400, seed=2)))
  assert 0.02 <= np.mean(p_values < 0.05) <= 0.09
  assert stats.kstest(p_values, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("scale", [0.8, 1.2])
def test_latents_of_the_wrong_scale_are_detected(test, scale):
  score = scores.LatentGoodnessOfFit(test).fit(latent_features(100, seed=3))
  null, out = score(latent_features(300, seed=4)), score(
      latent_features(300, seed=5, scale=scale))
  assert np.mean(np.exp(-out) < 0.05) > 0.8
  assert metrics.auroc(null, out) > 0.97
  if test == "anderson_darling":   # the default: the most powerful here
    assert np.mean(np.exp(-out) < 0.05) > 0.98


def test_threshold_flags_held_out_like_examples_at_the_stated_rate():
  score = scores.LatentGoodnessOfFit(alpha=0.9).fit(
      latent_features(1000, seed=6))
  rate = score.is_ood(latent_features(1000, seed=7)).mean()
  # 1 - alpha = 0.1: binomial sd 0.0095, plus the threshold's own error.
  assert 0.065 < rate < 0.135
  assert score.config()["heldout_rejection_rate"] == pytest.approx(0.05,
                                                                   abs=0.025)


# Batches: random projections (levels of 300 and 100 values, to keep the
# random rotations' QR factorizations small).

BATCH_DIMS = (300, 100)


@pytest.mark.parametrize("batch_size", [5, 10])
def test_batches_from_the_prior_get_uniform_p_values(batch_size):
  score = scores.LatentGoodnessOfFit(batch_size=batch_size, alpha=0.9,
                                     num_bootstrap=500)
  score.fit(latent_features(1000, seed=8, dims=BATCH_DIMS))
  batch_scores = score.score_batches(latent_features(
      400 * batch_size, seed=9, dims=BATCH_DIMS))
  assert batch_scores.shape == (400,)
  assert 0.02 <= np.mean(np.exp(-batch_scores) < 0.05) <= 0.09
  # The threshold (0.9-quantile of held-out batches) flags about 10%:
  # binomial sd 0.015 over 400 batches.
  assert 0.055 < np.mean(batch_scores > score.threshold) < 0.15


def test_batches_detect_what_one_example_cannot():
  single = scores.LatentGoodnessOfFit().fit(
      latent_features(100, seed=10, dims=BATCH_DIMS))
  batched = scores.LatentGoodnessOfFit(batch_size=10, num_bootstrap=200).fit(
      latent_features(1000, seed=10, dims=BATCH_DIMS))
  null = latent_features(2000, seed=11, dims=BATCH_DIMS)
  out = latent_features(2000, seed=12, scale=0.9, dims=BATCH_DIMS)
  # Anderson-Darling, the strongest one-example test here, against the
  # projection KS test of batches of 10.
  assert metrics.auroc(single(null), single(out)) < 0.8
  assert metrics.auroc(batched.score_batches(null),
                       batched.score_batches(out)) > 0.97
  assert batched.is_ood(out).mean() > 0.8


def test_projections_are_orthonormal_and_batches_are_grouped_as_stated():
  score = scores.LatentGoodnessOfFit(batch_size=2, num_projections=100,
                                     num_bootstrap=10)
  features = latent_features(7, seed=13, dims=(150, 60))
  score.fit(features)
  assert score.config()["num_projections_per_level"] == [100, 60]
  for directions in score._directions:   # pylint: disable=protected-access
    np.testing.assert_allclose(directions @ directions.T,
                               np.eye(len(directions)), atol=1e-10)
  consecutive = score.score_batches(features)
  assert consecutive.shape == (3,)   # the 7th example is left out
  # The batch [2, 3] alone gives the second batch's score.
  np.testing.assert_allclose(score.score_batches(features.take([2, 3])),
                             consecutive[1:2])
  shuffled = score.score_batches(features, seed=0)
  order = np.random.default_rng(0).permutation(7)
  np.testing.assert_allclose(score.score_batches(features.take(order)),
                             shuffled)
  one = scores.LatentGoodnessOfFit().fit(features)
  np.testing.assert_array_equal(one.score_batches(features), one(features))
  assert "num_projections_per_level" not in one.config()


# A real (tiny) Glow's latents.


def test_a_glows_own_latents_pass_and_scaled_ones_do_not():
  model = glow_ood.Glow(glow_ood.GlowConfig(
      image_shape=(8, 8, 3), num_levels=2, num_steps_per_level=2,
      hidden_width=8, dtype="float64", seed=5))
  rng = np.random.default_rng(14)
  model.initialize(model.preprocess(
      rng.integers(0, 256, (64, 8, 8, 3), np.uint8)))
  # The priors start at N(0, 1): make them depend on the kept channels, so
  # that standardizing (z_l - mu_l) / sigma_l is not the identity.
  priors = [p for p in model.flow.split_priors + [model.flow.top_prior]
            if p is not None]
  for variable in (v for p in priors for v in p.trainable_variables):
    variable.assign(0.1 * rng.standard_normal(variable.shape))
  dims = [int(s.num_elements()) for s in model.flow.latent_shapes]

  def latents_of_images_decoded_from(eps):
    # The decoded images leave [-0.5, 0.5] (the model is untrained), so the
    # flow is called directly rather than through Glow.encode's input check.
    x = model.decode(eps)
    flat, terms = model.flow.forward_with_terms(x)
    # The flat latent (Glow.encode's) is the levels' standardized latents.
    np.testing.assert_array_equal(
        flat.numpy(), np.concatenate([t.numpy().reshape(len(eps), -1)
                                      for t in terms["latents"]], axis=1))
    assert np.abs(terms["latent_log_det"].numpy()).min() > 0.   # sigma != 1
    return scores.Features(latents=flat.numpy(), num_dims_per_level=dims)

  eps = rng.standard_normal((300, model.num_dims))
  model_latents = latents_of_images_decoded_from(eps)
  np.testing.assert_allclose(model_latents.latents, eps, atol=1e-4)
  score = scores.LatentGoodnessOfFit().fit(model_latents)
  assert 0.02 <= np.mean(np.exp(-score(model_latents)) < 0.05) <= 0.09
  # Levels of 96 values only: a larger scale than for the synthetic levels.
  scaled = latents_of_images_decoded_from(1.5 * eps[:100])
  assert np.mean(np.exp(-score(scaled)) < 0.05) > 0.9


# Arguments and configs.


def test_errors_and_config():
  features = latent_features(20, seed=15, dims=(30, 10))
  with pytest.raises(scores.NotFittedError, match="fit"):
    scores.LatentGoodnessOfFit()(features)
  with pytest.raises(ValueError, match="latents"):
    scores.LatentGoodnessOfFit().fit(scores.Features(discrete_log_prob=[0.]))
  fitted = scores.make_score("latent_goodness_of_fit", batch_size=5,
                             num_bootstrap=20).fit(features)
  with pytest.raises(ValueError, match="levels of sizes"):
    fitted.score_batches(latent_features(10, seed=16, dims=(20, 20)))
  with pytest.raises(ValueError, match="at least batch_size"):
    scores.LatentGoodnessOfFit(batch_size=30).fit(features)
  for bad in (dict(test="shapiro"), dict(batch_size=0), dict(alpha=0.),
              dict(num_projections=0)):
    with pytest.raises(ValueError):
      scores.LatentGoodnessOfFit(**bad)
  config = json.loads(json.dumps(fitted.config()))
  assert config == fitted.config()
  assert config["name"] == "latent_goodness_of_fit"
  assert config["test"] == "anderson_darling" and config["batch_size"] == 5
  assert config["threshold"] == fitted.threshold
  assert config["num_projections_per_level"] == [30, 10]
