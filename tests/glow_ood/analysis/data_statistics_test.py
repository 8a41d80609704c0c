"""Tests of `glow_ood.analysis.data_statistics` on images of known moments.

Exact checks use small synthetic uint8 datasets (pixels / 256) against
closed forms and `np.cov`; one check reads real MNIST from GLOW_OOD_DATA_DIR
(default ../shared/data), skipped when it is absent (failed under CI=true:
tests/shared_data.py).
"""

import json

import numpy as np
import pytest

from glow_ood import data
from glow_ood.analysis import data_statistics as ds
from tests import shared_data


def _balanced_images(shape=(3, 2, 2), seed=0):
  """8 images; every dimension holds the values 0, 32, ..., 224 in its own order.

  So every dimension has mean 112/256 and unbiased variance
  32^2 * var_unbiased(0..7) / 256^2 = 6 / 64 exactly; covariances vary.
  """
  rng = np.random.default_rng(seed)
  num_dims = int(np.prod(shape))
  columns = [rng.permutation(8) * 32 for _ in range(num_dims)]
  return np.stack(columns, axis=-1).reshape((8,) + shape).astype(np.uint8)


def _reference_covariance(images):
  return np.cov(images.reshape(len(images), -1).astype(np.float64) / 256.,
                rowvar=False)


def test_known_mean_and_variance_per_dimension():
  images = _balanced_images()
  stats = ds.data_statistics(images)
  # var_unbiased(0..7) = 6: 32^2 * 6 / 256^2 = 6 / 64.
  np.testing.assert_allclose(stats.mean, np.full((3, 2, 2), 112. / 256.))
  np.testing.assert_allclose(stats.variance, np.full((3, 2, 2), 6. / 64.))
  np.testing.assert_allclose(stats.channel_variance_sums, [6 * 6. / 64.] * 2)
  assert stats.covariance_trace == pytest.approx(12 * 6. / 64.)
  assert stats.num_images == 8 and stats.num_dims == 12
  assert stats.image_shape == (3, 2, 2)


def test_matches_numpy_covariance_on_small_images():
  rng = np.random.default_rng(3)
  images = rng.integers(0, 256, size=(50, 4, 3, 2), dtype=np.uint8)
  stats = ds.data_statistics(images, max_offdiagonal=None)
  cov = _reference_covariance(images)
  rows, cols = np.triu_indices(24, 1)
  np.testing.assert_allclose(stats.variance.ravel(), np.diag(cov), rtol=1e-12)
  np.testing.assert_allclose(stats.covariance_offdiagonal, cov[rows, cols],
                             rtol=1e-10, atol=1e-15)
  np.testing.assert_array_equal(stats.offdiagonal_pairs,
                                np.stack([rows, cols], -1))
  off = cov[~np.eye(24, dtype=bool)]
  assert stats.mean_offdiagonal == pytest.approx(off.mean(), abs=1e-15)
  assert stats.mean_abs_offdiagonal == pytest.approx(np.abs(off).mean())
  np.testing.assert_allclose(
      stats.channel_variance_sums,
      np.diag(cov).reshape(4, 3, 2).sum(axis=(0, 1)))
  x = images.reshape(50, -1) / 256.
  np.testing.assert_allclose(stats.mean.ravel(), x.mean(0))
  np.testing.assert_allclose(stats.normalized_norm,
                             np.linalg.norm(x, axis=1) / np.sqrt(24.))


def test_constant_images_give_a_rank_one_covariance():
  # Image n has every pixel = v_n: every covariance entry is var(v / 256).
  values = np.array([0, 10, 200, 255, 128], np.uint8)
  images = np.broadcast_to(values[:, None, None, None], (5, 4, 4, 3)).copy()
  stats = ds.data_statistics(images, max_offdiagonal=None)
  expected = np.var(values / 256., ddof=1)
  np.testing.assert_allclose(stats.variance, np.full((4, 4, 3), expected))
  np.testing.assert_allclose(stats.covariance_offdiagonal, expected)
  assert len(stats.covariance_offdiagonal) == 48 * 47 // 2
  assert stats.mean_offdiagonal == pytest.approx(expected)
  assert stats.mean_abs_offdiagonal == pytest.approx(expected)
  # ||x_n|| / sqrt(D) of a constant image is its value.
  np.testing.assert_allclose(stats.normalized_norm, values / 256.)
  np.testing.assert_allclose(stats.channel_variance_sums, [16 * expected] * 3)


def test_perfectly_correlated_and_anticorrelated_dimensions():
  rng = np.random.default_rng(1)
  a = rng.integers(0, 256, size=40)
  b = rng.integers(0, 256, size=40)
  # Dims (a, a, 255 - a, b): cov(0,1) = var(a), cov(0,2) = cov(1,2) = -var(a).
  images = np.stack([a, a, 255 - a, b], -1).reshape(40, 2, 2, 1).astype(np.uint8)
  stats = ds.data_statistics(images, max_offdiagonal=None)
  var_a, var_b = np.var(a / 256., ddof=1), np.var(b / 256., ddof=1)
  cov_ab = np.cov(a / 256., b / 256.)[0, 1]
  # Upper-triangle order: (0,1) (0,2) (0,3) (1,2) (1,3) (2,3).
  np.testing.assert_allclose(
      stats.covariance_offdiagonal,
      [var_a, -var_a, cov_ab, -var_a, cov_ab, -cov_ab], rtol=1e-12)
  np.testing.assert_allclose(stats.variance.ravel(),
                             [var_a, var_a, var_a, var_b], rtol=1e-12)


def test_chunked_equals_unchunked():
  rng = np.random.default_rng(2)
  images = rng.integers(0, 256, size=(23, 3, 3, 2), dtype=np.uint8)
  whole = ds.data_statistics(images, chunk_size=23)
  for chunk_size in (1, 4, 7):
    chunked = ds.data_statistics(images, chunk_size=chunk_size)
    for field in ("mean", "variance", "channel_variance_sums",
                  "covariance_offdiagonal", "normalized_norm"):
      np.testing.assert_allclose(getattr(chunked, field), getattr(whole, field),
                                 rtol=1e-12, atol=1e-16, err_msg=field)
    assert chunked.covariance_trace == pytest.approx(whole.covariance_trace,
                                                     rel=1e-12)
    assert chunked.mean_abs_offdiagonal == pytest.approx(
        whole.mean_abs_offdiagonal, rel=1e-12)
    mean, variance = ds.mean_and_variance(images, chunk_size=chunk_size)
    np.testing.assert_allclose(mean, whole.mean, rtol=1e-12)
    np.testing.assert_allclose(variance, whole.variance, rtol=1e-12)


def test_offdiagonal_subsample_is_seeded_and_exact():
  images = np.random.default_rng(4).integers(0, 256, (30, 4, 4, 2), np.uint8)
  full = ds.data_statistics(images, max_offdiagonal=None)
  cov = _reference_covariance(images)
  sample = ds.data_statistics(images, max_offdiagonal=50, seed=7)
  assert sample.covariance_offdiagonal.shape == (50,)
  i, j = sample.offdiagonal_pairs.T
  assert np.all(i < j) and len(set(zip(i, j))) == 50   # no repeats
  np.testing.assert_allclose(sample.covariance_offdiagonal, cov[i, j],
                             rtol=1e-10, atol=1e-15)
  # Same seed, same sample; another seed, another sample.
  again = ds.data_statistics(images, max_offdiagonal=50, seed=7)
  np.testing.assert_array_equal(again.offdiagonal_pairs, sample.offdiagonal_pairs)
  other = ds.data_statistics(images, max_offdiagonal=50, seed=8)
  assert not np.array_equal(other.offdiagonal_pairs, sample.offdiagonal_pairs)
  # The means stay exact over all D (D - 1) / 2 entries.
  assert sample.mean_abs_offdiagonal == full.mean_abs_offdiagonal
  assert sample.mean_offdiagonal == full.mean_offdiagonal
  # At or above the number of entries, all are kept.
  every = ds.data_statistics(images, max_offdiagonal=32 * 31 // 2)
  np.testing.assert_array_equal(every.covariance_offdiagonal,
                                full.covariance_offdiagonal)


def test_channel_variance_difference_and_summary():
  low = ds.data_statistics(_balanced_images(seed=0) // 2)   # variance / 4
  high = ds.data_statistics(_balanced_images(seed=1))
  # Channel sums 6 * 6/64 = 0.5625 and a quarter of it.
  np.testing.assert_allclose(ds.channel_variance_difference(low, high),
                             [-0.75 * 0.5625] * 2)
  summary = json.loads(json.dumps(high.summary()))
  assert summary["covariance_trace"] == pytest.approx(1.125)
  assert summary["channel_variance_sums"] == pytest.approx([0.5625] * 2)
  assert summary["mean_of_means"] == pytest.approx(112. / 256.)
  assert summary["mean_variance"] == pytest.approx(6. / 64.)
  assert summary["num_images"] == 8
  rgb = ds.data_statistics(np.zeros((2, 2, 2, 3), np.uint8))
  with pytest.raises(ValueError, match="one image shape"):
    ds.channel_variance_difference(rgb, high)


def test_bad_inputs():
  good = np.zeros((4, 2, 2, 1), np.uint8)
  with pytest.raises(TypeError, match="uint8"):
    ds.data_statistics(good.astype(np.float32))
  with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
    ds.data_statistics(good[..., 0])
  with pytest.raises(ValueError, match="at least 2 images"):
    ds.data_statistics(good[:1])
  with pytest.raises(ValueError, match="max_offdiagonal"):
    ds.data_statistics(good, max_offdiagonal=0)
  with pytest.raises(ValueError, match="chunk_size"):
    ds.mean_and_variance(good, chunk_size=0)


@shared_data.needs("mnist_train.npz")
def test_mnist_trace_matches_the_paper():
  # Nalisnick et al., Figure 11a: Tr{MNIST} = 52.3 (pixels / 256; / 255 gives 52.7).
  images, _ = data.load_npz("mnist", "train")
  _, variance = ds.mean_and_variance(images)
  assert variance.sum() == pytest.approx(52.3, abs=0.05)
