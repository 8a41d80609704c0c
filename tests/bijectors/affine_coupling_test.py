"""Tests for `bijectors.affine_coupling.AffineCoupling`."""

import importlib

from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

from tests.bijectors import bijector_test_util as util
from bijectors import affine_coupling
from bijectors import coupling_network

tfb = tfp.bijectors
tfd = tfp.distributions

SCALES = affine_coupling.SCALES  # ("exp", "sigmoid", "additive")
EVENT = [4, 4, 4]


def _make_coupling(scale, num_channels=4, dtype=tf.float32, seed=0,
                   stddev=0.05, **kwargs):
  """A coupling with openai/glow's network (width 8), moved off the identity.

  The first forward initializes the network's ActNorms; the noise then makes
  the zero-initialized output convolution (and so the coupling) non-trivial.
  """
  coupling = affine_coupling.AffineCoupling(
      num_channels, scale=scale, hidden_width=8, seed=seed, dtype=dtype,
      **kwargs)
  coupling.forward(util.normal([8, 4, 4, num_channels], seed + 100, dtype))
  util.perturb_variables(coupling, stddev=stddev, seed=seed)
  return coupling


def _keras3():
  """The Keras 3 module, or `None` if it is not importable."""
  try:
    keras = importlib.import_module("keras")
  except ImportError:
    return None
  version = getattr(keras, "__version__", "0")
  return keras if int(version.split(".")[0]) >= 3 else None


class AffineCouplingTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      util.named_product(scale=SCALES, mode=util.MODES, dtype=util.DTYPES))
  def test_bijective_and_log_det(self, scale, mode, dtype):
    util.assert_bijective_and_finite(
        self, _make_coupling(scale, dtype=dtype),
        util.normal([3] + EVENT, 1, dtype), mode=mode)

  @parameterized.named_parameters(
      util.named_product(scale=SCALES,
                         batch_shape={"scalar": [], "one": [1], "three": [3],
                                      "two_by_one": [2, 1]}))
  def test_batch_shapes(self, scale, batch_shape):
    values = util.assert_bijective_and_finite(
        self, _make_coupling(scale), util.normal(batch_shape + EVENT, 2))
    self.assertEqual(values["fldj"].shape, tuple(batch_shape))
    self.assertEqual(values["ildj"].shape, tuple(batch_shape))

  def test_uneven_split(self):
    coupling = _make_coupling("exp", num_channels=3, num_masked=1)
    self.assertEqual(coupling.num_masked, 1)
    self.assertEqual(coupling.num_transformed, 2)
    util.assert_bijective_and_finite(self, coupling,
                                     util.normal([2, 4, 4, 3], 3))

  @parameterized.named_parameters(
      ("exp", "exp", 0.),
      ("sigmoid", "sigmoid", 4 * 4 * 2 * np.log(1. / (1. + np.exp(-2.)))),
      ("additive", "additive", 0.))
  def test_starts_as_identity(self, scale, expected_fldj):
    # The default network's output convolution is zero-initialized:
    # shift = 0, s = 0, so y = x * scale(0) with scale(0) = 1 or sigmoid(2).
    coupling = affine_coupling.AffineCoupling(4, scale=scale, hidden_width=8)
    x = util.normal([2] + EVENT, 4)
    y = coupling.forward(x)
    passed = x[..., :2]
    self.assertAllEqual(y[..., :2], passed)
    factor = 1. / (1. + np.exp(-2.)) if scale == "sigmoid" else 1.
    self.assertAllClose(y[..., 2:], x[..., 2:] * factor)
    self.assertAllClose(coupling.forward_log_det_jacobian(x, event_ndims=3),
                        [expected_fldj] * 2)

  @parameterized.named_parameters(("exp", "exp"), ("sigmoid", "sigmoid"),
                                  ("additive", "additive"))
  def test_forward_and_log_det_formula(self, scale):
    # A fixed network whose output interleaves shift and log-scale as in
    # openai/glow: h[..., 0::2] = t, h[..., 1::2] = s (additive: h = t).
    def shift_and_s(x_a):
      return tf.tanh(x_a[..., ::-1]), 0.5 * tf.sin(x_a)

    def network(x_a):
      shift, s = shift_and_s(x_a)
      if scale == "additive":
        return shift
      return tf.reshape(tf.stack([shift, s], axis=-1),
                        tf.concat([tf.shape(x_a)[:-1], [4]], axis=0))

    coupling = affine_coupling.AffineCoupling(
        4, scale=scale, shift_and_log_scale_fn=network)
    x = util.normal([2] + EVENT, 5)
    shift, s = shift_and_s(x[..., :2])
    log_scale = {"exp": s, "sigmoid": tf.math.log_sigmoid(s + 2.),
                 "additive": tf.zeros_like(s)}[scale]
    expected_y = tf.concat(
        [x[..., :2], x[..., 2:] * tf.exp(log_scale) + shift], axis=-1)
    self.assertAllClose(coupling.forward(x), expected_y, atol=1e-6)
    self.assertAllClose(coupling.forward_log_det_jacobian(x, event_ndims=3),
                        tf.reduce_sum(log_scale, axis=[1, 2, 3]), atol=1e-5)
    util.assert_bijective_and_finite(self, coupling, x)

  @parameterized.named_parameters(("moderate", 1.), ("large", 1e2),
                                  ("huge", 1e4))
  def test_sigmoid_log_det_nonpositive(self, magnitude):
    coupling = _make_coupling("sigmoid", stddev=0.5)
    x = util.normal([4] + EVENT, 6, scale=magnitude)
    y = coupling.forward(x)
    fldj = coupling.forward_log_det_jacobian(x, event_ndims=3)
    util.assert_all_finite(self, y, "y")
    util.assert_all_finite(self, fldj, "fldj")
    self.assertAllLessEqual(fldj, 0.)

  def test_additive_log_det_is_zero(self):
    coupling = _make_coupling("additive", stddev=0.5)
    for seed, magnitude in ((7, 1.), (8, 1e3)):
      x = util.normal([3] + EVENT, seed, scale=magnitude)
      self.assertAllEqual(coupling.forward_log_det_jacobian(x, event_ndims=3),
                          [0., 0., 0.])

  @parameterized.named_parameters(("exp", "exp", 6), ("sigmoid", "sigmoid", 6),
                                  ("additive", "additive", 3))
  def test_default_network(self, scale, num_out):
    coupling = affine_coupling.AffineCoupling(6, scale=scale, hidden_width=8)
    network = coupling.shift_and_log_scale_fn
    self.assertIsInstance(network, coupling_network.GlowCouplingNetwork)
    self.assertEqual(network.in_channels, 3)
    self.assertEqual(network.out_channels, num_out)
    # kernel1, actnorm1 loc/log_scale, kernel2, actnorm2 loc/log_scale,
    # zero conv kernel/bias/log_scale.
    self.assertLen(coupling.trainable_variables, 9)

  @parameterized.named_parameters(
      ("exp_eager", "exp", "eager"), ("additive_eager", "additive", "eager"),
      ("sigmoid_eager", "sigmoid", "eager"),
      ("sigmoid_function", "sigmoid", "function"),
      ("sigmoid_xla", "sigmoid", "xla"))
  def test_network_runs_once_per_log_prob(self, scale, mode):
    network = util.CountingNetwork(coupling_network.GlowCouplingNetwork(
        2, 2 if scale == "additive" else 4, hidden_width=8, seed=1))
    coupling = affine_coupling.AffineCoupling(
        4, scale=scale, shift_and_log_scale_fn=network)
    self.assertLen(coupling.trainable_variables, 9)  # the wrapped network's
    coupling.forward(util.normal([4] + EVENT, 9))  # initializes the ActNorms
    base = tfd.Sample(tfd.Normal(0., 1.), EVENT)
    flat_base = tfd.Sample(tfd.Normal(0., 1.), [64])
    to_flat = tfb.Reshape(event_shape_out=[64], event_shape_in=EVENT)
    x = util.normal([3] + EVENT, 10)
    distributions = {
        "invert": tfd.TransformedDistribution(base, tfb.Invert(coupling)),
        "chain": tfd.TransformedDistribution(
            flat_base, tfb.Invert(tfb.Chain([to_flat, coupling]))),
    }
    for name, distribution in distributions.items():
      log_prob = util.compile_fn(distribution.log_prob, mode)
      network.num_calls.assign(0)
      log_prob(x)
      self.assertEqual(int(network.num_calls.numpy()), 1, msg=name)

  @parameterized.named_parameters(
      ("exp_eager", "exp", "eager"), ("additive_eager", "additive", "eager"),
      ("sigmoid_eager", "sigmoid", "eager"),
      ("sigmoid_function", "sigmoid", "function"),
      ("sigmoid_xla", "sigmoid", "xla"))
  def test_log_prob_consistent(self, scale, mode):
    util.assert_log_prob_consistent(self, _make_coupling(scale),
                                    util.normal([3] + EVENT, 11), mode=mode)

  def test_tf_keras_network_is_tracked(self):
    network = tf_keras.layers.Conv2D(4, 3, padding="same",
                                     kernel_initializer="zeros")
    coupling = affine_coupling.AffineCoupling(
        4, scale="exp", shift_and_log_scale_fn=network)
    x = util.normal([2] + EVENT, 12)
    self.assertAllClose(coupling.forward(x), x)
    self.assertLen(coupling.trainable_variables, 2)  # kernel, bias

  def test_keras3_network_raises(self):
    keras = _keras3()
    if keras is None:
      self.skipTest("Keras 3 is not importable")

    class Keras3Network(keras.layers.Layer):

      def call(self, x):
        return tf.concat([x, x], axis=-1)

    candidates = {
        "layer": keras.layers.Conv2D(4, 3, padding="same"),
        "sequential": keras.Sequential([keras.layers.Conv2D(4, 3)]),
        "subclass": Keras3Network(),
    }
    for name, network in candidates.items():
      with self.assertRaisesRegex(TypeError, "Keras 3", msg=name):
        affine_coupling.AffineCoupling(
            4, scale="exp", shift_and_log_scale_fn=network)

  @parameterized.named_parameters(("exp", "exp", 3, 4),
                                  ("additive", "additive", 4, 2))
  def test_wrong_network_channels_raise(self, scale, returned, needed):
    coupling = affine_coupling.AffineCoupling(
        4, scale=scale,
        shift_and_log_scale_fn=lambda x_a: tf.zeros(
            tf.concat([tf.shape(x_a)[:-1], [returned]], axis=0)))
    with self.assertRaisesRegex(
        ValueError, f"returned {returned} channels.*needs {needed}"):
      coupling.forward(util.normal([2] + EVENT, 13))

  def test_bad_arguments_raise(self):
    with self.assertRaisesRegex(ValueError, "Unknown coupling scale 'affine'"):
      affine_coupling.AffineCoupling(4, scale="affine")
    with self.assertRaisesRegex(ValueError, r"num_masked must be in \[1, 3\]"):
      affine_coupling.AffineCoupling(4, num_masked=4)
    with self.assertRaisesRegex(ValueError, r"num_masked must be in \[1, 3\]"):
      affine_coupling.AffineCoupling(4, num_masked=0)
    with self.assertRaisesRegex(ValueError, "at least 2 channels"):
      affine_coupling.AffineCoupling(1)


if __name__ == "__main__":
  tf.test.main()
