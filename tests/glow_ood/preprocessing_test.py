"""Tests of the quantization maths in `glow_ood.preprocessing`."""

import numpy as np
import tensorflow as tf

from glow_ood import preprocessing


class PreprocessingTest(tf.test.TestCase):

  def test_center_dequantization_is_the_bin_centre(self):
    images = np.array([0, 1, 128, 255], np.uint8)
    self.assertAllClose(preprocessing.dequantize(images, 8, "center"),
                        (images + 0.5) / 256. - 0.5)
    # 5 bits: 8 grey levels per bin.
    self.assertAllClose(preprocessing.dequantize(images, 5, "center"),
                        (np.array([0, 0, 16, 31]) + 0.5) / 32. - 0.5)

  def test_uniform_dequantization_stays_in_the_bin(self):
    images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    x = preprocessing.dequantize(images, 8, "uniform", seed=[1, 2]).numpy()
    low = images / 256. - 0.5
    self.assertTrue(np.all(x >= low) and np.all(x < low + 1 / 256.))
    self.assertGreaterEqual(x.min(), -0.5)
    self.assertLess(x.max(), 0.5)

  def test_to_uint8_inverts_center_dequantization(self):
    images = np.arange(256, dtype=np.uint8)
    for n_bits in (8, 5, 1):
      x = preprocessing.dequantize(images, n_bits, "center")
      expected = (images // 2 ** (8 - n_bits)) * 2 ** (8 - n_bits)
      self.assertAllEqual(preprocessing.to_uint8(x, n_bits), expected)

  def test_bits_per_dim_of_a_uniform_density_is_n_bits(self):
    # The uniform density on [-0.5, 0.5)^D has log p = 0: every bin gets
    # probability n_bins**-D, i.e. exactly n_bits bits per dimension.
    for n_bits in (8, 5):
      self.assertAllClose(preprocessing.bits_per_dim(tf.zeros([3]), 100, n_bits),
                          [n_bits] * 3)
    self.assertAllClose(preprocessing.discretization_correction(10, 8),
                        -10 * np.log(256.))

  def test_bad_inputs_fail_clearly(self):
    with self.assertRaisesRegex(TypeError, "integer pixels"):
      preprocessing.dequantize(tf.zeros([2, 2], tf.float32))
    with self.assertRaisesRegex(ValueError, "n_bits"):
      preprocessing.dequantize(np.zeros([2], np.uint8), n_bits=9)
    with self.assertRaisesRegex(ValueError, "dequantization"):
      preprocessing.dequantize(np.zeros([2], np.uint8), dequantization="noise")


if __name__ == "__main__":
  tf.test.main()
