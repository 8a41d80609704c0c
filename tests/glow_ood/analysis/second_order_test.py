"""Tests of `glow_ood.analysis.second_order` against direct computations."""

import numpy as np
import pytest
import tensorflow as tf

import bijectors
import glow_ood
from glow_ood.analysis import second_order


def _openai_squeeze(x):
  """openai/glow squeeze2d on `[H, W, C]` numpy: channel = c * 4 + dh * 2 + dw."""
  h, w, c = x.shape
  x = x.reshape(h // 2, 2, w // 2, 2, c).transpose(0, 2, 4, 1, 3)
  return x.reshape(h // 2, w // 2, c * 4)


def _tiny_glow(image_shape, num_levels, steps, scale="additive",
               split_prior="learned", dtype="float32", seed=0):
  config = glow_ood.GlowConfig(
      image_shape=image_shape, num_levels=num_levels,
      num_steps_per_level=steps, hidden_width=8, coupling_scale=scale,
      split_prior=split_prior, learn_top=split_prior == "learned",
      dtype=dtype, seed=seed)
  model = glow_ood.Glow(config)
  images = np.random.default_rng(seed).integers(
      0, 256, (16,) + tuple(image_shape)).astype(np.uint8)
  model.initialize(model.preprocess(images))
  return model


def _conv_column_sums(model):
  """Per level, the list of the level's 1x1 kernels' column sums (numpy)."""
  return [[tf.reduce_sum(b.kernel_and_log_abs_det()[0], 0).numpy()
           for b in level if isinstance(b, bijectors.InvertibleConv1x1)]
          for level in model.flow.levels]


def test_paper_weights_one_level_by_hand():
  model = _tiny_glow((4, 4, 2), num_levels=1, steps=3)
  weights = second_order.paper_dimension_weights(model.flow)
  (level_sums,) = _conv_column_sums(model)
  per_channel = np.sum(level_sums, axis=0)            # sum_k sum_j u_{k,c,j}
  index = _openai_squeeze(np.arange(32).reshape(4, 4, 2))
  expected = np.zeros(32)
  expected[index.reshape(-1)] = np.broadcast_to(per_channel ** 2,
                                                index.shape).reshape(-1)
  np.testing.assert_allclose(weights.reshape(-1), expected, rtol=1e-6)


def test_paper_weights_follow_squeezes_and_splits():
  model = _tiny_glow((8, 8, 1), num_levels=2, steps=2)
  weights = second_order.paper_dimension_weights(model.flow)
  level1, level2 = _conv_column_sums(model)
  sums = np.zeros(64)
  index1 = _openai_squeeze(np.arange(64).reshape(8, 8, 1))     # [4, 4, 4]
  for h in range(4):
    for w in range(4):
      for c in range(4):
        sums[index1[h, w, c]] += sum(k[c] for k in level1)
  kept = model.flow.split_priors[0].num_kept
  index2 = _openai_squeeze(index1[..., :kept])                   # [2, 2, 4 kept]
  for h in range(2):
    for w in range(2):
      for c in range(index2.shape[-1]):
        sums[index2[h, w, c]] += sum(k[c] for k in level2)
  np.testing.assert_allclose(weights.reshape(-1), sums ** 2, rtol=1e-6)
  # Dimensions factored out at level 1 see only level 1's kernels.
  out1 = index1[..., kept:]
  only_level1 = np.sum(level1, axis=0)[kept:] ** 2
  np.testing.assert_allclose(weights.reshape(-1)[out1.reshape(-1)],
                             np.broadcast_to(only_level1, out1.shape).reshape(-1),
                             rtol=1e-6)


def test_paper_prediction_by_hand():
  weights = np.stack([np.full((2, 2), a) for a in (1., 4., 9.)], axis=-1)
  variance_p = np.full((2, 2, 3), 0.06)
  variance_q = np.full((2, 2, 3), 0.05)
  variance_q[..., 2] = 0.08
  out = second_order.paper_prediction(weights, variance_p, variance_q)
  channel_difference = [4 * -0.01, 4 * -0.01, 4 * 0.02]
  expected = -0.5 * (1 * channel_difference[0] + 4 * channel_difference[1]
                     + 9 * channel_difference[2])
  assert out["predicted_gap"] == pytest.approx(expected)
  assert out["predicted_gap_per_channel"] == pytest.approx(expected)
  np.testing.assert_allclose(out["alpha"], [1., 4., 9.])
  np.testing.assert_allclose(out["channel_variance_difference"],
                             channel_difference)
  # Smaller variances than the training data's: a higher predicted likelihood.
  assert second_order.paper_prediction(
      weights, variance_p, np.full((2, 2, 3), 0.01))["predicted_gap"] > 0
  with pytest.raises(ValueError, match="must all be"):
    second_order.paper_prediction(weights, variance_p, variance_q[:1])


def test_hessian_diagonal_of_a_quadratic():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(12, 12))
  precision = a @ a.T + np.eye(12)
  shift = rng.normal(size=12)

  def log_prob_fn(x):  # -1/2 (x - m)^T A (x - m)
    flat = tf.reshape(x, [-1, 12]) - shift
    return -0.5 * tf.einsum("bi,ij,bj->b", flat, precision, flat)

  x0 = tf.constant(rng.normal(size=(2, 2, 3)))
  exact = second_order.hessian_diagonal(log_prob_fn, x0, batch_size=5)
  np.testing.assert_allclose(exact.reshape(-1), -np.diag(precision), rtol=1e-10)
  estimate = second_order.hessian_diagonal(
      log_prob_fn, x0, method="hutchinson", num_probes=4000, batch_size=500)
  # Hutchinson: error ~ sqrt(sum_{j != d} A_dj^2 / S).
  tolerance = 4 * np.sqrt((precision ** 2).sum(1) / 4000)
  assert np.all(np.abs(estimate.reshape(-1) + np.diag(precision)) < tolerance)
  with pytest.raises(ValueError, match="Unknown Hessian method"):
    second_order.hessian_diagonal(log_prob_fn, x0, method="diagonal")


def test_hessian_diagonal_of_a_glow_matches_the_full_hessian():
  model = _tiny_glow((4, 4, 1), num_levels=1, steps=2, scale="sigmoid",
                     dtype="float64")
  x0 = tf.constant(np.random.default_rng(1).uniform(-0.4, 0.4, (4, 4, 1)))
  diagonal = second_order.hessian_diagonal(model.log_prob, x0, batch_size=7)
  x = tf.reshape(x0, [1, 16])
  with tf.GradientTape() as outer:
    outer.watch(x)
    with tf.GradientTape() as inner:
      inner.watch(x)
      log_prob = model.log_prob(tf.reshape(x, [1, 4, 4, 1]))
    gradient = inner.gradient(log_prob, x)
  hessian = outer.batch_jacobian(gradient, x)[0].numpy()
  np.testing.assert_allclose(diagonal.reshape(-1), np.diag(hessian),
                             rtol=1e-6, atol=1e-8)
  assert np.any(np.abs(hessian - np.diag(np.diag(hessian))) > 1e-6)


def test_second_order_prediction_is_exact_for_an_affine_additive_glow():
  # A fresh additive Glow with standard priors is an affine map z = M x + b
  # (its coupling networks output zero), so log p is quadratic with Hessian
  # -M^T M and Eq. 5 is exact: gap = -1/2 sum_d (M^T M)_dd Delta sigma^2_d.
  model = _tiny_glow((4, 4, 2), num_levels=2, steps=2, split_prior="standard",
                     dtype="float64")
  x0 = tf.zeros([4, 4, 2], tf.float64)
  diagonal = second_order.hessian_diagonal(model.log_prob, x0)
  x = tf.zeros([1, 4, 4, 2], tf.float64)
  with tf.GradientTape() as tape:
    tape.watch(x)
    z = model.encode(x)
  jacobian = tape.batch_jacobian(z, x)[0].numpy().reshape(32, 32)
  np.testing.assert_allclose(diagonal.reshape(-1),
                             -np.sum(jacobian ** 2, axis=0), rtol=1e-8)
  rng = np.random.default_rng(2)
  variance_p = rng.uniform(0.01, 0.05, (4, 4, 2))
  variance_q = rng.uniform(0.01, 0.05, (4, 4, 2))
  predicted = second_order.hessian_prediction(diagonal, variance_p, variance_q)
  # Measured on Gaussian samples with equal means and these variances.
  num = 20000
  samples_p = rng.normal(0., np.sqrt(variance_p), (num, 4, 4, 2))
  samples_q = rng.normal(0., np.sqrt(variance_q), (num, 4, 4, 2))
  measured = (np.mean(model.log_prob(samples_q).numpy())
              - np.mean(model.log_prob(samples_p).numpy()))
  analytic = -0.5 * np.sum((jacobian ** 2).sum(0)
                           * (variance_q - variance_p).reshape(-1))
  assert predicted == pytest.approx(analytic, rel=1e-8)
  assert measured == pytest.approx(analytic, abs=0.05 * abs(analytic) + 0.05)


def test_first_order_term_is_zero_for_equal_means():
  model = _tiny_glow((4, 4, 1), num_levels=1, steps=1)
  x0 = tf.zeros([4, 4, 1])
  mean = np.full((4, 4, 1), 0.1)
  assert second_order.first_order_term(model.log_prob, x0, mean, mean) == 0.
  shifted = second_order.first_order_term(model.log_prob, x0, mean, mean + 0.01)
  assert np.isfinite(shifted) and shifted != 0.
