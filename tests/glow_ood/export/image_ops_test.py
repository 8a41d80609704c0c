"""Tests of `glow_ood.export.image_ops`: training's padding and PNG lengths, in the graph."""

import os

from absl.testing import parameterized
import numpy as np
import pytest
import tensorflow as tf

from glow_ood.data import sources
from glow_ood.data import transforms
from glow_ood.export import image_ops
from glow_ood.scores import compressed_bits
from tests import shared_data


def random_images(shape, seed=0):
  return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


class PadLikeTrainingTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ("mnist_to_32", (28, 28, 1), (32, 32, 1), False),
      ("odd_margin", (5, 6, 1), (8, 8, 1), False),
      ("pad_and_rgb", (6, 6, 1), (8, 8, 3), True),
      ("rgb_only", (8, 8, 1), (8, 8, 3), True),
      ("rgb_stays_rgb", (6, 6, 3), (8, 8, 3), True))
  def test_is_the_data_pipeline_bit_for_bit(self, raw, target, to_rgb):
    images = random_images((3, *raw))
    expected = transforms.pad_images(images, target[0])
    if to_rgb:
      expected = transforms.gray_to_rgb(expected)
    got = image_ops.pad_like_training(tf.constant(images), target)
    self.assertEqual(got.dtype, tf.uint8)
    self.assertAllEqual(got, expected)

  def test_impossible_shapes_raise(self):
    with self.assertRaisesRegex(ValueError, "cannot be padded / tiled"):
      image_ops.pad_like_training(tf.zeros([1, 9, 9, 1], tf.uint8), (8, 8, 1))
    with self.assertRaisesRegex(ValueError, "cannot be padded / tiled"):
      image_ops.pad_like_training(tf.zeros([1, 8, 8, 2], tf.uint8), (8, 8, 3))


class PngBitsTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ("gray_noise", (4, 8, 8, 1)), ("rgb_noise", (4, 16, 16, 3)),
      ("rgba_noise", (2, 8, 8, 4)))
  def test_equals_pillow_on_noise_and_constant_images(self, shape):
    for images in (random_images(shape), np.full(shape, 128, np.uint8)):
      got = image_ops.png_bits(tf.constant(images))
      self.assertEqual(got.dtype, tf.float64)
      self.assertAllEqual(got, compressed_bits(images, "png"))

  def test_in_a_traced_function_with_unknown_batch(self):
    images = random_images((5, 8, 8, 1))
    fn = tf.function(image_ops.png_bits,
                     input_signature=[tf.TensorSpec([None, 8, 8, 1],
                                                    tf.uint8)])
    self.assertAllEqual(fn(images), image_ops.png_bits(tf.constant(images)))
    self.assertEqual(fn(images[:0]).shape, [0])

  def test_two_channels_are_fine_but_five_raise(self):
    image_ops.png_bits(tf.zeros([1, 4, 4, 2], tf.uint8))
    with self.assertRaisesRegex(ValueError, "1 to 4 channels"):
      image_ops.png_bits(tf.zeros([1, 4, 4, 5], tf.uint8))


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist", "cifar10_jpeg"])
def test_on_real_images_lengths_differ_from_pillows_by_a_few_percent(name):
  """The documented difference (libpng's row filters vs Pillow's), on 100 images."""
  shared_data.require(f"{name}_test.npz")
  path = os.path.join(sources.default_data_dir(), f"{name}_test.npz")
  with np.load(path) as arrays:
    images = arrays["images"][:100]
  if images.shape[1] < 32:
    images = transforms.pad_images(images, 32)
  graph = image_ops.png_bits(tf.constant(images)).numpy()
  python = compressed_bits(images, "png")
  relative = np.abs(graph - python) / python
  assert np.max(relative) < 0.06, np.max(relative)
  assert np.mean(relative) < 0.02, np.mean(relative)
  assert np.corrcoef(graph, python)[0, 1] > 0.99
