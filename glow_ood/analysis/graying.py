"""Graying: the likelihood of images shrunk towards mid-grey (Nalisnick et al., Fig. 6b).

`glow_ood.data.special.grayed_images(x, a)` maps every pixel to
`round(128 + a (x - 128))`: contrast factor `a` in [0, 1], `a = 1` the images
themselves, `a = 0` a constant 128. Graying scales every pixel's deviation
from 128 by `a`, so each per-dimension variance by `a^2` (up to rounding to
integers), and the paper's second-order argument predicts that a
constant-volume Glow gives the grayed images a *higher* likelihood: lower
bits/dim as `a` falls, for in- and out-of-distribution data alike.

    curve = graying_curve(LikelihoodTermsEvaluator(model), cifar10_test, [1., .75, .5, .25])
    curve.means()["bits_per_dim"]            # [F], falling with the factor
    variance_sums_by_factor(cifar10_test, [1., .5])   # [F, C], ~ factor^2
"""

import dataclasses
from typing import Optional

import numpy as np

from glow_ood.data import special as special_datasets
from glow_ood.analysis import data_statistics

__all__ = ["GrayingCurve", "graying_curve", "variance_sums_by_factor", "TERMS"]

# The per-example terms of `glow_ood.likelihood_terms.LikelihoodTerms` a curve keeps.
TERMS = ("bits_per_dim", "discrete_log_prob", "log_prob_z", "log_det")


@dataclasses.dataclass(frozen=True)
class GrayingCurve:
  """Per-example likelihood terms of `N` images grayed by `F` factors.

  Row `f` holds `LikelihoodTerms` of `grayed_images(images, factors[f])`; numpy
  float64 (see `glow_ood.likelihood_terms.LikelihoodTerms` for each term's definition).

  Attributes:
    factors: `[F]`, the contrast factors in [0, 1].
    bits_per_dim: `[F, N]`.
    discrete_log_prob: `[F, N]`, log P(image) in nats (discrete).
    log_prob_z: `[F, N]`, log p(z), or `None` for a model without Glow's
      decomposition.
    log_det: `[F, N]`, log|det dz/dx|, or `None` likewise.
  """
  factors: np.ndarray
  bits_per_dim: np.ndarray
  discrete_log_prob: np.ndarray
  log_prob_z: Optional[np.ndarray] = None
  log_det: Optional[np.ndarray] = None

  @property
  def terms(self):
    """The `TERMS` this curve holds (the decomposition only for a Glow)."""
    return tuple(t for t in TERMS if getattr(self, t) is not None)

  @property
  def num_images(self):
    """`N`."""
    return int(self.bits_per_dim.shape[1])

  def means(self):
    """`term -> [F]`: the mean of each of `terms` over the images, per factor."""
    return {term: np.mean(getattr(self, term), axis=1) for term in self.terms}

  def to_json(self):
    """JSON-ready dict: factors, `N`, and each term's mean and std per factor.

    Per-example values are left out (`F N` numbers); save the arrays (e.g.
    `np.savez`) for histograms.
    """
    return {
        "factors": self.factors.tolist(),
        "num_images": self.num_images,
        "mean": {term: values.tolist() for term, values in self.means().items()},
        "std": {term: np.std(getattr(self, term), axis=1).tolist()
                for term in self.terms},
    }


def _check_factors(factors):
  factors = np.asarray(factors, np.float64)
  if factors.ndim != 1 or not len(factors):
    raise ValueError(f"factors must be a non-empty list of floats; got shape "
                     f"{factors.shape}.")
  if not np.all((factors >= 0.) & (factors <= 1.)):
    raise ValueError(f"Graying factors must be in [0, 1] (1 = the images "
                     f"unchanged, 0 = constant 128); got {factors.tolist()}.")
  return factors


def graying_curve(scorer, images, factors, description: Optional[str] = None,
                  stream=None) -> GrayingCurve:
  """Scores `grayed_images(images, a)` under a model for each factor `a`.

  Args:
    scorer: a `glow_ood.likelihood_terms.LikelihoodTermsEvaluator` (`scorer(images, description=)`
      -> `LikelihoodTerms`).
    images: uint8 `[N, H, W, C]` of the scorer's model's image shape.
    factors: sequence of `F` floats in [0, 1].
    description: Python `str`; if given, each factor's scoring shows a progress
      bar described as `"<description> x<factor>"`. Default value: `None`.
    stream: file object of the progress bars. Default value: `sys.stderr`.

  Returns:
    `GrayingCurve`.
  """
  factors = _check_factors(factors)
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise TypeError(f"graying_curve expects uint8 images; got {images.dtype}. "
                    "Pass raw pixels in 0..255.")
  rows = {term: [] for term in TERMS}
  for factor in factors:
    scores = scorer(special_datasets.grayed_images(images, factor),
                    description=(f"{description} x{factor:g}"
                                 if description else None),
                    stream=stream)
    for term in TERMS:
      if getattr(scores, term) is not None:   # no decomposition: not a Glow
        rows[term].append(np.asarray(getattr(scores, term), np.float64))
  return GrayingCurve(factors=factors,
                      **{term: np.stack(rows[term]) for term in TERMS
                         if rows[term]})


def variance_sums_by_factor(images, factors, chunk_size=1024):
  """`[F, C]`: per-channel variance sums (pixels / 256) of the grayed images.

  Row `f` is `DataStatistics.channel_variance_sums` of
  `grayed_images(images, factors[f])` (unbiased variances), which is
  `factors[f]^2` times that of the images up to the rounding of grayed pixels
  to integers: with `e` the rounding error (|e| <= 1/2 grey level),
  `|var(a x + e) - a^2 var(x)| <= 2 a sd(x) sd(e) + var(e)` per dimension.

  Args:
    images: uint8 `[N, H, W, C]`, `N >= 2`.
    factors: sequence of `F` floats in [0, 1].
    chunk_size: Python `int`, see `data_statistics.mean_and_variance`.
      Default value: `1024`.

  Returns:
    float64 `[F, C]`.
  """
  factors = _check_factors(factors)
  sums = []
  for factor in factors:
    _, variance = data_statistics.mean_and_variance(
        special_datasets.grayed_images(images, factor), chunk_size)
    sums.append(variance.sum(axis=(0, 1)))
  return np.stack(sums)
