"""Tests for `bijectors.invertible_conv1x1.InvertibleConv1x1`."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tests.bijectors import bijector_test_util as util
from bijectors import invertible_conv1x1

PARAMETERIZATIONS = {"lu": True, "plain": False}


def _make_layer(lu_decomposed, num_channels=4, dtype=tf.float32, seed=3):
  """A 1x1 convolution moved away from its initial rotation."""
  layer = invertible_conv1x1.InvertibleConv1x1(
      num_channels, lu_decomposed=lu_decomposed, seed=seed, dtype=dtype)
  util.perturb_variables(layer, stddev=0.2, seed=seed)
  return layer


class InvertibleConv1x1Test(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      util.named_product(lu_decomposed=PARAMETERIZATIONS, mode=util.MODES,
                         dtype=util.DTYPES))
  def test_bijective_and_log_det(self, lu_decomposed, mode, dtype):
    util.assert_bijective_and_finite(
        self, _make_layer(lu_decomposed, dtype=dtype),
        util.normal([3, 4, 4, 4], 1, dtype), mode=mode)

  @parameterized.named_parameters(
      util.named_product(lu_decomposed=PARAMETERIZATIONS,
                         batch_shape={"scalar": [], "one": [1], "three": [3],
                                      "two_by_one": [2, 1]}))
  def test_batch_shapes(self, lu_decomposed, batch_shape):
    values = util.assert_bijective_and_finite(
        self, _make_layer(lu_decomposed),
        util.normal(batch_shape + [2, 3, 4], 2))
    self.assertEqual(values["fldj"].shape, tuple(batch_shape))
    self.assertEqual(values["ildj"].shape, tuple(batch_shape))

  @parameterized.named_parameters(("lu", True), ("plain", False))
  def test_starts_orthogonal(self, lu_decomposed):
    layer = invertible_conv1x1.InvertibleConv1x1(
        6, lu_decomposed=lu_decomposed, seed=7)
    kernel, log_abs_det = layer.kernel_and_log_abs_det()
    self.assertAllClose(tf.matmul(kernel, kernel, transpose_a=True),
                        tf.eye(6), atol=1e-6)
    self.assertAllClose(log_abs_det, 0., atol=1e-6)
    self.assertAllClose(tf.abs(tf.linalg.det(kernel)), 1., atol=1e-6)
    x = util.normal([2, 3, 3, 6], 4)
    self.assertAllClose(layer.forward_log_det_jacobian(x, event_ndims=3),
                        [0., 0.], atol=1e-5)

  def test_parameterizations_agree_for_same_seed(self):
    lu_layer = invertible_conv1x1.InvertibleConv1x1(
        6, lu_decomposed=True, seed=11)
    plain_layer = invertible_conv1x1.InvertibleConv1x1(
        6, lu_decomposed=False, seed=11)
    self.assertAllClose(lu_layer.kernel_and_log_abs_det()[0],
                        plain_layer.kernel_and_log_abs_det()[0], atol=1e-6)
    x = util.normal([2, 3, 3, 6], 5)
    self.assertAllClose(lu_layer.forward(x), plain_layer.forward(x), atol=1e-5)
    other_seed = invertible_conv1x1.InvertibleConv1x1(
        6, lu_decomposed=True, seed=12)
    self.assertNotAllClose(other_seed.forward(x), lu_layer.forward(x))

  def test_unseeded_layers_differ(self):
    x = util.normal([1, 2, 2, 4], 6)
    first = invertible_conv1x1.InvertibleConv1x1(4).forward(x)
    second = invertible_conv1x1.InvertibleConv1x1(4).forward(x)
    self.assertNotAllClose(first, second)

  @parameterized.named_parameters(("lu", True), ("plain", False))
  def test_forward_and_log_det_formula(self, lu_decomposed):
    layer = _make_layer(lu_decomposed)
    kernel, log_abs_det = layer.kernel_and_log_abs_det()
    self.assertAllClose(log_abs_det,
                        np.linalg.slogdet(kernel.numpy().astype(np.float64))[1],
                        atol=1e-5)
    x = util.normal([2, 3, 5, 4], 7)
    # y[h, w] = W @ x[h, w]; fldj = H * W * log|det W|.
    self.assertAllClose(layer.forward(x), tf.einsum("oi,bhwi->bhwo", kernel, x),
                        atol=1e-5)
    self.assertAllClose(layer.forward_log_det_jacobian(x, event_ndims=3),
                        [15. * log_abs_det] * 2, atol=1e-4)

  @parameterized.named_parameters(
      ("lu", True, 3),  # log_s, lower, upper
      ("plain", False, 1))  # kernel
  def test_trainable_variables(self, lu_decomposed, expected):
    layer = invertible_conv1x1.InvertibleConv1x1(4, lu_decomposed=lu_decomposed)
    self.assertLen(layer.trainable_variables, expected)

  @parameterized.named_parameters(("lu", True), ("plain", False))
  def test_gradients_reach_every_variable(self, lu_decomposed):
    layer = _make_layer(lu_decomposed)
    x = util.normal([2, 3, 3, 4], 8)
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.square(layer.forward(x))) - tf.reduce_sum(
          layer.forward_log_det_jacobian(x, event_ndims=3))
    grads = tape.gradient(loss, layer.trainable_variables)
    for variable, grad in zip(layer.trainable_variables, grads):
      self.assertIsNotNone(grad, msg=variable.name)
      self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0.,
                         msg=variable.name)

  @parameterized.named_parameters(
      util.named_product(lu_decomposed=PARAMETERIZATIONS, mode=util.MODES))
  def test_log_prob_consistent(self, lu_decomposed, mode):
    util.assert_log_prob_consistent(self, _make_layer(lu_decomposed),
                                    util.normal([3, 4, 4, 4], 9), mode=mode)


if __name__ == "__main__":
  tf.test.main()
