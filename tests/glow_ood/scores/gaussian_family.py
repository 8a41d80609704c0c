"""A model family defined in the tests: a diagonal Gaussian over D pixel values.

The images are `[1, 1, D]` (D "pixels" in the channels); each 8-bit pixel
value `k` is read at its bin centre `x = (k + 1/2) / 256 - 1/2` (as Glow's
preprocessing) and

    log P(k) = sum_d log N(x_d; mu_d, sigma_d^2) - D log 256,

`mu` (`loc`) and `log sigma` (`log_scale`) the trainable variables (two
layers, in that reading order). The density of the bin centres times the
bin volume: accurate when `sigma` spans many bins (here about 20). Fitted by
maximum likelihood (`fit_maximum_likelihood`: the training set's mean and
standard deviation, in closed form), its per-example gradient and Fisher
information are known:

    d log p / d mu_d        = z_d / sigma_d,    z_d = (x_d - mu_d) / sigma_d,
    d log p / d log sigma_d = z_d^2 - 1,
    F = diag(1 / sigma_d^2, 2),
    g^T F^-1 g = sum_d z_d^2 + (z_d^2 - 1)^2 / 2    (mean 2 D in-distribution).

It offers what the gradient scores use of a family (`density_model`):
`config` (`image_shape`, `n_bits`, `dtype`), `family`, `capabilities`,
`is_initialized`, `discrete_log_prob`, `trainable_variables`.
"""

import dataclasses
from typing import Tuple

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood.models import density_model

PIXEL_MEAN = 128.
PIXEL_STD = 20.


@dataclasses.dataclass(frozen=True)
class GaussianConfig:
  image_shape: Tuple[int, int, int] = (1, 1, 16)
  n_bits: int = 8
  dtype: str = "float32"
  family = "gaussian"

  @property
  def num_dims(self):
    return int(np.prod(self.image_shape))


def bin_centres(images):
  """uint8 `[N, 1, 1, D]` -> float64 `[N, D]` bin centres in [-0.5, 0.5)."""
  images = np.asarray(images)
  return (images.reshape(len(images), -1).astype(np.float64) + 0.5) / 256. - 0.5


class GaussianModel(tf.Module):
  """`log P(k) = sum_d log N(x_d; loc_d, exp(log_scale_d)^2) - D log 256`."""

  family = "gaussian"
  capabilities = frozenset()
  is_initialized = True

  def __init__(self, config=GaussianConfig()):
    super().__init__(name=None)
    self.config = config
    dims = config.num_dims
    # Created outside a name scope: variables "loc" and "log_scale", each
    # its own layer.
    self.loc = tf.Variable(tf.zeros([dims]), name="loc")
    self.log_scale = tf.Variable(tf.zeros([dims]), name="log_scale")

  def discrete_log_prob(self, images):
    x = (tf.cast(images, tf.float32) + 0.5) / 256. - 0.5
    x = tf.reshape(x, [-1, self.config.num_dims])
    z = (x - self.loc) * tf.exp(-self.log_scale)
    log_density = tf.reduce_sum(
        -0.5 * tf.square(z) - self.log_scale - 0.5 * np.log(2. * np.pi),
        axis=-1)
    return density_model.Estimate(
        log_density - self.config.num_dims * np.log(256.))

  def fit_maximum_likelihood(self, images):
    """Sets `loc`, `log_scale` to the mean and log std of the bin centres."""
    x = bin_centres(images)
    self.loc.assign(x.mean(axis=0))
    self.log_scale.assign(np.log(x.std(axis=0)))
    return self

  def standardized(self, images):
    """`z = (x - loc) / scale`, float64 `[N, D]`."""
    return (bin_centres(images) - self.loc.numpy()) / np.exp(
        self.log_scale.numpy())


def gaussian_images(num, seed, shift=0., scale=1., config=GaussianConfig()):
  """uint8 `[num, 1, 1, D]`: pixels `round(128 + 20 (scale * e + shift))`, e ~ N(0, 1).

  `shift` in standard deviations (20 pixel values), `scale` multiplying
  them; clipped to 0..255 (rare within 5 standard deviations).
  """
  e = np.random.default_rng(seed).normal(size=(num, *config.image_shape))
  pixels = PIXEL_MEAN + PIXEL_STD * (scale * e + shift)
  return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def trained_model(seed=0, num_train=20000):
  """A `GaussianModel` fitted by maximum likelihood on `num_train` images."""
  return GaussianModel().fit_maximum_likelihood(
      gaussian_images(num_train, seed=(seed, 0)))
