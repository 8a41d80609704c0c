"""Tests of `glow_ood.likelihood_terms.LikelihoodTermsEvaluator`, its units and its progress bar.

`LikelihoodTermsEvaluator` must give, per example, what the model itself gives
(`Glow.bits_per_dim`, `Glow.log_prob`) whatever the batching, and split
log P(image) (`discrete_log_prob`) into its terms exactly:

    log P = log p(z) + log|det dz/dx| - D n_bits log 2   (log p = log_prob)
    log p(z) = sum_l log p(z_l),  log|det| = sum_l log|det_l| = sum_kind ...

The model is a tiny Glow (8x8x1, 2 levels of 1 step, width 8), ActNorm
initialized on toy images and its weights then jittered so that no term is
trivially zero. Also here: `glow_ood.metrics.likelihood` (the units the
scorer uses) and `glow_ood.progress.ProgressBar` (its progress output).
"""

import io
import re

import numpy as np
import pytest
import tensorflow as tf

import glow_ood
from glow_ood import metrics
from glow_ood import preprocessing
from glow_ood import progress
from glow_ood import likelihood_terms
from glow_ood import scores as scores_lib
from tests.toy_data import toy_images

IMAGE_SHAPE = (8, 8, 1)
NUM_DIMS = 8 * 8 * 1




def make_model(n_bits=8, seed=1):
  """A tiny initialized Glow with jittered (non-trivial) weights."""
  model = glow_ood.Glow(glow_ood.GlowConfig(
      image_shape=IMAGE_SHAPE, num_levels=2, num_steps_per_level=1,
      hidden_width=8, n_bits=n_bits, seed=seed))
  model.initialize(model.preprocess(toy_images(32, seed=0), "uniform",
                                    seed=[0, 0]))
  for i, variable in enumerate(model.trainable_variables):
    variable.assign_add(0.05 * tf.random.stateless_normal(
        variable.shape, seed=[seed, i], dtype=variable.dtype))
  return model


@pytest.fixture(scope="module")
def model():
  return make_model()


@pytest.fixture(scope="module")
def images():
  # Toy images plus a constant and a saturated one: the edges of 0..255.
  return np.concatenate([toy_images(9, seed=1),
                         np.full((1,) + IMAGE_SHAPE, 255, np.uint8),
                         np.zeros((1,) + IMAGE_SHAPE, np.uint8)])


# 1. LikelihoodTermsEvaluator against the model.

BATCH_SIZES = (1, 4, 64)


@pytest.fixture(scope="module")
def scores_by_batch_size(model, images):
  """`LikelihoodTerms` of the 11 images with batches of 1, 4 (4 + 4 + 3) and 64."""
  return {b: likelihood_terms.LikelihoodTermsEvaluator(model, b)(images) for b in BATCH_SIZES}


@pytest.fixture(scope="module")
def scores(scores_by_batch_size):
  return scores_by_batch_size[4]


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_bits_per_dim_match_the_model_for_any_batching(
    model, images, scores_by_batch_size, batch_size):
  # 11 images: batch 4 ends with a partial batch of 3, 64 is one short batch.
  scores = scores_by_batch_size[batch_size]
  assert len(scores) == 11
  assert scores.bits_per_dim.shape == (11,)
  assert scores.bits_per_dim.dtype == np.float64
  np.testing.assert_allclose(scores.bits_per_dim,
                             model.bits_per_dim(images).numpy(), rtol=1e-5)
  # Not a constant: the images get different numbers.
  assert np.ptp(scores.bits_per_dim) > 0.1


def test_same_numbers_whatever_the_batch_size(scores_by_batch_size):
  one = scores_by_batch_size[1]
  for batch_size in BATCH_SIZES[1:]:
    many = scores_by_batch_size[batch_size]
    for term in ("discrete_log_prob", "log_prob", "log_prob_z", "log_det",
                 "log_prob_z_per_level", "log_det_per_level"):
      np.testing.assert_allclose(getattr(many, term), getattr(one, term),
                                 rtol=1e-5, atol=1e-4,
                                 err_msg=f"{term}, batch {batch_size}")


@pytest.mark.parametrize("n_bits", [8, 5])
def test_discrete_log_prob_is_the_sum_of_its_terms(images, n_bits):
  model = make_model(n_bits=n_bits)
  scores = likelihood_terms.LikelihoodTermsEvaluator(model, 4)(images)
  assert scores.num_dims == NUM_DIMS and scores.n_bits == n_bits
  # log P = log p(z) + log|det| - D n_bits log 2.
  np.testing.assert_allclose(
      scores.discrete_log_prob,
      scores.log_prob_z + scores.log_det - NUM_DIMS * n_bits * np.log(2.),
      rtol=1e-12)
  # The continuous part is the model's own log p(x) (the TFP flow's
  # log-det and base density, another code path than `decompose`).
  continuous = model.log_prob(model.preprocess(images, "center")).numpy()
  np.testing.assert_allclose(scores.log_prob_z + scores.log_det, continuous,
                             rtol=1e-5)
  # `log_prob` is that continuous log p(x), as `Glow.log_prob`.
  np.testing.assert_array_equal(scores.log_prob,
                                scores.log_prob_z + scores.log_det)
  np.testing.assert_allclose(scores.log_prob, continuous, rtol=1e-5)
  # bits/dim = -log P / (D log 2), the model's bits/dim at these n_bits.
  np.testing.assert_allclose(
      scores.bits_per_dim, -scores.discrete_log_prob / (NUM_DIMS * np.log(2.)),
      rtol=1e-12)
  np.testing.assert_allclose(scores.bits_per_dim,
                             model.bits_per_dim(images).numpy(), rtol=1e-5)


def test_per_level_and_per_kind_terms_sum_to_the_totals(scores):
  assert scores.log_prob_z_per_level.shape == (11, 2)
  assert scores.log_det_per_level.shape == (11, 2)
  # float32 sums in the model: a few 1e-6 of the terms' size.
  np.testing.assert_allclose(scores.log_prob_z_per_level.sum(-1),
                             scores.log_prob_z, rtol=1e-6, atol=1e-4)
  np.testing.assert_allclose(scores.log_det_per_level.sum(-1), scores.log_det,
                             rtol=1e-6, atol=1e-4)
  np.testing.assert_allclose(
      scores.level_contributions,
      scores.log_prob_z_per_level + scores.log_det_per_level, rtol=1e-12)
  np.testing.assert_allclose(scores.level_contributions.sum(-1),
                             scores.log_prob_z + scores.log_det, rtol=1e-6,
                             atol=1e-4)
  assert scores.log_det_per_kind, "no log-det kinds"
  for kind, values in scores.log_det_per_kind.items():
    assert values.shape == (11,), kind
  np.testing.assert_allclose(sum(scores.log_det_per_kind.values()),
                             scores.log_det, rtol=1e-6, atol=1e-4)
  # ActNorm and the coupling's scale have a non-zero log-det.
  assert np.all(np.abs(scores.log_det_per_kind["actnorm"]) > 1.)


def test_summary_is_the_mean_of_each_term(scores):
  summary = scores.summary()
  # The discrete log P only: no `log_prob` key whose meaning could be mistaken.
  assert "log_prob" not in summary
  for term in ("discrete_log_prob", "bits_per_dim", "log_prob_z", "log_det"):
    assert summary[term] == pytest.approx(np.mean(getattr(scores, term)),
                                          rel=1e-12)
    assert isinstance(summary[term], float)
  np.testing.assert_allclose(summary["log_prob_z_per_level"],
                             scores.log_prob_z_per_level.mean(0))
  np.testing.assert_allclose(summary["log_det_per_level"],
                             scores.log_det_per_level.mean(0))
  assert summary["log_det_per_kind"] == pytest.approx(
      {k: np.mean(v) for k, v in scores.log_det_per_kind.items()})


def test_latents_come_from_the_same_pass_as_the_terms(model, images, scores):
  assert scores.latents is None and scores.statistics is None
  with_latents = likelihood_terms.LikelihoodTermsEvaluator(model, 4, latents=True)(images)
  assert with_latents.latents.shape == (11, NUM_DIMS)
  assert with_latents.latents.dtype == np.float32
  np.testing.assert_allclose(
      with_latents.latents,
      model.encode(model.preprocess(images, "center")).numpy(), rtol=1e-5,
      atol=1e-5)
  for term in ("discrete_log_prob", "log_prob_z_per_level",
               "log_det_per_level"):
    np.testing.assert_array_equal(getattr(with_latents, term),
                                  getattr(scores, term))
  dims = [int(s.num_elements()) for s in model.flow.latent_shapes]
  features = scores_lib.from_likelihood_terms(with_latents,
                                               num_dims_per_level=dims)
  np.testing.assert_array_equal(features.latents, with_latents.latents)
  # The latents are standardized under the learned priors: each level's
  # log p(z_l) is log N(eps_l; 0, I) plus its prior's log-det, -sum log
  # sigma_l (not 0: the priors' weights are jittered).
  gaussian = np.stack([-0.5 * np.sum(eps.astype(np.float64) ** 2, axis=1)
                       - eps.shape[1] / 2 * np.log(2 * np.pi)
                       for eps in features.latents_per_level()], axis=1)
  prior_log_det = scores.log_prob_z_per_level - gaussian
  _, terms = model.flow.forward_with_terms(model.preprocess(images, "center"))
  np.testing.assert_allclose(prior_log_det, terms["latent_log_det"].numpy(),
                             rtol=1e-4, atol=1e-3)
  assert np.abs(prior_log_det).min() > 0.01
  with pytest.raises(glow_ood.models.MissingCapabilityError, match="statistics"):
    likelihood_terms.LikelihoodTermsEvaluator(model, statistics=True)


def test_statistics_of_a_model_that_offers_them():
  from glow_ood.models.vae import VAE   # pylint: disable=g-import-not-at-top
  vae = VAE(glow_ood.configs.VAEConfig(image_shape=IMAGE_SHAPE, widths=(4, 8),
                                       latent_dim=2, eval_samples=3, seed=0))
  images = toy_images(7, seed=2)
  plain = likelihood_terms.LikelihoodTermsEvaluator(vae, 3)(images)
  scored = likelihood_terms.LikelihoodTermsEvaluator(vae, 3, statistics=True)(images)
  np.testing.assert_array_equal(scored.discrete_log_prob,
                                plain.discrete_log_prob)
  expected = vae.summary_statistics(images)
  assert sorted(scored.statistics) == sorted(expected)
  for name, value in expected.items():
    np.testing.assert_allclose(scored.statistics[name], value.numpy(),
                               rtol=1e-5, atol=1e-5)
  features = scores_lib.from_likelihood_terms(scored)
  assert sorted(features.statistics) == sorted(expected)
  with pytest.raises(glow_ood.models.MissingCapabilityError, match="decomposition"):
    likelihood_terms.LikelihoodTermsEvaluator(vae, latents=True)


def test_bad_inputs(model, images):
  scorer = likelihood_terms.LikelihoodTermsEvaluator(model, 4)
  with pytest.raises(TypeError, match=r"uint8.*got float32"):
    scorer(images.astype(np.float32))
  with pytest.raises(ValueError, match=r"\[N, 8, 8, 1\].*\[11, 8, 8, 3\].*"
                                       r"conform_images"):
    scorer(np.repeat(images, 3, axis=-1))
  with pytest.raises(ValueError, match=r"add the batch axis"):
    scorer(images[0])                       # one image without batch axis
  with pytest.raises(ValueError, match=r"No images"):
    scorer(images[:0])
  with pytest.raises(ValueError, match=r"batch_size must be >= 1; got 0"):
    likelihood_terms.LikelihoodTermsEvaluator(model, 0)


# 2. Progress output.

def _lines(text):
  return [line for line in text.splitlines() if line]


def test_scorer_progress_goes_to_the_given_stream(model, images, scores,
                                                  capsys):
  stream = io.StringIO()
  scorer = likelihood_terms.LikelihoodTermsEvaluator(model, 4)
  with_bar = scorer(images, description="toy/test", stream=stream)
  np.testing.assert_array_equal(with_bar.discrete_log_prob,
                                scores.discrete_log_prob)
  lines = _lines(stream.getvalue())
  # 3 batches (4 + 4 + 3): one line per batch here, the last one complete.
  assert [re.search(r"\] (\d+/\d+)", l).group(1) for l in lines] == [
      "1/3", "2/3", "3/3"]
  assert all(l.startswith("toy/test [") for l in lines)
  assert re.search(r"\[#{24}\] 3/3  \d+:\d\d elapsed$", lines[-1]), lines[-1]
  assert "ETA" not in lines[-1]
  captured = capsys.readouterr()
  assert captured.err == "" and captured.out == ""
  # No description: no bar at all.
  scorer(images, stream=stream)
  assert _lines(stream.getvalue()) == lines


def _counts(text):
  return [int(re.search(r"\] (\d+)/", l).group(1)) for l in _lines(text)]


@pytest.mark.parametrize("total, expected", [
    # A line when the tenth done changes: at the start, then every tenth.
    (100, [1] + list(range(10, 101, 10))),
    (20, [1] + list(range(2, 21, 2))),
    (3, [1, 2, 3]),
])
def test_progress_bar_prints_a_line_per_tenth_when_not_a_terminal(total,
                                                                  expected):
  stream = io.StringIO()
  with progress.ProgressBar(total, "task", stream) as bar:
    for _ in range(total):
      bar.update()
  assert _counts(stream.getvalue()) == expected
  last = _lines(stream.getvalue())[-1]
  assert f"{total}/{total}" in last and "ETA" not in last
  assert "\r" not in stream.getvalue()


def test_progress_bar_clamps_and_counts_steps_of_several_items():
  stream = io.StringIO()
  bar = progress.ProgressBar(10, "task", stream)
  bar.update(4)
  bar.update(100)        # more than is left: capped at the total
  bar.close()
  assert _counts(stream.getvalue()) == [4, 10]
  empty = io.StringIO()
  progress.ProgressBar(0, "nothing", empty).update()   # total 0 acts as 1
  assert _counts(empty.getvalue()) == [1]


class _Terminal(io.StringIO):

  def isatty(self):
    return True


def test_progress_bar_redraws_one_line_on_a_terminal():
  stream = _Terminal()
  with progress.ProgressBar(4, "task", stream) as bar:
    for _ in range(4):
      bar.update()
  text = stream.getvalue()
  assert text.count("\r") == 4 and text.endswith("\n") and text.count("\n") == 1
  assert text.rstrip("\n").split("\r")[-1].startswith("task [" + "#" * 24
                                                       + "] 4/4")


# 3. Likelihood units (glow_ood.metrics.likelihood).

def test_uniform_over_the_levels_is_n_bits_per_dim():
  # The uniform density on [-0.5, 0.5)^D is 1 (log 0): each of the 2**n_bits
  # levels of every dimension then has probability 2**-n_bits.
  for n_bits in (8, 5, 1):
    discrete_log_prob = metrics.discrete_log_prob(np.zeros(3), NUM_DIMS,
                                                  n_bits)
    np.testing.assert_allclose(discrete_log_prob,
                               -NUM_DIMS * n_bits * np.log(2.), rtol=1e-15)
    np.testing.assert_allclose(
        metrics.bits_per_dim(np.zeros(3), NUM_DIMS, n_bits), [n_bits] * 3,
        rtol=1e-15)
  assert metrics.bits_per_dim(0., NUM_DIMS) == 8.


def test_units_round_trip_and_agree_with_preprocessing():
  continuous = np.array([-100., 0., 37.5, 512.])
  for n_bits in (8, 3):
    discrete_log_prob = metrics.discrete_log_prob(continuous, 12, n_bits)
    np.testing.assert_allclose(discrete_log_prob - continuous,
                               -12 * n_bits * np.log(2.), rtol=1e-14)
    bits = metrics.bits_per_dim(continuous, 12, n_bits)
    # bits/dim = -log P / (D log 2) of the discrete log-probability.
    np.testing.assert_allclose(
        bits, -discrete_log_prob / (12 * np.log(2.)), rtol=1e-14)
    np.testing.assert_allclose(
        metrics.log_prob_from_bits_per_dim(bits, 12, n_bits), continuous,
        rtol=1e-14, atol=1e-12)
    # The same function (and number) as the training loss's, on tf Tensors.
    assert metrics.bits_per_dim is preprocessing.bits_per_dim
    np.testing.assert_allclose(
        bits, preprocessing.bits_per_dim(tf.constant(continuous), 12,
                                         n_bits).numpy(),
        rtol=1e-12)
  # One more nat of probability is 1 / (D log 2) fewer bits/dim.
  np.testing.assert_allclose(
      metrics.bits_per_dim([-10.], 12) - metrics.bits_per_dim([-9.], 12),
      [1. / (12 * np.log(2.))], rtol=1e-12)


def test_bad_units_arguments():
  with pytest.raises(ValueError, match=r"num_dims must be >= 1; got 0"):
    metrics.bits_per_dim([1.], 0)
  with pytest.raises(ValueError, match=r"n_bits must be in 1..8; got 9"):
    metrics.discrete_log_prob([1.], 4, n_bits=9)
  with pytest.raises(ValueError, match=r"num_dims must be >= 1"):
    metrics.log_prob_from_bits_per_dim([1.], -3)
