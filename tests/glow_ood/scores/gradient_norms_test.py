"""Tests of `glow_ood.scores.GradientNorms` on the Gaussian family of `gaussian_family`.

Its two layers have closed-form gradient norms, `|g_loc| = |z / sigma|`
and `|g_log_scale| = |z^2 - 1|` (over the 16 pixels): the features are
checked against them, an independent in-distribution set must not be
detected (AUROC near 0.5: sd 0.009 for two sets of 2000) and shifted or
scaled images must be.
"""

import json

import numpy as np
import pytest

from glow_ood import metrics
from glow_ood import scores
from tests.glow_ood.scores import gaussian_family


@pytest.fixture(scope="module")
def model():
  return gaussian_family.trained_model()


def features(num, seed, **kwargs):
  return scores.Features(
      images=gaussian_family.gaussian_images(num, seed, **kwargs))


@pytest.fixture(scope="module")
def fitted(model):
  return scores.GradientNorms(model, alpha=0.9).fit(features(2000, seed=1))


def test_features_are_the_closed_form_log_norms(model, fitted):
  images = features(30, seed=2).images
  log_norms = fitted.log_norms(images)
  assert list(log_norms) == ["loc", "log_scale"]
  z = model.standardized(images)
  sigma = np.exp(model.log_scale.numpy())
  np.testing.assert_allclose(
      log_norms["loc"], np.log(np.linalg.norm(z / sigma, axis=1)), rtol=1e-4)
  np.testing.assert_allclose(
      log_norms["log_scale"], np.log(np.linalg.norm(z ** 2 - 1., axis=1)),
      rtol=1e-4)


def test_an_independent_in_distribution_set_is_not_detected(fitted):
  test, other = features(2000, seed=3), features(2000, seed=4)
  assert 0.46 < metrics.auroc(fitted(other), fitted(test)) < 0.54
  # DoSE's out-of-fold threshold flags about 1 - alpha = 10%.
  assert 0.065 < np.mean(fitted.is_ood(test)) < 0.135


@pytest.mark.parametrize("shift, scale", [(1.5, 1.), (0., 1.5), (0., 0.5)])
def test_shifted_or_scaled_inputs_are_detected(fitted, shift, scale):
  test = features(1000, seed=5)
  out = features(1000, seed=6, shift=shift, scale=scale)
  assert metrics.auroc(fitted(test), fitted(out)) > 0.9


def test_batches_config_and_errors(model):
  score = scores.make_score("gradient_norms", model=model, variables="loc",
                            batch_size=5, estimator="svm")
  with pytest.raises(scores.NotFittedError, match="fit"):
    score(features(10, seed=7))
  score.fit(features(500, seed=8))
  assert score.gradients.layers == ("loc",)
  batches = score.score_batches(features(50, seed=9))
  assert batches.shape == (10,)
  config = json.loads(json.dumps(score.config()))
  assert config["name"] == "gradient_norms" and config["used"] == ["loc"]
  assert config["estimator"] == "svm" and config["batch_size"] == 5
  with pytest.raises(ValueError, match="estimator"):
    scores.GradientNorms(model, estimator="gaussian")
  with pytest.raises(ValueError, match="matches none"):
    scores.GradientNorms(model, variables="decoder")
