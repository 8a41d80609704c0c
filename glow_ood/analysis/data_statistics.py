"""First- and second-order statistics of an image dataset, on the paper's scale.

Nalisnick et al. (2019, Section 5, Figures 6 and 11) compare datasets through
the moments of their pixels, with pixels divided by 256 (`x = pixels / 256`,
in [0, 1)). For `N` images of `D = H W C` dimensions:

    mean[d]             = (1/N) sum_n x[n, d]
    covariance[d, e]    = 1/(N-1) sum_n (x[n, d] - mean[d]) (x[n, e] - mean[e])
    variance[d]         = covariance[d, d]
    channel sums [c]    = sum_{h, w} variance[h, w, c]   (49.6 SVHN vs 61.9
                          CIFAR-10 for red; what Eq. 6 weighs)
    trace               = sum_d variance[d]               (Tr{MNIST} = 52.3)
    normalized norm [n] = ||x[n]||_2 / sqrt(D)

The covariance is exact in float64, accumulated over chunks of images in two
passes (means first, then the centred `X^T X`), so no `[N, D]` float64 copy
of the data is made; only the `[D, D]` matrix (75 MB for D = 3072) is held.

    stats = data_statistics(cifar10_images)              # uint8 [N, 32, 32, 3]
    stats.channel_variance_sums                          # [3], ~(61.9, 59.2, 68.1)
    channel_variance_difference(svhn_stats, stats)       # sigma^2_q - sigma^2_p
"""

import dataclasses

import numpy as np

__all__ = ["DataStatistics", "data_statistics", "mean_and_variance",
           "channel_variance_difference", "PIXEL_SCALE"]

# The paper's scale: "pixels are converted from 0-255 scale to 0-1 scale by
# dividing by 256" (Figures 6 and 11).
PIXEL_SCALE = 256.


@dataclasses.dataclass(frozen=True)
class DataStatistics:
  """Moments of `N` images `[N, H, W, C]`, pixels / 256, numpy float64.

  Variances and covariances are unbiased (divide by `N - 1`), as `np.cov` and
  the paper's own definition of latent variances (Figure 12); at the paper's
  dataset sizes the factor `N / (N - 1)` is below 1.001.

  Attributes:
    mean: `[H, W, C]`, per-dimension mean.
    variance: `[H, W, C]`, per-dimension variance (the covariance diagonal).
    channel_variance_sums: `[C]`, `sum_{h, w} variance[h, w, c]`.
    covariance_trace: Python `float`, `sum(variance)`.
    covariance_offdiagonal: `[K]`, entries `covariance[i, j]`, `i < j`, of the
      `D x D` covariance, flat indices in `(h, w, c)` row-major order: all
      `D (D - 1) / 2` of them in `np.triu_indices(D, 1)` order, or a seeded
      uniform sample without replacement (in that order) if there are more
      than `max_offdiagonal`. For histograms.
    offdiagonal_pairs: `[K, 2]` int64, the `(i, j)` of each entry above.
    mean_offdiagonal: Python `float`, mean of all off-diagonal entries (exact).
    mean_abs_offdiagonal: Python `float`, mean of all `|covariance[i, j]|`,
      `i != j` (exact, not from the sample).
    normalized_norm: `[N]`, `||x[n]||_2 / sqrt(D)`.
    num_images: Python `int`, `N`.
  """
  mean: np.ndarray
  variance: np.ndarray
  channel_variance_sums: np.ndarray
  covariance_trace: float
  covariance_offdiagonal: np.ndarray
  offdiagonal_pairs: np.ndarray
  mean_offdiagonal: float
  mean_abs_offdiagonal: float
  normalized_norm: np.ndarray
  num_images: int

  @property
  def image_shape(self):
    """`(H, W, C)`."""
    return tuple(self.mean.shape)

  @property
  def num_dims(self):
    """`D = H W C`."""
    return int(self.mean.size)

  def summary(self):
    """The scalar summaries as a JSON-ready dict of Python floats and lists."""
    return {
        "num_images": int(self.num_images),
        "image_shape": list(self.image_shape),
        "channel_variance_sums": self.channel_variance_sums.tolist(),
        "covariance_trace": float(self.covariance_trace),
        "mean_of_means": float(np.mean(self.mean)),
        "mean_variance": float(np.mean(self.variance)),
        "mean_offdiagonal": float(self.mean_offdiagonal),
        "mean_abs_offdiagonal": float(self.mean_abs_offdiagonal),
        "mean_normalized_norm": float(np.mean(self.normalized_norm)),
    }


def _check_images(images, min_images=2):
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise TypeError(f"Data statistics expect uint8 images (raw pixels 0..255); "
                    f"got dtype {images.dtype}. Pass the images before any "
                    "preprocessing.")
  if images.ndim != 4:
    raise ValueError(f"Data statistics expect images [N, H, W, C]; got shape "
                     f"{images.shape}. Add the missing batch/channel axis.")
  if len(images) < min_images:
    raise ValueError(f"Variances need at least {min_images} images; got "
                     f"{len(images)}.")
  return images


def _check_positive(name, value):
  if int(value) != value or int(value) < 1:
    raise ValueError(f"{name} must be a positive int; got {value!r}.")
  return int(value)


def _chunks(images, chunk_size):
  """Yields `x = pixels / 256` as float64 `[n, D]`, `chunk_size` images at a time."""
  flat = images.reshape(len(images), -1)
  for start in range(0, len(flat), chunk_size):
    yield flat[start:start + chunk_size].astype(np.float64) / PIXEL_SCALE


def _mean_and_sum_of_squares(images, chunk_size):
  """Pass 1: `(mean [D], ||x_n||^2 [N])` of `x = pixels / 256`."""
  total = np.zeros(images[0].size)
  squared_norms = []
  for x in _chunks(images, chunk_size):
    total += x.sum(axis=0)
    squared_norms.append(np.einsum("nd,nd->n", x, x))
  return total / len(images), np.concatenate(squared_norms)


def mean_and_variance(images, chunk_size=1024):
  """Per-dimension mean and unbiased variance of `pixels / 256`, in chunks.

  The diagonal of `data_statistics` without the `D x D` covariance: `O(N D)`.

  Args:
    images: uint8 `[N, H, W, C]`, `N >= 2`.
    chunk_size: Python `int`, images converted to float64 at a time.
      Default value: `1024`.

  Returns:
    `(mean, variance)`, float64 `[H, W, C]` each.
  """
  images = _check_images(images)
  chunk_size = _check_positive("chunk_size", chunk_size)
  mean, _ = _mean_and_sum_of_squares(images, chunk_size)
  squares = np.zeros_like(mean)
  for x in _chunks(images, chunk_size):
    squares += np.sum((x - mean) ** 2, axis=0)
  shape = images.shape[1:]
  return mean.reshape(shape), (squares / (len(images) - 1)).reshape(shape)


def data_statistics(images, max_offdiagonal=200_000, seed=0, chunk_size=1024):
  """`DataStatistics` of uint8 images, pixels / 256 (see the module docstring).

  Args:
    images: uint8 `[N, H, W, C]`, `N >= 2`.
    max_offdiagonal: Python `int`, the most off-diagonal covariance entries
      kept (sampled uniformly without replacement if there are more), or
      `None` for all `D (D - 1) / 2`. Means over them are always exact.
      Default value: `200_000`.
    seed: seed of `np.random.default_rng` for that sample. Default value: `0`.
    chunk_size: Python `int`, images converted to float64 at a time; the
      results do not depend on it beyond float rounding. Default value: `1024`.

  Returns:
    `DataStatistics`.
  """
  images = _check_images(images)
  chunk_size = _check_positive("chunk_size", chunk_size)
  if max_offdiagonal is not None:
    max_offdiagonal = _check_positive("max_offdiagonal", max_offdiagonal)
  num_images, shape = len(images), images.shape[1:]
  num_dims = int(np.prod(shape))

  mean, squared_norms = _mean_and_sum_of_squares(images, chunk_size)
  scatter = np.zeros((num_dims, num_dims))
  for x in _chunks(images, chunk_size):
    centred = x - mean
    scatter += centred.T @ centred
  scatter /= num_images - 1  # In place: one [D, D] float64 buffer.
  covariance = scatter
  variance = np.diag(covariance).copy()

  rows, cols = np.triu_indices(num_dims, 1)
  upper = covariance[rows, cols]
  num_offdiagonal = len(upper)
  if num_offdiagonal:
    mean_offdiagonal = float(np.mean(upper))
    mean_abs_offdiagonal = float(np.mean(np.abs(upper)))
  else:  # D = 1: no off-diagonal entries.
    mean_offdiagonal = mean_abs_offdiagonal = float("nan")
  if max_offdiagonal is not None and num_offdiagonal > max_offdiagonal:
    keep = np.sort(np.random.default_rng(seed).choice(
        num_offdiagonal, size=max_offdiagonal, replace=False))
    rows, cols, upper = rows[keep], cols[keep], upper[keep]

  variance = variance.reshape(shape)
  return DataStatistics(
      mean=mean.reshape(shape),
      variance=variance,
      channel_variance_sums=variance.sum(axis=(0, 1)),
      covariance_trace=float(variance.sum()),
      covariance_offdiagonal=upper,
      offdiagonal_pairs=np.stack([rows, cols], axis=-1).astype(np.int64),
      mean_offdiagonal=mean_offdiagonal,
      mean_abs_offdiagonal=mean_abs_offdiagonal,
      normalized_norm=np.sqrt(squared_norms / num_dims),
      num_images=num_images)


def channel_variance_difference(stats_q, stats_p):
  """`[C]`: `sum_{h, w} (sigma^2_q - sigma^2_p)[h, w, c]`, the terms of Eq. 6.

  Nalisnick et al. (2019), Eq. 6: the second-order estimate of
  `E_q[log p(x)] - E_p[log p(x)]` for a constant-volume Glow trained on `p`
  weighs these per-channel differences (q = SVHN, p = CIFAR-10:
  `49.6 - 61.9`, `52.7 - 59.2`, `53.6 - 68.1`, all negative).

  Args:
    stats_q: `DataStatistics` of the evaluated (e.g. out-of-distribution) data.
    stats_p: `DataStatistics` of the training data.

  Returns:
    float64 `[C]`.
  """
  if stats_q.image_shape != stats_p.image_shape:
    raise ValueError(
        f"Eq. 6 compares datasets of one image shape; got {stats_q.image_shape} "
        f"and {stats_p.image_shape}. Conform the images first (e.g. "
        "glow_ood.data.conform_images).")
  return stats_q.channel_variance_sums - stats_p.channel_variance_sums
