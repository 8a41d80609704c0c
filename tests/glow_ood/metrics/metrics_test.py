"""Tests of `glow_ood.metrics` on hand-made arrays."""

import numpy as np
import pytest

from glow_ood import metrics


def test_perfectly_separated_scores():
  assert metrics.auroc([0., 1., 2.], [3., 4.]) == 1.
  assert metrics.auroc([3., 4.], [0., 1., 2.]) == 0.
  assert metrics.aupr([0., 1., 2.], [3., 4.]) == pytest.approx(1.)
  assert metrics.aupr([0., 1., 2.], [3., 4.], positive="in") == pytest.approx(1.)
  assert metrics.fpr_at_tpr([0., 1., 2.], [3., 4.]) == 0.


def test_identical_scores_are_chance():
  scores = np.ones(10)
  assert metrics.auroc(scores, scores) == 0.5
  # Every threshold flags everything: precision = fraction of positives.
  assert metrics.aupr(scores, scores[:5]) == pytest.approx(5 / 15)
  assert metrics.fpr_at_tpr(scores, scores) == 1.


def test_auroc_matches_pairwise_definition():
  rng = np.random.default_rng(0)
  a = rng.integers(0, 5, 40).astype(float)   # with ties
  b = rng.integers(2, 8, 30).astype(float)
  pairs = (b[None, :] > a[:, None]).mean() + 0.5 * (b[None, :] == a[:, None]).mean()
  assert metrics.auroc(a, b) == pytest.approx(pairs)


def test_fpr_at_95_tpr_by_hand():
  out_scores = np.arange(100, 120)   # 20 OOD scores: 19 of 20 are >= 101
  in_scores = np.array([100.5, 101., 99., 50.])
  assert metrics.fpr_at_tpr(in_scores, out_scores) == 0.25   # only 101.


def test_ensemble_of_identical_members_equals_the_member():
  member = np.array([-1e4, -3.5, -2e4 + 0.25])
  np.testing.assert_allclose(metrics.ensemble_log_prob([member] * 5), member)


def test_ensemble_is_stable_and_exact_for_large_log_probs():
  log_probs = np.array([[-1e4, -2e4], [-1e4 + np.log(3.), -2e4]])
  # log((e^a + 3 e^a) / 2) = a + log 2
  np.testing.assert_allclose(metrics.ensemble_log_prob(log_probs),
                             [-1e4 + np.log(2.), -2e4])
  with pytest.raises(ValueError, match=r"\[M, N\]"):
    metrics.ensemble_log_prob(np.zeros(3))


def test_bootstrap_interval_brackets_the_value():
  rng = np.random.default_rng(1)
  value, low, high = metrics.bootstrap_interval(
      metrics.auroc, rng.normal(0, 1, 200), rng.normal(1, 1, 200),
      num_resamples=200)
  assert low <= value <= high and 0.6 < low and high < 0.9


def test_infinite_scores_rank_as_the_most_extreme():
  # A likelihood that underflowed: bits/dim +inf is the most OOD score.
  inf = np.inf
  assert metrics.auroc([1., 2., 3.], [inf, inf]) == 1.
  assert metrics.auroc([1., 2., inf], [1.5, 2.5]) == 0.5
  assert metrics.auroc([-inf, 0.], [1.]) == 1.
  assert metrics.fpr_at_tpr([1., 2.], [inf, 5.]) == 0.
  assert metrics.aupr([1., 2.], [inf, 5.]) == pytest.approx(1.)


def test_bad_inputs():
  with pytest.raises(ValueError, match="1 of the 1 in-distribution scores are NaN"):
    metrics.auroc([np.nan], [1.])
  with pytest.raises(ValueError, match="Both"):
    metrics.auroc([], [1.])
  with pytest.raises(ValueError, match="positive"):
    metrics.aupr([0.], [1.], positive="both")


def test_seed_bootstrap_interval_covers_seed_variation():
  rng = np.random.default_rng(0)
  separated = [rng.normal(0, 1, 200) for _ in range(3)]
  shifted = [rng.normal(shift, 1, 200) for shift in (0.5, 1.0, 3.0)]
  mean, low, high, per_seed = metrics.seed_bootstrap_interval(
      metrics.auroc, separated, shifted, num_resamples=300)
  assert per_seed == [metrics.auroc(a, b) for a, b in zip(separated, shifted)]
  assert mean == pytest.approx(np.mean(per_seed))
  assert low < mean < high
  # Seeds disagree (AUROC ~0.64 .. ~0.98): the interval spans much of that,
  # far more than one seed's example-level interval.
  _, one_low, one_high = metrics.bootstrap_interval(
      metrics.auroc, separated[0], shifted[0], num_resamples=300)
  assert high - low > 2 * (one_high - one_low)
  # Identical seeds: the interval is the example-level one, roughly.
  same = metrics.seed_bootstrap_interval(
      metrics.auroc, [separated[0]] * 3, [shifted[1]] * 3, num_resamples=300)
  assert same[1] < same[0] < same[2] and same[2] - same[1] < 0.1
  with pytest.raises(ValueError, match="same number"):
    metrics.seed_bootstrap_interval(metrics.auroc, separated, shifted[:2])
