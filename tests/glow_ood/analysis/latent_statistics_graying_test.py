"""Tests of `glow_ood.analysis.latent_statistics` and `glow_ood.analysis.graying`.

A tiny initialized Glow (8x8x1 images, 2 levels, 1 step) on synthetic uint8
images; the batched statistics are checked against one direct `encode` of all
images, the graying curve against the scorer's plain output.
"""

import io
import json

import numpy as np
import pytest
import tensorflow as tf

from glow_ood import configs as config_lib
from glow_ood.models import glow as model_lib
from glow_ood import likelihood_terms
from glow_ood.data import special as special_datasets
from glow_ood.analysis import data_statistics
from glow_ood.analysis import graying
from glow_ood.analysis import latent_statistics as latent_lib


@pytest.fixture(scope="module")
def images():
  rng = np.random.default_rng(0)
  return rng.integers(0, 256, size=(12, 8, 8, 1), dtype=np.uint8)


@pytest.fixture(scope="module")
def model(images):
  cfg = config_lib.GlowConfig(image_shape=(8, 8, 1), num_levels=2,
                              num_steps_per_level=1, hidden_width=8)
  glow = model_lib.Glow(cfg)
  glow.initialize(glow.preprocess(images))
  return glow


@pytest.fixture(scope="module")
def scorer(model):
  return likelihood_terms.LikelihoodTermsEvaluator(model, batch_size=4)


def test_latent_statistics_match_direct_encoding(model, images):
  z = model.encode(model.preprocess(images, "center")).numpy().astype(np.float64)
  assert z.shape == (12, 64)
  stream = io.StringIO()
  # batch_size 5: batches of 5, 5, 2 are merged.
  stats = latent_lib.latent_statistics(model, images, batch_size=5,
                                       description="codes", stream=stream)
  assert "codes" in stream.getvalue() and "3/3" in stream.getvalue()
  np.testing.assert_allclose(stats.mean, z.mean(0), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(stats.std, z.std(0, ddof=1), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(stats.norm, np.sqrt(np.sum(z ** 2, -1)), rtol=1e-5)
  np.testing.assert_allclose(stats.normalized_norm, stats.norm / 8., rtol=1e-12)
  assert stats.num_images == 12 and stats.num_dims == 64
  assert stats.covariance_trace == pytest.approx(np.sum(z.var(0, ddof=1)),
                                                 rel=1e-5)
  summary = json.loads(json.dumps(stats.summary()))
  assert summary["mean_std"] == pytest.approx(np.mean(z.std(0, ddof=1)), rel=1e-5)
  assert summary["mean_normalized_norm"] == pytest.approx(
      np.mean(np.linalg.norm(z, axis=-1)) / 8., rel=1e-5)
  # ActNorm was initialized on these images: the codes are roughly standard.
  assert 0.3 < summary["mean_normalized_norm"] < 3.


def test_latent_statistics_of_identical_images(model):
  # Every code is the same: zero spread, mean = that code, norm = ||code||.
  same = special_datasets.constant_images(77, 6, (8, 8, 1))
  z = model.encode(model.preprocess(same[:1], "center")).numpy()[0]
  stats = latent_lib.latent_statistics(model, same, batch_size=3)
  np.testing.assert_allclose(stats.std, 0., atol=1e-6)
  np.testing.assert_allclose(stats.mean, z, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(stats.norm, np.linalg.norm(z), rtol=1e-5)


def test_latent_statistics_bad_inputs(model, images):
  with pytest.raises(TypeError, match="uint8"):
    latent_lib.latent_statistics(model, images.astype(np.float32))
  with pytest.raises(ValueError, match="image shape"):
    latent_lib.latent_statistics(model, images[:, :4])
  with pytest.raises(ValueError, match="at least 2"):
    latent_lib.latent_statistics(model, images[:1])
  with pytest.raises(ValueError, match="batch_size"):
    latent_lib.latent_statistics(model, images, batch_size=0)


def test_graying_curve(scorer, images):
  factors = [1., 0.5, 0.]
  curve = graying.graying_curve(scorer, images, factors)
  assert curve.factors.tolist() == factors and curve.num_images == 12
  for term in graying.TERMS:
    assert getattr(curve, term).shape == (3, 12)
  # Factor 1 is the scorer on the images themselves.
  plain = scorer(images)
  for term in graying.TERMS:
    np.testing.assert_array_equal(getattr(curve, term)[0], getattr(plain, term))
  # Factor 1/2 is the scorer on the grayed images.
  half = scorer(special_datasets.grayed_images(images, 0.5))
  np.testing.assert_array_equal(curve.bits_per_dim[1], half.bits_per_dim)
  # Factor 0: every image is a constant 128, so every score is the same.
  gray = scorer(special_datasets.constant_images(128, 12, (8, 8, 1)))
  np.testing.assert_allclose(curve.bits_per_dim[2], gray.bits_per_dim,
                             rtol=1e-6)
  np.testing.assert_allclose(curve.bits_per_dim[2], curve.bits_per_dim[2, 0],
                             rtol=1e-6)
  # The terms add up: log p = log p(z) + log|det| - D log 256 (discrete).
  np.testing.assert_allclose(
      curve.discrete_log_prob,
      curve.log_prob_z + curve.log_det - 64 * np.log(256.),
      rtol=1e-9)
  means = curve.means()
  np.testing.assert_allclose(means["discrete_log_prob"],
                             curve.discrete_log_prob.mean(1))
  assert set(means) == set(graying.TERMS) and means["log_det"].shape == (3,)
  as_json = json.loads(json.dumps(curve.to_json()))
  assert as_json["factors"] == factors
  assert as_json["mean"]["bits_per_dim"] == pytest.approx(
      curve.bits_per_dim.mean(1).tolist())
  assert as_json["std"]["bits_per_dim"][2] == pytest.approx(0., abs=1e-5)


def test_graying_curve_progress_and_bad_factors(scorer, images, capsys):
  graying.graying_curve(scorer, images[:4], [0.25], description="gray")
  assert "gray x0.25" in capsys.readouterr().err
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    graying.graying_curve(scorer, images, [1.5])
  with pytest.raises(ValueError, match="non-empty"):
    graying.graying_curve(scorer, images, [])
  with pytest.raises(TypeError, match="uint8"):
    graying.graying_curve(scorer, images.astype(np.int32), [1.])


def test_variance_sums_shrink_by_factor_squared():
  rng = np.random.default_rng(5)
  images = rng.integers(0, 256, size=(200, 4, 4, 3), dtype=np.uint8)
  factors = [1., 0.75, 0.5, 0.1, 0.]
  sums = graying.variance_sums_by_factor(images, factors)
  assert sums.shape == (5, 3)
  _, variance = data_statistics.mean_and_variance(images)
  np.testing.assert_allclose(sums[0], variance.sum(axis=(0, 1)), rtol=1e-12)
  np.testing.assert_array_equal(sums[-1], 0.)
  # Grayed = a x + e with |e| <= 1/2 grey level: per dimension
  # |var - a^2 var(x)| <= 2 a sd(x) sd(e) + var(e), sd(e)^2 <= 1/4 N/(N-1).
  var_e = 0.25 * 200 / 199 / 256. ** 2
  for factor, row in zip(factors, sums):
    bound = np.sum(2 * factor * np.sqrt(variance * var_e) + var_e, axis=(0, 1))
    assert np.all(np.abs(row - factor ** 2 * variance.sum(axis=(0, 1))) <= bound)
    # The bound is tight enough to tell factor^2 from factor.
    if 0. < factor < 1.:
      assert np.all(bound < 0.1 * abs(factor - factor ** 2) *
                    variance.sum(axis=(0, 1)))
