"""Tests of `glow_ood.scores` on Gaussian "models" with closed-form answers.

The model is `N(0, s^2 I_D)`: `log p(x) = -|x|^2 / (2 s^2) - D log s -
D/2 log(2 pi)`, and `-log p(x)` of its samples is `D/2 log(2 pi) + chi2_D / 2`,
concentrated around the entropy `H = D/2 log(2 pi e)`.
"""

import json

import numpy as np
import pytest

import glow_ood
from glow_ood import metrics
from glow_ood import models
from glow_ood import preprocessing
from glow_ood import scores
from glow_ood.configs.vae import VAEConfig

D = 50
ENTROPY = D / 2 * np.log(2 * np.pi * np.e)


def gaussian_log_prob(x, scale=1.):
  """log N(x; 0, scale^2 I) over the last axis."""
  dims = x.shape[-1]
  return (-0.5 * np.sum((x / scale) ** 2, axis=-1) - dims * np.log(scale)
          - dims / 2 * np.log(2 * np.pi))


def gaussian_features(num_examples, scale=1., seed=0):
  """Features of `num_examples` draws from N(0, scale^2 I_D) under N(0, I_D)."""
  x = np.random.default_rng(seed).normal(0., scale, (num_examples, D))
  return scores.Features(discrete_log_prob=gaussian_log_prob(x), num_dims=D)


# Features.


def test_features_validate_shapes_with_clear_errors():
  with pytest.raises(ValueError, match="number of examples N"):
    scores.Features(discrete_log_prob=np.zeros(3),
                    discrete_log_prob_background=np.zeros(4))
  with pytest.raises(ValueError, match="number of examples N"):
    scores.Features(discrete_log_prob=np.zeros(3),
                    discrete_log_prob_members=np.zeros([2, 4]))
  with pytest.raises(ValueError, match="number of levels L"):
    scores.Features(log_prob_z_per_level=np.zeros([3, 2]),
                    log_det_per_level=np.zeros([3, 3]))
  with pytest.raises(ValueError, match="dimension D"):
    scores.Features(num_dims=10, images=np.zeros([2, 2, 2, 1], np.uint8))
  with pytest.raises(ValueError, match="dimension D"):
    scores.Features(num_dims=10, num_dims_per_level=[4, 5])
  with pytest.raises(ValueError, match="uint8"):
    scores.Features(images=np.zeros([2, 2, 2, 1], np.float32))
  with pytest.raises(ValueError, match="2 dimension"):
    scores.Features(discrete_log_prob_members=np.zeros(3))
  with pytest.raises(ValueError, match="non-finite"):
    scores.Features(discrete_log_prob=[0., np.nan])


def test_features_take_and_slices_index_every_field():
  features = scores.Features(
      discrete_log_prob=[0., 1., 2.], num_dims=4,
      discrete_log_prob_members=[[0., 1., 2.], [10., 11., 12.]],
      discrete_log_prob_background=[5., 6., 7.],
      log_prob_z_per_level=[[0., 0.], [1., 1.], [2., 2.]],
      log_det_per_level=[[3., 3.], [4., 4.], [5., 5.]],
      num_dims_per_level=[2, 2],
      images=np.arange(12, dtype=np.uint8).reshape(3, 2, 2, 1))
  taken = features.take([2, 0, 2])
  assert len(taken) == 3 and taken.num_dims == 4
  np.testing.assert_array_equal(taken.discrete_log_prob, [2., 0., 2.])
  np.testing.assert_array_equal(taken.discrete_log_prob_members,
                                [[2., 0., 2.], [12., 10., 12.]])
  np.testing.assert_array_equal(taken.discrete_log_prob_background,
                                [7., 5., 7.])
  np.testing.assert_array_equal(taken.log_det_per_level[:, 0], [5., 3., 5.])
  np.testing.assert_array_equal(taken.images[1], features.images[0])
  np.testing.assert_array_equal(features[1:].discrete_log_prob, [1., 2.])
  assert features[1].discrete_log_prob_members.shape == (2, 1)
  assert len(features.take([])) == 0
  np.testing.assert_array_equal(
      features.take(np.array([True, False, True])).discrete_log_prob_members[1],
      [10., 12.])


def test_features_latents_and_statistics_are_checked_and_indexed():
  latents = np.arange(15, dtype=np.float64).reshape(3, 5)
  features = scores.Features(
      discrete_log_prob=[0., 1., 2.], num_dims_per_level=[3, 2],
      latents=latents, statistics={"rate": [5., 6., 7.], "distortion": [1., 2., 3.]})
  assert features.latents.dtype == np.float32
  first, second = features.latents_per_level()
  np.testing.assert_array_equal(first, latents[:, :3])
  np.testing.assert_array_equal(second, latents[:, 3:])
  taken = features.take([2, 0])
  np.testing.assert_array_equal(taken.latents, latents[[2, 0]])
  np.testing.assert_array_equal(taken.statistics["rate"], [7., 5.])
  np.testing.assert_array_equal(taken.statistics["distortion"], [3., 1.])
  assert len(scores.Features(statistics={"a": [1., 2.]})) == 2
  with pytest.raises(TypeError):
    features.statistics["rate"] = np.zeros(3)   # read-only
  with pytest.raises(ValueError, match="number of examples N"):
    scores.Features(discrete_log_prob=[0., 1.], statistics={"rate": [1.]})
  with pytest.raises(ValueError, match="dimension D.*latents"):
    scores.Features(num_dims_per_level=[3, 3], latents=latents)
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    scores.Features(latents=np.zeros(3))
  with pytest.raises(ValueError, match="non-finite"):
    scores.Features(statistics={"rate": [np.inf]})
  with pytest.raises(ValueError, match="non-finite"):
    scores.Features(latents=[[np.nan]])
  with pytest.raises(TypeError, match="mapping"):
    scores.Features(statistics=[1., 2.])
  with pytest.raises(ValueError, match="num_dims_per_level"):
    scores.Features(latents=latents).latents_per_level()


def test_features_from_decomposition_match_the_models_bits_per_dim():
  model = glow_ood.Glow(glow_ood.GlowConfig(
      image_shape=(8, 8, 3), num_levels=2, num_steps_per_level=1,
      hidden_width=8, n_bits=5, dtype="float64", seed=3))
  images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), np.uint8)
  model.initialize(model.preprocess(images))
  decomposition = model.decompose(model.preprocess(images))
  sizes = [int(s.num_elements()) for s in model.flow.latent_shapes]
  features = scores.Features.from_decomposition(
      decomposition, model.num_dims, n_bits=5, images=images,
      num_dims_per_level=sizes)
  # discrete_log_prob is log P(image): its bits/dim are the model's.
  np.testing.assert_allclose(
      scores.NegativeLogLikelihood()(features),
      model.bits_per_dim(images).numpy(), rtol=1e-10)
  # Levels' contributions + the discretization constant = discrete_log_prob.
  constant = preprocessing.discretization_correction(model.num_dims, 5)
  np.testing.assert_allclose(
      scores.level_contributions(features).sum(axis=1) + constant,
      features.discrete_log_prob, rtol=1e-10)
  assert features.num_dims_per_level == (96, 96)


# Negative log-likelihood.


def test_negative_log_likelihood_units():
  features = scores.Features(discrete_log_prob=[-3. * D * np.log(2.), 0.],
                             num_dims=D)
  np.testing.assert_allclose(scores.NegativeLogLikelihood()(features), [3., 0.])
  np.testing.assert_allclose(scores.NegativeLogLikelihood("nats")(features),
                             [3. * D * np.log(2.), 0.])
  with pytest.raises(ValueError, match="units"):
    scores.NegativeLogLikelihood("bits")
  with pytest.raises(ValueError, match="num_dims"):
    scores.NegativeLogLikelihood()(scores.Features(discrete_log_prob=[0.]))
  with pytest.raises(ValueError, match="discrete_log_prob.*Provide"):
    scores.NegativeLogLikelihood("nats")(scores.Features(num_dims=3))


# Typicality.


def test_typicality_estimates_the_entropy():
  score = scores.Typicality().fit(gaussian_features(4000))
  # Standard error of the mean NLL: sqrt(D / 2) / sqrt(4000) = 0.08 nats.
  assert score.entropy == pytest.approx(ENTROPY, abs=0.4)


def test_typicality_flags_the_mode_that_likelihood_calls_in_distribution():
  heldout, test = gaussian_features(2000, seed=1), gaussian_features(2000, seed=2)
  mode = scores.Features(discrete_log_prob=gaussian_log_prob(np.zeros([1, D])),
                         num_dims=D)
  nll = scores.NegativeLogLikelihood()
  # The mode has the highest density: NLL calls it the most in-distribution.
  assert nll(mode)[0] < nll(test).min()
  typicality = scores.Typicality(alpha=0.99).fit(heldout)
  # ... but it is D/2 nats from the typical set, beyond every test sample.
  assert typicality(mode)[0] == pytest.approx(D / 2, abs=0.5)
  assert typicality(mode)[0] > typicality(test).max()
  assert typicality.is_ood(mode)[0]


def test_typicality_threshold_is_the_exact_quantile_for_batches():
  batch_size, alpha = 10, 0.99
  score = scores.Typicality(batch_size, alpha, num_bootstrap=4000, seed=0)
  score.fit(gaussian_features(5000, seed=3))
  # |mean of M NLLs - H| = |chi2_{D M} / (2 M) - D / 2| in law.
  chi2 = np.random.default_rng(4).chisquare(D * batch_size, 1_000_000)
  exact = np.quantile(np.abs(chi2 / (2 * batch_size) - D / 2), alpha)
  assert score.threshold == pytest.approx(exact, rel=0.1)


def test_typicality_batch_test_flag_rates():
  score = scores.Typicality(batch_size=10, alpha=0.9, num_bootstrap=4000)
  score.fit(gaussian_features(5000, seed=5))
  in_rate = score.is_ood(gaussian_features(10000, seed=6)).mean()   # 1000 batches
  # 1 - alpha = 0.1; binomial sd 0.0095, plus the threshold's estimation error.
  assert 0.06 < in_rate < 0.14
  out = gaussian_features(1000, scale=0.1, seed=7)
  assert score.is_ood(out).mean() == 1.
  assert score.is_ood(out, seed=1).mean() == 1.


def test_typicality_batches_by_hand():
  score = scores.Typicality(batch_size=2).fit(
      scores.Features(discrete_log_prob=[-2., -4.]))
  assert score.entropy == 3.
  features = scores.Features(discrete_log_prob=-np.arange(1., 8.))   # NLL 1..7
  # Consecutive pairs (1, 2), (3, 4), (5, 6); 7 is left out.
  np.testing.assert_allclose(score.score_batches(features), [1.5, 0.5, 2.5])
  np.testing.assert_allclose(score(features), np.abs(np.arange(1., 8.) - 3.))
  shuffled = score.score_batches(features, seed=3)
  assert len(shuffled) == 3
  np.testing.assert_array_equal(shuffled, score.score_batches(features, seed=3))


def test_typicality_must_be_fitted():
  score = scores.Typicality()
  with pytest.raises(scores.NotFittedError, match="fit"):
    score(gaussian_features(3))
  with pytest.raises(scores.NotFittedError, match="fit"):
    _ = score.threshold
  with pytest.raises(ValueError, match="alpha"):
    scores.Typicality(alpha=1.)
  with pytest.raises(ValueError, match="batch_size"):
    scores.Typicality(batch_size=0)


# WAIC.


def test_waic_by_hand():
  members = np.array([[-1., -2., -5.], [-3., -2., -5.]])
  # Means (-2, -2, -5), population variances (1, 0, 0).
  features = scores.Features(discrete_log_prob_members=members)
  np.testing.assert_allclose(scores.WAIC()(features), [3., 2., 5.])
  three = scores.Features(discrete_log_prob_members=[[0.], [1.], [2.]])
  np.testing.assert_allclose(scores.WAIC()(three), [-1. + 2. / 3.])


def test_waic_of_agreeing_members_is_the_negative_log_likelihood():
  discrete_log_prob = gaussian_features(20).discrete_log_prob
  features = scores.Features(
      discrete_log_prob_members=np.stack([discrete_log_prob] * 4))
  np.testing.assert_allclose(scores.WAIC()(features), -discrete_log_prob)
  # Disagreement raises the score.
  noisy = features.discrete_log_prob_members + np.random.default_rng(0).normal(
      0., 1., features.discrete_log_prob_members.shape)
  noisy_features = scores.Features(discrete_log_prob_members=noisy)
  assert np.all(scores.WAIC()(noisy_features) - (-noisy.mean(axis=0)) > 0)


def test_waic_needs_two_members():
  with pytest.raises(ValueError, match="M >= 2"):
    scores.WAIC()(scores.Features(discrete_log_prob_members=np.zeros([1, 3])))
  with pytest.raises(ValueError, match="discrete_log_prob_members"):
    scores.WAIC()(scores.Features(discrete_log_prob=np.zeros(3)))


# Likelihood ratio.


def test_likelihood_ratio_of_two_gaussians_in_closed_form():
  background_scale = 0.5
  x = np.random.default_rng(8).normal(size=(30, D))
  features = scores.Features(
      discrete_log_prob=gaussian_log_prob(x),
      discrete_log_prob_background=gaussian_log_prob(x, background_scale))
  # log p_bg - log p = -|x|^2 / 2 (1 / s^2 - 1) - D log s.
  expected = (-0.5 * np.sum(x ** 2, axis=1) * (1. / background_scale ** 2 - 1.)
              - D * np.log(background_scale))
  np.testing.assert_allclose(scores.LikelihoodRatio()(features), expected)
  with pytest.raises(ValueError, match="discrete_log_prob_background.*mutate"):
    scores.LikelihoodRatio()(scores.Features(discrete_log_prob=np.zeros(2)))


# Input complexity.


def _constant_and_noise(shape):
  rng = np.random.default_rng(9)
  constant = np.full(shape, 128, np.uint8)
  noise = rng.integers(0, 256, shape, np.uint8)
  return np.stack([constant, noise])


@pytest.mark.parametrize("shape", [(16, 16, 3), (28, 28, 1)])
@pytest.mark.parametrize("compressor", ["png", "zlib"])
def test_input_complexity_orders_constant_below_noise(shape, compressor):
  images = _constant_and_noise(shape)
  num_dims = int(np.prod(shape))
  bits = scores.compressed_bits(images, compressor)
  np.testing.assert_array_equal(bits, scores.compressed_bits(images, compressor))
  assert np.all(bits > 0) and np.all(bits % 8 == 0)
  assert bits[0] < 0.1 * bits[1]
  # Uniform noise is incompressible: at least 8 bits per value.
  assert bits[1] >= 8 * num_dims
  # Equal likelihoods: the complex image gets the lower (more in-dist) score.
  features = scores.Features(discrete_log_prob=[-4000., -4000.],
                             num_dims=num_dims, images=images)
  score = scores.InputComplexity(compressor)
  values = score(features)
  assert values[1] < values[0]
  np.testing.assert_allclose(
      values, (4000. / np.log(2.) - bits) / num_dims)
  np.testing.assert_allclose(
      scores.InputComplexity(compressor, units="bits")(features),
      4000. / np.log(2.) - bits)
  np.testing.assert_allclose(score.complexity(features), bits / num_dims)
  assert score.config() == {"name": "input_complexity", "compressor": compressor,
                            "compression_level": 9, "units": "bits_per_dim"}


def test_input_complexity_bad_arguments():
  with pytest.raises(ValueError, match="compressor"):
    scores.InputComplexity("jpeg")
  with pytest.raises(ValueError, match="images"):
    scores.InputComplexity()(
        scores.Features(discrete_log_prob=[0.], num_dims=3))
  with pytest.raises(ValueError, match="zlib"):
    scores.compressed_bits(np.zeros([1, 2, 2, 5], np.uint8), "png")


# Per-level likelihood.


def two_level_features(num_examples, scales=(1., 3.), dims=(30, 20), seed=10):
  """A 2-level "flow" z_l = x_l / s_l with x_l ~ N(0, s_l^2): known terms."""
  rng = np.random.default_rng(seed)
  xs = [rng.normal(0., s, (num_examples, d)) for s, d in zip(scales, dims)]
  log_prob_z = np.stack([gaussian_log_prob(x / s) for x, s in zip(xs, scales)],
                        axis=1)
  log_det = np.stack([np.full(num_examples, -d * np.log(s))
                      for s, d in zip(scales, dims)], axis=1)
  exact = np.stack([gaussian_log_prob(x, s) for x, s in zip(xs, scales)], axis=1)
  constant = preprocessing.discretization_correction(sum(dims), 8)
  features = scores.Features(
      discrete_log_prob=exact.sum(axis=1) + constant, num_dims=sum(dims),
      log_prob_z_per_level=log_prob_z, log_det_per_level=log_det,
      num_dims_per_level=dims)
  return features, exact, constant


def test_level_contributions_are_each_levels_density():
  features, exact, constant = two_level_features(25)
  contributions = scores.level_contributions(features)
  np.testing.assert_allclose(contributions, exact)
  np.testing.assert_allclose(contributions.sum(axis=1) + constant,
                             features.discrete_log_prob)
  np.testing.assert_allclose(scores.PerLevelLikelihood()(features),
                             -exact[:, 1])
  np.testing.assert_allclose(scores.PerLevelLikelihood(level=0)(features),
                             -exact[:, 0])
  np.testing.assert_allclose(
      scores.PerLevelLikelihood(level=1, units="bits_per_dim")(features),
      -exact[:, 1] / (20 * np.log(2.)))


def test_per_level_bad_arguments():
  features, _, _ = two_level_features(3)
  with pytest.raises(ValueError, match="level 2 does not exist"):
    scores.PerLevelLikelihood(level=2)(features)
  with pytest.raises(ValueError, match="num_dims_per_level"):
    scores.PerLevelLikelihood(units="bits_per_dim")(
        scores.Features(log_prob_z_per_level=np.zeros([2, 2]),
                        log_det_per_level=np.zeros([2, 2])))


# All scores together.


def test_auroc_on_the_too_likely_set():
  """N(0, 0.1^2 I) inputs to an N(0, I) model: likelihood ranks them wrong."""
  heldout = gaussian_features(2000, seed=11)
  x_in = np.random.default_rng(12).normal(0., 1., (500, D))
  x_out = np.random.default_rng(13).normal(0., 0.1, (500, D))

  def features(x):
    return scores.Features(
        discrete_log_prob=gaussian_log_prob(x), num_dims=D,
        discrete_log_prob_background=gaussian_log_prob(x, 0.5))

  def auroc(score):
    return metrics.auroc(score(features(x_in)), score(features(x_out)))

  assert auroc(scores.NegativeLogLikelihood()) < 0.001
  assert auroc(scores.Typicality().fit(heldout)) > 0.999
  # The background N(0, 0.25 I) explains the small-norm inputs better.
  assert auroc(scores.LikelihoodRatio()) > 0.999


def test_registry_builds_every_score_and_configs_are_json():
  vae = models.build_model(VAEConfig(image_shape=(8, 8, 1), widths=(4,),
                                     latent_dim=2))
  assert set(scores.SCORES_WITH_MODEL) == {
      "gradient_score_test", "gradient_norms", "likelihood_regret"}
  for name in scores.SCORES:
    kwargs = {"model": vae} if name in scores.SCORES_WITH_MODEL else {}
    score = scores.make_score(name, **kwargs)
    assert score.name == name
    assert isinstance(score, scores.Score)
    assert json.loads(json.dumps(score.config())) == score.config()
  fitted = scores.make_score("typicality", batch_size=4, seed=2).fit(
      gaussian_features(100))
  config = json.loads(json.dumps(fitted.config()))
  assert config["entropy"] == fitted.entropy
  assert config["threshold"] == fitted.threshold
  assert config["batch_size"] == 4
  assert scores.make_score("per_level_likelihood", level=0).config() == {
      "name": "per_level_likelihood", "level": 0, "units": "nats"}
  with pytest.raises(ValueError, match="Unknown score.*typicality"):
    scores.make_score("likelihood")
  with pytest.raises(TypeError, match="model=model"):
    scores.make_score("gradient_norms")


def test_scores_reject_plain_arrays():
  with pytest.raises(TypeError, match="Features"):
    scores.NegativeLogLikelihood()(np.zeros(3))
