"""Tests of the quantization maths in `glow_ood.preprocessing`."""

import numpy as np
import tensorflow as tf

from glow_ood import metrics
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

  def test_one_bits_per_dim_for_numpy_and_tensors(self):
    # Continuous log p(x) of dequantized images (nats), as Glow.log_prob.
    log_prob = np.array([-1500.25, -120., 0., 37.5, 512.])
    num_dims = 3 * 4 * 4
    self.assertIs(metrics.bits_per_dim, preprocessing.bits_per_dim)
    self.assertIs(metrics.log_prob_from_bits_per_dim,
                  preprocessing.log_prob_from_bits_per_dim)
    for n_bits in (8, 5, 1):
      from_numpy = preprocessing.bits_per_dim(log_prob, num_dims, n_bits)
      self.assertIsInstance(from_numpy, np.ndarray)
      self.assertEqual(from_numpy.dtype, np.float64)
      # -log P / (D log 2), with log P = log p(x) - D n_bits log 2.
      expected = -(log_prob - num_dims * n_bits * np.log(2.)) / (
          num_dims * np.log(2.))
      self.assertAllClose(from_numpy, expected, rtol=1e-14, atol=0.)
      # float64 Tensors: the same numbers, bit for bit; float32 stays float32.
      from_tensor = preprocessing.bits_per_dim(tf.constant(log_prob),
                                               num_dims, n_bits)
      self.assertTrue(tf.is_tensor(from_tensor))
      self.assertEqual(from_tensor.dtype, tf.float64)
      self.assertAllEqual(from_tensor.numpy(), from_numpy)
      from_float32 = preprocessing.bits_per_dim(
          tf.constant(log_prob, tf.float32), num_dims, n_bits)
      self.assertEqual(from_float32.dtype, tf.float32)
      self.assertAllClose(from_float32, from_numpy, rtol=1e-6)
      # Lists and numpy float32 become float64 numpy.
      self.assertEqual(
          preprocessing.bits_per_dim(log_prob.astype(np.float32), num_dims,
                                     n_bits).dtype, np.float64)
      self.assertAllEqual(
          preprocessing.bits_per_dim(log_prob.tolist(), num_dims, n_bits),
          from_numpy)
      # log_prob_from_bits_per_dim inverts it, on numpy and on Tensors.
      inverse = preprocessing.log_prob_from_bits_per_dim(from_numpy, num_dims,
                                                         n_bits)
      self.assertIsInstance(inverse, np.ndarray)
      self.assertEqual(inverse.dtype, np.float64)
      self.assertAllClose(inverse, log_prob, rtol=1e-13, atol=1e-10)
      inverse_tensor = preprocessing.log_prob_from_bits_per_dim(
          from_tensor, num_dims, n_bits)
      self.assertTrue(tf.is_tensor(inverse_tensor))
      self.assertAllClose(inverse_tensor, log_prob, rtol=1e-13, atol=1e-10)
      self.assertAllClose(
          preprocessing.bits_per_dim(inverse, num_dims, n_bits), from_numpy,
          rtol=1e-14, atol=1e-14)
    with self.assertRaisesRegex(ValueError, "num_dims must be >= 1"):
      preprocessing.bits_per_dim(log_prob, 0)
    with self.assertRaisesRegex(ValueError, "n_bits must be in 1..8"):
      preprocessing.log_prob_from_bits_per_dim([1.], num_dims, n_bits=0)

  def test_bad_inputs_fail_clearly(self):
    with self.assertRaisesRegex(TypeError, "takes uint8 images.*float32"):
      preprocessing.dequantize(tf.zeros([2, 2], tf.float32))
    with self.assertRaisesRegex(ValueError, "n_bits"):
      preprocessing.dequantize(np.zeros([2], np.uint8), n_bits=9)
    with self.assertRaisesRegex(ValueError, "dequantization"):
      preprocessing.dequantize(np.zeros([2], np.uint8), dequantization="noise")

  def test_only_uint8_images_are_dequantized(self):
    images = np.array([[0, 255]], np.uint8)
    for given in (images, tf.constant(images)):
      converted = preprocessing.as_uint8_images(given, "f")
      self.assertEqual(converted.dtype, tf.uint8)
      self.assertAllEqual(converted, images)
    with self.assertRaisesRegex(TypeError, "got int64.*astype"):
      preprocessing.as_uint8_images(images.tolist(), "f")
    for dtype, needle in ((np.uint16, "images >> 8"), (np.int64, "astype"),
                          (np.float32, "tf.round"), (np.bool_, "bool")):
      with self.subTest(np.dtype(dtype).name):
        with self.assertRaisesRegex(TypeError, "^dequantize takes uint8 images"):
          preprocessing.dequantize(images.astype(dtype))
        with self.assertRaises(TypeError) as raised:
          preprocessing.check_uint8_dtype(dtype, "f")
        self.assertIn(needle, str(raised.exception))
        self.assertNotIn("\n", str(raised.exception))


if __name__ == "__main__":
  tf.test.main()
