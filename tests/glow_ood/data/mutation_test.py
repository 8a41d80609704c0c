"""Tests of `glow_ood.data.mutation.mutate`, the input perturbation of Ren et al. (2019)."""

import numpy as np
import tensorflow as tf

from glow_ood import scores

SHAPE = (8, 32, 32, 3)   # 24576 values


def random_images(seed=0):
  return np.random.default_rng(seed).integers(0, 256, SHAPE).astype(np.uint8)


class MutateTest(tf.test.TestCase):

  def test_rate_zero_is_identity_and_rate_one_redraws_everything(self):
    images = random_images()
    self.assertAllEqual(scores.mutate(images, 0., [1, 2]), images)
    mutated = scores.mutate(images, 1., [1, 2]).numpy()
    changed = np.mean(mutated != images)
    # Every value redrawn uniformly: unchanged with probability 1/256.
    # Binomial sd of the fraction: sqrt(255/256^2 / 24576) = 0.0004.
    self.assertAllClose(changed, 255. / 256., atol=0.002)
    # The new values are uniform on 0..255: mean 127.5, sd 73.9 / sqrt(n).
    self.assertAllClose(mutated.mean(), 127.5, atol=2.)
    self.assertEqual(mutated.min(), 0)
    self.assertEqual(mutated.max(), 255)

  def test_fraction_changed_matches_the_rate(self):
    images = np.zeros(SHAPE, np.uint8)
    mutated = scores.mutate(images, 0.3, [3, 4]).numpy()
    p = 0.3 * 255. / 256.
    sd = np.sqrt(p * (1. - p) / images.size)
    self.assertAllClose(np.mean(mutated != 0), p, atol=4. * sd)
    self.assertEqual(mutated.dtype, np.uint8)
    self.assertEqual(mutated.shape, SHAPE)

  def test_deterministic_given_the_seed(self):
    images = random_images(1)
    first = scores.mutate(images, 0.5, [5, 6])
    self.assertAllEqual(first, scores.mutate(images, 0.5, [5, 6]))
    self.assertNotAllEqual(first, scores.mutate(images, 0.5, [5, 7]))

  def test_runs_in_tf_data_with_per_element_seeds(self):
    images = random_images(2)

    def mutate_element(index, image):
      seed = tf.stack([tf.constant(11, tf.int64), index])
      return scores.mutate(image, 0.3, seed)

    dataset = tf.data.Dataset.from_tensor_slices(images).enumerate().map(
        mutate_element)
    first = np.stack(list(dataset.as_numpy_iterator()))
    second = np.stack(list(dataset.as_numpy_iterator()))
    self.assertAllEqual(first, second)
    # Each element gets its own mutation mask.
    masks = (first != images).reshape(len(images), -1)
    self.assertNotAllEqual(masks[0], masks[1])
    self.assertAllClose(masks.mean(), 0.3 * 255. / 256., atol=0.02)
    # Same as the eager call with the same seed.
    self.assertAllEqual(first[3], scores.mutate(images[3], 0.3,
                                                tf.constant([11, 3], tf.int64)))

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, r"rate must be in \[0, 1\]"):
      scores.mutate(random_images(), 1.5, [1, 2])
    with self.assertRaisesRegex(TypeError, "uint8"):
      scores.mutate(tf.zeros([2, 2, 1]), 0.1, [1, 2])
    with self.assertRaisesRegex(TypeError, "rate must be a Python float"):
      scores.mutate(random_images(), "high", [1, 2])


if __name__ == "__main__":
  tf.test.main()
