"""Tests of `glow_ood.analysis.jpeg_matching`: pairing, error metrics, the quality sweep.

Synthetic sets with a known answer: images compressed at a known Pillow
quality, shuffled within their labels among distractors, are paired back
exactly and the quality is recovered. The pairing's pruned search is checked
against the brute-force argmin. One test measures the real `cifar10_jpeg`
against `cifar10_lossless` from GLOW_OOD_DATA_DIR (default ../shared/data)
and is skipped when they are absent (failed under CI=true:
tests/shared_data.py).
"""


import numpy as np
import pytest

from glow_ood import data
from glow_ood.analysis import jpeg_matching as jm
from glow_ood.data import special as special_datasets
from tests import shared_data

DATA_DIR = data.default_data_dir()


def photo_like(num, shape=(32, 32, 3), seed=0):
  """Smooth colour gradients plus noise: what JPEG compresses well."""
  rng = np.random.default_rng(seed)
  h, w, c = shape
  ramp = np.linspace(0., 1., h)[:, None] * rng.uniform(0.5, 1.5) + (
      np.linspace(0., 1., w)[None, :])
  images = (rng.uniform(30, 120, (num, 1, 1, c)) * ramp[None, :, :, None]
            + rng.uniform(0, 100, (num, 1, 1, c))
            + rng.normal(0, 10, (num, h, w, c)))
  return np.clip(np.round(images), 0, 255).astype(np.uint8)


def shuffled_compressed_set(quality, num=30, distractors=20, seed=0):
  """Originals, their labels, and a compressed set holding them shuffled.

  Returns `(originals, labels, compressed, compressed_labels, source)` with
  `compressed[source[n]] == jpeg_images(originals, quality)[n]`; the other
  compressed images are distractors of the same labels, sorted by label as
  `cifar10_jpeg` is.
  """
  rng = np.random.default_rng(seed)
  originals = photo_like(num, seed=seed)
  labels = rng.integers(0, 3, num)
  extra = photo_like(distractors, seed=seed + 1)
  extra_labels = rng.integers(0, 3, distractors)
  pool = special_datasets.jpeg_images(np.concatenate([originals, extra]),
                                      quality)
  pool_labels = np.concatenate([labels, extra_labels])
  order = np.lexsort((rng.permutation(len(pool)), pool_labels))
  source = np.argsort(order)[:num]       # where original n ended up
  return originals, labels, pool[order], pool_labels[order], source


def brute_force(originals, labels, candidates, candidate_labels):
  """Nearest and second-nearest candidate of the same label, every MAE computed."""
  indices, first, second = [], [], []
  for image, label in zip(originals, labels):
    pool = np.flatnonzero(candidate_labels == label)
    errors = np.abs(candidates[pool].astype(float) - image).reshape(
        len(pool), -1).mean(axis=1)
    order = np.argsort(errors, kind="stable")
    indices.append(pool[order[0]])
    first.append(errors[order[0]])
    second.append(errors[order[1]] if len(pool) > 1 else np.inf)
  return np.array(indices), np.array(first), np.array(second)


def test_compressed_images_shuffled_within_labels_are_paired_back():
  originals, labels, compressed, compressed_labels, source = (
      shuffled_compressed_set(quality=60))
  pairing = jm.pair_images(originals, labels, compressed, compressed_labels)
  np.testing.assert_array_equal(pairing.indices, source)
  assert np.all(compressed_labels[pairing.indices] == labels)
  assert pairing.num_shared == 0
  # A true pair is clearly nearer than the second-best candidate.
  assert pairing.gaps.min() > 0.5 * pairing.errors.max()


@pytest.mark.parametrize("shape, block", [((16, 16, 3), 4), ((6, 10, 1), 4),
                                          ((8, 8, 3), 2)])
def test_pairing_is_the_brute_force_argmin(shape, block):
  rng = np.random.default_rng(1)
  originals = rng.integers(0, 256, (12,) + shape, dtype=np.uint8)
  labels = rng.integers(0, 2, 12)
  # Candidates near and far: noisy copies and unrelated images.
  noisy = np.clip(originals + rng.normal(0, 40, originals.shape), 0, 255)
  candidates = np.concatenate([
      noisy.astype(np.uint8), rng.integers(0, 256, (30,) + shape,
                                           dtype=np.uint8)])
  candidate_labels = np.concatenate([labels, rng.integers(0, 2, 30)])
  pairing = jm.pair_images(originals, labels, candidates, candidate_labels,
                           block=block, shortlist=2)
  indices, first, second = brute_force(originals, labels, candidates,
                                       candidate_labels)
  np.testing.assert_array_equal(pairing.indices, indices)
  np.testing.assert_allclose(pairing.errors, first, rtol=1e-12)
  np.testing.assert_allclose(pairing.second_errors, second, rtol=1e-12)


def test_a_duplicate_shows_as_a_zero_gap_and_a_shared_match():
  images = photo_like(3, (8, 8, 3))
  originals = np.concatenate([images, images[:1]])     # image 0 twice
  labels = np.zeros(4, int)
  candidates = np.concatenate([images, images[:1]])    # ... as a candidate too
  pairing = jm.pair_images(originals, labels, candidates, labels)
  np.testing.assert_array_equal(pairing.errors, 0.)
  assert pairing.gaps[0] == 0. and pairing.gaps[3] == 0.
  assert pairing.gaps[1] > 0. and pairing.num_shared == 1
  single = jm.pair_images(images[:1], [5], images[1:2], [5])
  assert single.second_errors[0] == np.inf


def test_pairing_refuses_a_label_without_candidates_and_bad_shapes():
  images = photo_like(2, (8, 8, 3))
  with pytest.raises(ValueError, match="no candidate has label 1"):
    jm.pair_images(images, [0, 1], images, [0, 0])
  with pytest.raises(ValueError, match="differ in image shape"):
    jm.pair_images(images, [0, 0], images[:, :4], [0, 0])
  with pytest.raises(ValueError, match="uint8"):
    jm.pair_images(images.astype(float), [0, 0], images, [0, 0])


def test_error_metrics_closed_forms():
  a = np.zeros([2, 2, 2, 1], np.uint8)
  b = a.copy()
  b[0, 0, 0, 0] = 8                   # one pixel of 8 off 8 pixels
  assert jm.mean_absolute_error(b, a) == 1.
  # MSE = 64 / 8 = 8: PSNR = 10 log10(255^2 / 8).
  assert jm.peak_signal_to_noise_ratio(b, a) == pytest.approx(
      10 * np.log10(255 ** 2 / 8.))
  assert jm.peak_signal_to_noise_ratio(a, a) == float("inf")
  assert jm.error_metrics(b, a) == dict(
      mae=1., psnr=jm.peak_signal_to_noise_ratio(b, a))


def test_sweep_errors_fall_with_quality_and_the_known_quality_is_recovered():
  originals, labels, compressed, compressed_labels, _ = (
      shuffled_compressed_set(quality=62))
  metrics = jm.measure(originals, labels, compressed, compressed_labels)
  assert metrics["best_quality"] == 62
  assert metrics["pairs"] == 30 and metrics["shared_matches"] == 0
  assert metrics["measured_mae"] == jm.mean_absolute_error(
      special_datasets.jpeg_images(originals, 62), originals)
  sweep = metrics["sweep"]
  qualities = [r["quality"] for r in sweep]
  # Coarse 50, 55, ..., 95, then every integer within 4 of the closest (60).
  assert qualities == sorted(set(jm.COARSE_QUALITIES) | set(range(56, 65)))
  maes = [r["mae"] for r in sweep if r["quality"] in jm.COARSE_QUALITIES]
  psnrs = [r["psnr"] for r in sweep if r["quality"] in jm.COARSE_QUALITIES]
  assert maes == sorted(maes, reverse=True) and psnrs == sorted(psnrs)
  assert set(metrics) == {
      "pairs", "measured_mae", "measured_psnr", "match_error_median",
      "match_error_max", "second_best_gap_median", "second_best_gap_min",
      "shared_matches", "sweep", "best_quality"}


def test_closest_quality_breaks_ties_low_and_needs_a_sweep():
  sweep = [dict(quality=70, mae=6.), dict(quality=80, mae=5.)]
  assert jm.closest_quality(sweep, 5.4) == 80
  assert jm.closest_quality(sweep, 5.5) == 70
  with pytest.raises(ValueError, match="non-empty"):
    jm.closest_quality([], 5.)


@shared_data.needs("cifar10_lossless_test.npz", "cifar10_jpeg_test.npz")
def test_real_cifar10_jpeg_matches_pillow_quality_75():
  originals, labels = data.load_npz("cifar10_lossless", "test", DATA_DIR)
  compressed, compressed_labels = data.load_npz("cifar10_jpeg", "test",
                                                DATA_DIR)
  metrics = jm.measure(originals, labels, compressed, compressed_labels)
  assert metrics["pairs"] == 1000 and metrics["shared_matches"] == 0
  # ../shared/data/README.md: MAE 5.8 grey levels, PSNR about 30 dB.
  assert metrics["measured_mae"] == pytest.approx(5.8, abs=0.05)
  assert metrics["measured_psnr"] == pytest.approx(30., abs=0.2)
  # Every true pair is several grey levels nearer than any other image.
  assert metrics["second_best_gap_min"] > 2.
  assert metrics["best_quality"] == 75
