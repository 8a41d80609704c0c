"""Tests of `glow_ood.scores.GradientScoreTest` on a model whose Fisher information is known.

The model is the diagonal Gaussian of `gaussian_family` (16 pixels, fitted
by maximum likelihood on 20000 images): its per-example gradients, their
Fisher information `diag(1 / sigma^2, 2)` and the score statistic are
known in closed form. Held-out sets of 2000 images (1000 estimate `F`, 1000
calibrate) fit the score; 2000 new in-distribution images must get uniform
p-values (the rejection rate at level 0.05 within 0.03..0.075: binomial sd
0.005 over the test images plus 0.007 from the 1000 calibration values) and
images shifted in mean or scaled must be detected.
"""

import json

import numpy as np
import pytest

from glow_ood import metrics
from glow_ood import scores
from glow_ood.scores import gradient_score
from glow_ood.scores import pass_memo
from tests.glow_ood.scores import gaussian_family


@pytest.fixture(scope="module")
def model():
  return gaussian_family.trained_model()


@pytest.fixture(scope="module")
def heldout():
  return scores.Features(images=gaussian_family.gaussian_images(2000, seed=1))


@pytest.fixture(scope="module")
def test_set():
  return scores.Features(images=gaussian_family.gaussian_images(2000, seed=2))


def features(num, seed, **kwargs):
  return scores.Features(
      images=gaussian_family.gaussian_images(num, seed, **kwargs))


@pytest.fixture(scope="module")
def fitted(model, heldout):
  """The default score and its two-sided variant, fitted once."""
  return {alternative: scores.GradientScoreTest(
      model, score_alternative=alternative).fit(heldout)
          for alternative in ("greater", "two-sided")}


def test_the_score_statistic_is_the_closed_form(model, heldout, fitted):
  score = fitted["greater"]
  # s = sum_d z_d^2 / (sigma_d^2 F_loc) + (z_d^2 - 1)^2 / F_scale with F
  # estimated; with the exact F = (1 / sigma^2, 2):
  z = model.standardized(heldout.images[:50])
  exact = np.sum(z ** 2 + (z ** 2 - 1.) ** 2 / 2., axis=1)
  s, _ = score._statistics(heldout.images[:50])
  # F estimated from 1000 examples: within ~10% (the log-scale entries have
  # relative sd sqrt(56 / 1000) / 2 = 12% each, averaged over 16 pixels).
  np.testing.assert_allclose(np.mean(s), np.mean(exact), rtol=0.1)
  assert np.corrcoef(s, exact)[0, 1] > 0.99
  # E[s] = P (the number of parameters) when F is the gradients' second
  # moment and their mean is 0, as at a maximum-likelihood fit.
  config = score.config()
  assert config["score_statistic_mean_per_parameter"] == pytest.approx(
      1., abs=0.1)
  assert config["num_parameters"] == 32
  assert config["num_fisher_examples"] == config[
      "num_calibration_examples"] == 1000


@pytest.mark.parametrize("alternative", ["greater", "two-sided"])
def test_in_distribution_p_values_are_uniform(fitted, test_set, alternative):
  score = fitted[alternative]
  p = np.exp(score.log_p_values(test_set))           # [2000, 2]
  for column in p.T:
    assert 0.03 <= np.mean(column < 0.05) <= 0.075
    assert np.mean(column < 0.01) <= 0.025
    # All test p-values share one calibration set, so they are not
    # independent: bound the distance of their ECDF to the uniform CDF by
    # the two DKW bands at 99.9% (1000 calibration and 2000 test values).
    grid = np.linspace(0., 1., 201)
    ecdf = np.searchsorted(np.sort(column), grid, side="right") / len(column)
    assert np.max(np.abs(ecdf - grid)) < 0.062 + 0.044
  # The calibrated threshold flags about 1 - alpha = 5% of new images.
  assert 0.03 <= np.mean(score.is_ood(test_set)) <= 0.075
  # Fisher's combination itself is not: s and t grow together (both with
  # sum z^2), so the combined p-value falls below 0.05 more often than 5%.
  assert score.config()["heldout_rejection_rate"] > 0.05


@pytest.mark.parametrize("alternative, shift, scale", [
    ("greater", 1.5, 1.), ("greater", 0., 1.5), ("two-sided", 1.5, 1.),
    ("two-sided", 0., 1.5), ("two-sided", 0., 0.5)])
def test_shifted_or_scaled_inputs_are_detected(fitted, test_set, alternative,
                                               shift, scale):
  score = fitted[alternative]
  out = features(1000, seed=3, shift=shift, scale=scale)
  assert metrics.auroc(score(test_set), score(out)) > 0.9
  assert np.mean(score.is_ood(out)) > 0.5


def test_too_concentrated_inputs_need_the_two_sided_score_test(
    model, heldout, test_set):
  # Inputs at half the standard deviation have smaller gradients than any
  # in-distribution input: the one-sided score test ranks them as the
  # *most* typical, the two-sided one detects them.
  out = features(1000, seed=4, scale=0.5)
  one_sided = scores.GradientScoreTest(model, tests=("score",)).fit(heldout)
  two_sided = scores.GradientScoreTest(
      model, tests=("score",), score_alternative="two-sided").fit(heldout)
  assert metrics.auroc(one_sided(test_set), one_sided(out)) < 0.1
  assert metrics.auroc(two_sided(test_set), two_sided(out)) > 0.9


def test_batches_detect_a_small_shift(model, heldout):
  score = scores.GradientScoreTest(model, batch_size=10).fit(heldout)
  test = features(3000, seed=5)
  out = features(3000, seed=6, shift=0.5)
  single = scores.GradientScoreTest(model).fit(heldout)
  assert metrics.auroc(single(test), single(out)) < 0.75
  assert metrics.auroc(score.score_batches(test),
                       score.score_batches(out)) > 0.85
  # 300 batches per set: binomial sd 0.013, plus the bootstrap threshold's.
  assert np.mean(score.is_ood(test)) < 0.12
  assert np.mean(score.is_ood(out)) > 0.5
  assert score.score_batches(test).shape == (300,)


def test_passes_are_remembered_per_images_and_weights(model, heldout):
  score = scores.GradientScoreTest(model, tests=("score",)).fit(heldout)
  calls = []
  run = score.gradients.run

  def counting_run(images, **kwargs):
    calls.append(len(images))
    return run(images, **kwargs)

  score.gradients.run = counting_run
  test = features(40, seed=7)
  first = score(test)
  np.testing.assert_array_equal(first, score(test))
  score.score_batches(test)
  assert calls == [40]
  # Refitting on the same held-out images (a benchmark does, per OOD pair)
  # reuses both of the fit's passes and gives the same score.
  score.fit(heldout)
  np.testing.assert_array_equal(first, score(test))
  assert calls == [40]
  # A changed weight is a different model: the pass runs again.
  model.loc.assign_add(np.full([16], 1e-3, np.float32))
  try:
    assert not np.array_equal(first, score(test))
    assert calls == [40, 40]
  finally:
    model.loc.assign_sub(np.full([16], 1e-3, np.float32))


def test_scores_sharing_a_memo_run_each_pass_once(model, heldout):
  """A shared `PassMemo`: the batched score reuses the one-example score's passes.

  Its keys hold the pass settings, so gradient norms (same model, another
  pass) and a score with another seed do not take those results.
  """
  memo = pass_memo.PassMemo(model)
  single = scores.GradientScoreTest(model, memo=memo)
  batched = scores.GradientScoreTest(model, batch_size=10, memo=memo)
  other_seed = scores.GradientScoreTest(model, seed=1, memo=memo)
  norms = scores.GradientNorms(model, memo=memo)
  calls = []
  for score in (single, batched, other_seed, norms):
    run = score.gradients.run

    def counting_run(images, run=run, name=score.name, **kwargs):
      calls.append((name, len(images)))
      return run(images, **kwargs)

    score.gradients.run = counting_run
  test = features(40, seed=9)
  single.fit(heldout)
  assert calls == [("gradient_score_test", 1000)] * 2   # Fisher, calibration
  first = single(test)
  assert calls[2:] == [("gradient_score_test", 40)]
  batched.fit(heldout)
  np.testing.assert_array_equal(batched(test), first)
  assert batched.score_batches(test).shape == (4,)
  assert len(calls) == 3
  other_seed.fit(heldout)      # another split of the held-out images
  norms.fit(heldout)
  assert calls[3:] == [("gradient_score_test", 1000)] * 2 + [
      ("gradient_norms", 2000)]
  with pytest.raises(ValueError, match="passes of another model"):
    scores.GradientScoreTest(gaussian_family.trained_model(), memo=memo)


def test_model_weights_are_not_changed(model, heldout):
  before = [v.numpy().copy() for v in model.variables]
  score = scores.GradientScoreTest(model).fit(heldout[:100])
  score(features(20, seed=8))
  for old, new in zip(before, model.variables):
    np.testing.assert_array_equal(old, new.numpy())


def test_registry_config_and_errors(model, heldout):
  score = scores.make_score("gradient_score_test", model=model, variables=1,
                            batch_size=2)
  assert score.gradients.layers == ("log_scale",)
  with pytest.raises(scores.NotFittedError, match="fit"):
    score(features(4, seed=9))
  score.fit(heldout[:200])
  config = json.loads(json.dumps(score.config()))
  assert config["name"] == "gradient_score_test"
  assert config["variables"] == 1 and config["num_parameters"] == 16
  assert config["threshold"] == score.threshold
  with pytest.raises(ValueError, match="at least 2 examples"):
    scores.GradientScoreTest(model).fit(heldout[:11])
  with pytest.raises(ValueError, match="needs Features field"):
    score.fit(scores.Features(discrete_log_prob=np.zeros(20)))
  with pytest.raises(ValueError, match="tests"):
    scores.GradientScoreTest(model, tests=("score", "likelihood"))
  with pytest.raises(ValueError, match="score_alternative"):
    scores.GradientScoreTest(model, score_alternative="less")
  with pytest.raises(TypeError, match="variables"):
    gradient_score.variables_config([model.loc])
