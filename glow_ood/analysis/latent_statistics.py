"""Statistics of a Glow's latent codes over a dataset (Nalisnick et al., Figs. 12-13).

For images `x_n` and their standardized latents `z_n = f(x_n)` (`[D]`, N(0, I)
under the model; `Glow.encode` of the bin-centred images):

    mean[d] = (1/N) sum_n z[n, d]
    std[d]  = sqrt(1/(N-1) sum_n (z[n, d] - mean[d])^2)   (the paper's sigma_d)
    norm[n] = ||z_n||_2,     normalized_norm[n] = ||z_n||_2 / sqrt(D)

Under the model `mean ~ 0`, `std ~ 1` and `normalized_norm ~ 1`; data the
model finds likelier (SVHN for a CIFAR-10 Glow, grayed images) have codes of
smaller spread and norm, hence higher `log N(z; 0, I)` (Figure 12: latent
traces `sum_d std[d]^2` of 3838.1 for CIFAR-10 vs 596.9 for SVHN).
"""

import dataclasses
from typing import Optional

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import progress as progress_lib

__all__ = ["LatentStatistics", "latent_statistics"]


@dataclasses.dataclass(frozen=True)
class LatentStatistics:
  """Per-dimension and per-example statistics of `N` latent codes `[N, D]`.

  numpy float64; `std` is unbiased (divides by `N - 1`), the paper's definition.

  Attributes:
    mean: `[D]`, mean of each latent dimension over the dataset.
    std: `[D]`, standard deviation of each latent dimension.
    norm: `[N]`, `||z_n||_2` per example.
    normalized_norm: `[N]`, `||z_n||_2 / sqrt(D)`.
    num_images: Python `int`, `N`.
  """
  mean: np.ndarray
  std: np.ndarray
  norm: np.ndarray
  normalized_norm: np.ndarray
  num_images: int

  @property
  def num_dims(self):
    """`D`."""
    return int(self.mean.size)

  @property
  def covariance_trace(self):
    """`sum_d std[d]^2`, the trace of the codes' covariance (Figure 12's Tr)."""
    return float(np.sum(self.std ** 2))

  def summary(self):
    """The scalar summaries as a JSON-ready dict of Python floats."""
    return {
        "num_images": int(self.num_images),
        "num_dims": self.num_dims,
        "mean_of_means": float(np.mean(self.mean)),
        "mean_abs_mean": float(np.mean(np.abs(self.mean))),
        "mean_std": float(np.mean(self.std)),
        "covariance_trace": self.covariance_trace,
        "mean_norm": float(np.mean(self.norm)),
        "mean_normalized_norm": float(np.mean(self.normalized_norm)),
    }


def latent_statistics(model, images, batch_size=256,
                      description: Optional[str] = None, stream=None):
  """`LatentStatistics` of the codes `model.encode(model.preprocess(images))`.

  Images are dequantized at bin centres (deterministic), as in evaluation, and
  encoded `batch_size` at a time by one `tf.function`; means and variances are
  merged across batches in float64 (Chan et al.'s pairwise update), so the
  `[N, D]` codes are never held at once.

  Args:
    model: a `glow_ood.Glow`.
    images: uint8 `[N, H, W, C]` of the model's image shape, `N >= 2`.
    batch_size: Python `int`, images encoded at a time. Default value: `256`.
    description: Python `str`; if given, a `glow_ood.progress.ProgressBar`
      with this description reports the batches. Default value: `None`.
    stream: file object of the progress bar. Default value: `sys.stderr`.

  Returns:
    `LatentStatistics`.
  """
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise TypeError(f"latent_statistics expects uint8 images; got "
                    f"{images.dtype}. Pass raw pixels in 0..255.")
  image_shape = tuple(model.config.image_shape)
  if images.ndim != 4 or images.shape[1:] != image_shape:
    raise ValueError(
        f"Images of shape {images.shape} do not match the model's image shape "
        f"{image_shape}; conform them first (e.g. "
        "glow_ood.data.conform_images).")
  if len(images) < 2:
    raise ValueError(f"Latent standard deviations need at least 2 images; got "
                     f"{len(images)}.")
  if int(batch_size) != batch_size or int(batch_size) < 1:
    raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
  batch_size = int(batch_size)

  @tf.function(reduce_retracing=True)
  def encode(batch):
    return model.encode(model.preprocess(batch, "center"))

  starts = range(0, len(images), batch_size)
  bar = (progress_lib.ProgressBar(len(starts), description, stream)
         if description else None)
  count, mean, scatter, norms = 0, 0., 0., []
  for start in starts:
    z = encode(tf.constant(images[start:start + batch_size])).numpy()
    z = z.astype(np.float64)
    norms.append(np.linalg.norm(z, axis=-1))
    # Merge (count, mean, scatter) with the batch's (n, batch_mean, batch_scatter).
    n = len(z)
    batch_mean = z.mean(axis=0)
    batch_scatter = np.sum((z - batch_mean) ** 2, axis=0)
    delta = batch_mean - mean
    total = count + n
    mean = mean + delta * (n / total)
    scatter = scatter + batch_scatter + delta ** 2 * (count * n / total)
    count = total
    if bar:
      bar.update()
  if bar:
    bar.close()
  norm = np.concatenate(norms)
  return LatentStatistics(
      mean=mean,
      std=np.sqrt(scatter / (count - 1)),
      norm=norm,
      normalized_norm=norm / np.sqrt(mean.size),
      num_images=count)
