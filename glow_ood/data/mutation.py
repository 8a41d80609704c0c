"""Input mutation for the background model of the likelihood ratio (Ren et al. 2019)."""

import tensorflow.compat.v2 as tf

__all__ = ["mutate"]


def mutate(images, rate, seed):
  """Replaces each value of `images` by a uniform draw from 0..255 with probability `rate`.

  Ren et al. train the background model of `LikelihoodRatio` on inputs where
  each of the `D = H * W * C` dimensions is, independently with probability
  `mu`, replaced by a random value. Here every channel value is its own
  dimension (a pixel's R, G and B are mutated independently), and the new
  value is uniform over all 256 levels, so it can equal the old one: the
  expected fraction of changed values is `rate * 255 / 256`.

      mask  ~ Bernoulli(rate)          [..., H, W, C], i.i.d.
      noise ~ Uniform{0, ..., 255}     [..., H, W, C], i.i.d.
      out   = where(mask, noise, images)

  Stateless and graph-compatible, so it runs inside `tf.data.Dataset.map`
  (give each element its own seed, e.g. `[seed, index]`; see the test).

  Args:
    images: uint8 `Tensor` `[..., H, W, C]` (raw pixels, before dequantization).
    rate: Python `float` in [0, 1], the mutation rate `mu`.
    seed: int32/int64 `Tensor` of shape `[2]`, the stateless seed; the same
      seed gives the same mutation.

  Returns:
    uint8 `Tensor` of the shape of `images`.

  #### References
  [1]: Ren, Liu, Fertig, Snoek, Poplin, DePristo, Dillon, Lakshminarayanan.
       Likelihood Ratios for Out-of-Distribution Detection. NeurIPS 2019.
       https://arxiv.org/abs/1906.02845
  """
  try:
    rate = float(rate)
  except (TypeError, ValueError):
    raise TypeError(f"mutate: rate must be a Python float in [0, 1]; got "
                    f"{rate!r}.") from None
  if not 0. <= rate <= 1.:
    raise ValueError(f"mutate: rate must be in [0, 1]; got {rate}.")
  images = tf.convert_to_tensor(images)
  if images.dtype != tf.uint8:
    raise TypeError(f"mutate expects uint8 images (raw pixels 0..255); got "
                    f"{images.dtype.name}. Mutate before dequantizing.")
  mask_seed, noise_seed = tf.unstack(
      tf.random.experimental.stateless_split(seed, num=2))
  shape = tf.shape(images)
  mask = tf.random.stateless_uniform(shape, seed=mask_seed) < rate
  noise = tf.random.stateless_uniform(shape, seed=noise_seed, minval=0,
                                      maxval=256, dtype=tf.int32)
  return tf.where(mask, tf.cast(noise, tf.uint8), images)
