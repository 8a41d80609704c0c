"""Tests of `glow_ood.scores.empirical_null.EmpiricalNull` against exact laws."""

import numpy as np
import pytest

from glow_ood.scores import empirical_null


def test_count_based_p_values_by_hand():
  null = empirical_null.EmpiricalNull([1., 2., 3., 4., 5., 6., 7., 8., 9., 10.],
                                      tail_fraction=0.1, min_tail=5)
  # n = 10, k = 5: the count-based part holds up to u = 6.
  p = np.exp(null.log_p([0., 1., 5.5, 6.]))
  np.testing.assert_allclose(p, [11 / 11, 11 / 11, 6 / 11, 6 / 11])
  # The lower tail is the upper tail of -S: counts from 5 up, below 5 an
  # exponential with the mean excess of {1, 2, 3, 4} below 5, 2.5.
  lower = np.exp(null.log_p([6., 10., 1.], "less"))
  np.testing.assert_allclose(lower, [7 / 11, 11 / 11,
                                     5 / 11 * np.exp(-4. / 2.5)])
  # Two-sided: twice the smaller tail, at most 1.
  np.testing.assert_allclose(np.exp(null.log_p([5., 1.], "two-sided")),
                             [1., 2 * 5 / 11 * np.exp(-4. / 2.5)])


def test_tail_is_continuous_decreasing_and_exponential():
  values = np.arange(1., 101.)     # n = 100, k = 5: u = 96, excess mean 2.5
  null = empirical_null.EmpiricalNull(values, tail_fraction=0.05)
  just_above = null.log_p([96. + 1e-9])[0]
  assert np.exp(just_above) == pytest.approx(5 / 101, rel=1e-6)
  s = np.linspace(0., 200., 2001)
  log_p = null.log_p(s)
  assert np.all(np.diff(log_p) <= 1e-12) and np.all(np.isfinite(log_p))
  np.testing.assert_allclose(null.log_p([106.])[0],
                             np.log(5 / 101) - 10. / 2.5)
  assert null.log_p([1e6])[0] < -1e5   # far beyond: still finite, ranked


def test_p_values_of_new_exchangeable_values_are_uniform():
  rng = np.random.default_rng(0)
  # For each of many calibration sets, one new value from the same law:
  # P(p <= a) = floor(a (n + 1)) / (n + 1) exactly, for a above the tail.
  n = 99
  p = np.empty(20000)
  for i in range(len(p)):
    sample = rng.exponential(size=n + 1)
    null = empirical_null.EmpiricalNull(sample[:n], tail_fraction=0.05)
    p[i] = np.exp(null.log_p(sample[n:])[0])
  for a in (0.1, 0.25, 0.5):
    # Binomial sd of the rate: at most 0.0035.
    assert np.mean(p <= a) == pytest.approx(a, abs=0.012)


def test_the_tail_follows_an_exponential_law():
  rng = np.random.default_rng(1)
  null = empirical_null.EmpiricalNull(rng.exponential(size=5000))
  # Beyond the calibration range P(S >= s) = exp(-s) for Exp(1).
  for s in (9., 12.):
    assert null.log_p([s])[0] == pytest.approx(-s, abs=0.6)


def test_bad_arguments():
  with pytest.raises(ValueError, match="at least 2"):
    empirical_null.EmpiricalNull([1.])
  with pytest.raises(ValueError, match="NaN or inf"):
    empirical_null.EmpiricalNull([1., np.nan, 2.])
  with pytest.raises(ValueError, match="tail_fraction"):
    empirical_null.EmpiricalNull([1., 2.], tail_fraction=1.)
  with pytest.raises(ValueError, match="alternative"):
    empirical_null.EmpiricalNull([1., 2.]).log_p([1.], "both")
