"""The Pillow JPEG quality whose error matches a JPEG-compressed dataset's.

`cifar10_jpeg` (../shared/data) holds the CIFAR-10 test set after some JPEG
compression, sorted by class; `cifar10_lossless` holds the first 1000 test
images with exact pixels, in the official order. To compare like with like
(`"jpeg:<dataset>:<quality>"` inputs, `glow_ood.data.special.jpeg_images`)
we need the Pillow quality that makes the same error. Four steps:

  1. `pair_images`: each lossless image `x_n` is paired with the compressed
     image of its class nearest by mean absolute error,
         j(n) = argmin_{j: label_j = label_n} MAE(x_n, y_j),
         MAE(a, b) = (1/D) sum_d |a_d - b_d|          (grey levels, D = H W C).
     The error of the match and the gap to the second-best candidate show a
     wrong pairing: a true pair is far nearer than any other image.
  2. `error_metrics` of the pairs, pooled over all their pixels:
         MAE = mean_{n, d} |x_nd - y_j(n)d|,
         PSNR = 10 log10(255^2 / mean_{n, d} (x_nd - y_j(n)d)^2)   (dB).
  3. `quality_sweep`: the same two numbers for `jpeg_images(x, q)` against
     `x`, for each quality `q`.
  4. `closest_quality`: the `q` whose MAE is nearest the measured one.

`match_quality` sweeps coarse qualities (50, 55, ..., 95) and then every
integer near the best of them; `measure` runs all four steps and returns the
JSON-ready metrics of `scripts/match_jpeg_quality.py`. Plain functions over
uint8 numpy arrays `[N, H, W, C]`.
"""

import dataclasses

import numpy as np

from glow_ood.data import special as special_datasets

__all__ = ["Pairing", "pair_images", "mean_absolute_error",
           "peak_signal_to_noise_ratio", "error_metrics", "quality_sweep",
           "closest_quality", "match_quality", "measure", "COARSE_QUALITIES"]

COARSE_QUALITIES = tuple(range(50, 96, 5))
_PEAK = 255.


@dataclasses.dataclass(frozen=True)
class Pairing:
  """Each original's nearest candidate of its class, by MAE (grey levels).

  Attributes:
    indices: int64 `[N]`, the index into the candidates of each original's
      match.
    errors: float64 `[N]`, the MAE of each original and its match.
    second_errors: float64 `[N]`, the MAE of the second-nearest candidate of
      the same class (`inf` if the class has one candidate).
  """
  indices: np.ndarray
  errors: np.ndarray
  second_errors: np.ndarray

  @property
  def gaps(self):
    """float64 `[N]`: `second_errors - errors` (>= 0; near 0: ambiguous)."""
    return self.second_errors - self.errors

  @property
  def num_shared(self):
    """Originals whose candidate another original also matched (0 if one-to-one)."""
    return int(len(self.indices) - len(np.unique(self.indices)))


def _check_images(images, what):
  images = np.asarray(images)
  if images.dtype != np.uint8 or images.ndim != 4:
    raise ValueError(f"{what} must be uint8 [N, H, W, C]; got "
                     f"{images.dtype} {images.shape}.")
  return images


def _block_means(images, block):
  """float64 `[N, H/b * W/b * C]`: means of `b x b` blocks per channel."""
  n, h, w, c = images.shape
  blocks = images.reshape(n, h // block, block, w // block, block, c)
  return blocks.mean(axis=(2, 4), dtype=np.float64).reshape(n, -1)


def _errors_to(image, candidates):
  """float64 `[M]`: MAE of `image` `[H, W, C]` to each of `candidates`."""
  diff = np.abs(candidates.astype(np.int16) - image.astype(np.int16))
  return diff.reshape(len(candidates), -1).mean(axis=1, dtype=np.float64)


def _nearest_two(image, candidates, lower_bounds, shortlist):
  """Exact (index, MAE) of the nearest and second-nearest candidates.

  Branch and bound: `lower_bounds[j] <= MAE(image, candidates[j])`, so after
  computing the exact MAE of the `shortlist` candidates of smallest bound,
  only candidates whose bound is below the second-best exact MAE found can
  still be nearer; those are computed too.
  """
  order = np.argsort(lower_bounds, kind="stable")
  exact = np.full(len(candidates), np.inf)
  done = order[:shortlist]
  exact[done] = _errors_to(image, candidates[done])
  while True:
    second = np.partition(exact, 1)[1] if len(exact) > 1 else np.inf
    todo = np.flatnonzero((lower_bounds < second) & np.isinf(exact))
    if not len(todo):
      break
    exact[todo] = _errors_to(image, candidates[todo])
  best_two = np.argsort(exact, kind="stable")[:2]
  second_error = exact[best_two[1]] if len(exact) > 1 else np.inf
  return best_two[0], exact[best_two[0]], second_error


def pair_images(originals, original_labels, candidates, candidate_labels,
                block=4, shortlist=8):
  """Pairs each original with the candidate of its label nearest by MAE.

  Exact: the nearest and second-nearest candidates by MAE among all
  candidates of the label, found without computing every MAE. The mean
  absolute difference of the `block x block` per-channel means,
  `(1/K) sum_k |mean_k(a) - mean_k(b)|`, is at most `MAE(a, b)` (the
  triangle inequality inside each block), so it bounds which candidates can
  still be nearer than the best found (`_nearest_two`).

  Args:
    originals: uint8 `[N, H, W, C]`.
    original_labels: int `[N]`.
    candidates: uint8 `[M, H, W, C]`, e.g. the compressed images.
    candidate_labels: int `[M]`.
    block: side of the blocks of the bound; must divide `H` and `W`, else
      1-pixel blocks are used (the bound is then the MAE itself).
    shortlist: candidates per original whose MAE is computed first.

  Returns:
    `Pairing`.

  Raises:
    ValueError: shapes differ, or an original's label has no candidate.
  """
  originals = _check_images(originals, "originals")
  candidates = _check_images(candidates, "candidates")
  original_labels = np.asarray(original_labels)
  candidate_labels = np.asarray(candidate_labels)
  if originals.shape[1:] != candidates.shape[1:]:
    raise ValueError(f"originals {originals.shape[1:]} and candidates "
                     f"{candidates.shape[1:]} differ in image shape.")
  if (len(original_labels) != len(originals)
      or len(candidate_labels) != len(candidates)):
    raise ValueError("pair_images needs one label per image.")
  h, w = originals.shape[1:3]
  block = block if h % block == 0 and w % block == 0 else 1
  indices = np.zeros(len(originals), np.int64)
  errors = np.zeros(len(originals))
  second_errors = np.zeros(len(originals))
  for label in np.unique(original_labels):
    mine = np.flatnonzero(original_labels == label)
    theirs = np.flatnonzero(candidate_labels == label)
    if not len(theirs):
      raise ValueError(f"no candidate has label {label}, the label of "
                       f"{len(mine)} originals.")
    pool = candidates[theirs]
    pool_means = _block_means(pool, block)                     # [m, K]
    for n, means in zip(mine, _block_means(originals[mine], block)):
      bounds = np.abs(pool_means - means).mean(axis=-1)       # [m]
      best, errors[n], second_errors[n] = _nearest_two(
          originals[n], pool, bounds, shortlist)
      indices[n] = theirs[best]
  return Pairing(indices, errors, second_errors)


def mean_absolute_error(images, references):
  """Mean of `|images - references|` over all pixels (grey levels), a float."""
  diff = np.asarray(images, np.float64) - np.asarray(references, np.float64)
  return float(np.mean(np.abs(diff)))


def peak_signal_to_noise_ratio(images, references):
  """`10 log10(255^2 / MSE)` (dB), MSE pooled over all pixels; `inf` if equal."""
  diff = np.asarray(images, np.float64) - np.asarray(references, np.float64)
  mse = float(np.mean(np.square(diff)))
  return float("inf") if mse == 0. else float(10. * np.log10(_PEAK ** 2 / mse))


def error_metrics(images, references):
  """`{"mae": ..., "psnr": ...}` of `images` against `references` (same shape)."""
  return dict(mae=mean_absolute_error(images, references),
              psnr=peak_signal_to_noise_ratio(images, references))


def quality_sweep(originals, qualities):
  """`[{"quality": q, "mae": ..., "psnr": ...}]` of `jpeg_images(originals, q)`.

  Args:
    originals: uint8 `[N, H, W, C]`, `C` 1 or 3.
    qualities: Pillow qualities, ints in 1..95.
  """
  originals = _check_images(originals, "originals")
  return [dict(quality=int(q), **error_metrics(
      special_datasets.jpeg_images(originals, int(q)), originals))
          for q in qualities]


def closest_quality(sweep, target_mae):
  """The quality of `sweep` whose MAE is nearest `target_mae` (ties: the lower)."""
  if not sweep:
    raise ValueError("closest_quality needs a non-empty sweep.")
  return min(sweep, key=lambda r: (abs(r["mae"] - target_mae),
                                   r["quality"]))["quality"]


def match_quality(originals, target_mae, coarse=COARSE_QUALITIES, radius=4):
  """Sweeps `coarse`, then every quality within `radius` of the closest.

  Returns:
    `(sweep, best)`: the sweep sorted by quality (`quality_sweep` rows) and
    the quality of smallest `|MAE - target_mae|` among all of them.
  """
  sweep = quality_sweep(originals, coarse)
  centre = closest_quality(sweep, target_mae)
  seen = {r["quality"] for r in sweep}
  fine = [q for q in range(max(centre - radius, 1),
                           min(centre + radius, 95) + 1) if q not in seen]
  sweep = sorted(sweep + quality_sweep(originals, fine),
                 key=lambda r: r["quality"])
  return sweep, closest_quality(sweep, target_mae)


def measure(originals, original_labels, compressed, compressed_labels,
            coarse=COARSE_QUALITIES, radius=4):
  """The four steps: pairs, measured error, sweep, matched quality (JSON-ready).

  Args:
    originals, original_labels: the lossless images `[N, H, W, C]`, labels.
    compressed, compressed_labels: the JPEG-compressed set, any order, that
      holds a compressed copy of every original.
    coarse, radius: of `match_quality`.

  Returns:
    `{"pairs": N, "measured_mae", "measured_psnr", "match_error_median",
    "match_error_max", "second_best_gap_median", "second_best_gap_min",
    "shared_matches", "sweep": [{"quality", "mae", "psnr"}, ...],
    "best_quality"}`.
  """
  pairing = pair_images(originals, original_labels, compressed,
                        compressed_labels)
  measured = error_metrics(np.asarray(compressed)[pairing.indices], originals)
  sweep, best = match_quality(originals, measured["mae"], coarse, radius)
  return dict(
      pairs=int(len(pairing.indices)),
      measured_mae=measured["mae"], measured_psnr=measured["psnr"],
      match_error_median=float(np.median(pairing.errors)),
      match_error_max=float(np.max(pairing.errors)),
      second_best_gap_median=float(np.median(pairing.gaps)),
      second_best_gap_min=float(np.min(pairing.gaps)),
      shared_matches=pairing.num_shared, sweep=sweep, best_quality=best)
