"""`EmpiricalNull`: p-values of a statistic from its values on in-distribution examples.

A test whose null law has no closed form (a statistic of a trained model on
in-distribution inputs) gets its p-values from `n` calibration values
`v_1, ..., v_n` of the statistic, computed on held-out in-distribution
examples the model was not fitted on. For a new value `s`,

    p(s) = (1 + #{j : v_j >= s}) / (n + 1)                       (upper tail)

is a valid p-value: for `s` exchangeable with the `v_j` (an in-distribution
input), `P(p(s) <= a) <= a` for every `a`, uniform on `{1, ..., n + 1} /
(n + 1)`. It bottoms out at `1 / (n + 1)`, which would tie every input
beyond the largest calibration value; so beyond `u = v_(n-k+1)`, the `k`-th
largest value (`k = max(min_tail, ceil(tail_fraction n))`), `p` continues
with an exponential tail fitted to the `k - 1` excesses over `u` (the
peaks-over-threshold model with a zero shape parameter; `beta` their mean,
its maximum-likelihood estimate):

    p(s) = k / (n + 1) * exp(-(s - u) / beta),    s > u,

which equals the count-based `p` just above `u` (continuous, decreasing in
`s`) and ranks inputs far beyond the calibration range by how far they are.
Only p-values below `k / (n + 1)` (about `tail_fraction`) come from the
tail model.

The lower tail (`P(S <= s)`) is the upper tail of `-S`; the two-sided
p-value is `min(1, 2 min(p_upper, p_lower))`.

Every p-value is returned as its log (finite, `<= 0`).

#### References
[1]: Vovk, Gammerman & Shafer. Algorithmic Learning in a Random World.
     Springer 2005 (conformal p-values from calibration scores).
[2]: Pickands. Statistical Inference Using Extreme Order Statistics. Annals
     of Statistics 3(1), 1975 (peaks over a threshold).
"""

import math

import numpy as np

__all__ = ["EmpiricalNull", "ALTERNATIVES"]

ALTERNATIVES = ("greater", "less", "two-sided")


class _UpperTail:
  """`log P(S >= s)` from calibration values (see the module docstring)."""

  def __init__(self, values, tail_fraction, min_tail):
    self._sorted = np.sort(values)
    n = len(values)
    self._n = n
    k = min(n, max(int(min_tail), int(math.ceil(tail_fraction * n))))
    self.tail_size = k
    self.threshold = float(self._sorted[n - k])
    excess = self._sorted[n - k + 1:] - self.threshold
    spread = float(np.mean(excess)) if len(excess) else 0.
    # A tail of ties (a discrete statistic) has no spread: a tiny scale
    # keeps p decreasing beyond it.
    self.scale = max(spread, 1e-12 * max(1., abs(self.threshold)))

  def log_sf(self, s):
    s = np.asarray(s, np.float64)
    shape, s = s.shape, s.reshape(-1)
    counts = self._n - np.searchsorted(self._sorted, s, side="left")
    out = np.log1p(counts) - np.log1p(self._n)
    beyond = s > self.threshold
    out[beyond] = (np.log(self.tail_size) - np.log1p(self._n)
                   - (s[beyond] - self.threshold) / self.scale)
    return out.reshape(shape)


class EmpiricalNull:
  """Log p-values of a statistic against its calibration values.

  Args:
    values: float `[n]`, the statistic on held-out in-distribution
      examples, `n >= 2`, finite.
    tail_fraction: Python `float` in (0, 1), the fraction of the values
      in each tail that fit its exponential continuation. Default value:
      `0.02`.
    min_tail: Python `int >= 2`, the least number of values in a tail.
      Default value: `5`.
  """

  def __init__(self, values, tail_fraction=0.02, min_tail=5):
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or len(values) < 2:
      raise ValueError(f"EmpiricalNull needs at least 2 calibration values "
                       f"[n]; got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
      raise ValueError("EmpiricalNull: the calibration values have NaN or "
                       "inf entries.")
    if not 0. < tail_fraction < 1.:
      raise ValueError(f"EmpiricalNull: tail_fraction must be in (0, 1); got "
                       f"{tail_fraction!r}.")
    if int(min_tail) != min_tail or min_tail < 2:
      raise ValueError(f"EmpiricalNull: min_tail must be an int >= 2; got "
                       f"{min_tail!r}.")
    self.num_values = len(values)
    self._upper = _UpperTail(values, tail_fraction, min_tail)
    self._lower = _UpperTail(-values, tail_fraction, min_tail)

  def log_p(self, statistic, alternative="greater"):
    """`log p` of each value of `statistic` (float `[...]`) -> float64 `[...]`.

    Args:
      statistic: float array.
      alternative: `"greater"` (`P(S >= s)`, large values are extreme),
        `"less"` (`P(S <= s)`) or `"two-sided"`. Default value:
        `"greater"`.
    """
    if alternative not in ALTERNATIVES:
      raise ValueError(f"Unknown alternative {alternative!r}; choose one of "
                       f"{ALTERNATIVES}.")
    statistic = np.asarray(statistic, np.float64)
    if alternative == "greater":
      return self._upper.log_sf(statistic)
    if alternative == "less":
      return self._lower.log_sf(-statistic)
    return np.minimum(0., np.log(2.) + np.minimum(
        self._upper.log_sf(statistic), self._lower.log_sf(-statistic)))
