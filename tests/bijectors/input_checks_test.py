"""Input checks of the image bijectors (`bijectors._checks`): what they refuse and what they cost.

Static mistakes (rank, channel count, image shape) are refused at trace time
through every TFP entry point (`forward`, `inverse`, the log-dets,
`tfb.Invert`, `tfb.Chain`, `tfd.TransformedDistribution`); dimensions that
are unknown at trace time are asserted only under `validate_args`, and
nothing is added to the graph otherwise. (The one-line messages themselves
are checked in `tests/catalogue/api_test.py`.)
"""

from absl.testing import parameterized
import tensorflow as tf
import tensorflow_probability as tfp

import bijectors

tfb = tfp.bijectors
tfd = tfp.distributions

# Layers built for 4 channels, each applied to 4x4 events.
LAYERS = {
    "actnorm": lambda **kw: bijectors.ActNorm(4, **kw),
    "channel_affine": lambda **kw: bijectors.ChannelAffine(4, **kw),
    "conv1x1_lu": lambda **kw: bijectors.InvertibleConv1x1(4, seed=1, **kw),
    "conv1x1": lambda **kw: bijectors.InvertibleConv1x1(
        4, lu_decomposed=False, seed=1, **kw),
    "coupling": lambda **kw: bijectors.AffineCoupling(
        4, hidden_width=8, seed=1, **kw),
    "permute": lambda **kw: bijectors.ChannelPermute.reverse(4, **kw),
    "split_prior": lambda **kw: bijectors.SplitPrior(4, **kw),
}
UNKNOWN_EVENT = tf.TensorSpec([None, None, None, None], tf.float32)


def _entry_points(bijector):
  """Every way a user reaches the layer's transform of 4x4x3 events."""
  x = tf.zeros([2, 4, 4, 3])
  return {
      "forward": lambda: bijector.forward(x),
      "inverse": lambda: bijector.inverse(x),
      "fldj": lambda: bijector.forward_log_det_jacobian(x, event_ndims=3),
      "ildj": lambda: bijector.inverse_log_det_jacobian(x, event_ndims=3),
      "invert": lambda: tfb.Invert(bijector).forward(x),
      "chain": lambda: tfb.Chain([bijector, bijectors.Squeeze(1)]).forward(x),
      "distribution": lambda: tfd.TransformedDistribution(
          tfd.Sample(tfd.Normal(0., 1.), [4, 4, 4]),
          tfb.Invert(bijector)).log_prob(x),
  }


def _num_assert_ops(fn, *specs):
  """`Assert` ops in the traced graph of `fn`, nested functions included."""
  graph_def = tf.function(fn, autograph=False).get_concrete_function(
      *specs).graph.as_graph_def()
  nodes = list(graph_def.node) + [
      node for f in graph_def.library.function for node in f.node_def]
  return sum(node.op == "Assert" for node in nodes)


class InputChecksTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(*LAYERS.items())
  def test_wrong_channels_are_refused_through_every_entry_point(self, make):
    bijector = make()
    for name, call in _entry_points(bijector).items():
      with self.subTest(name):
        with self.assertRaisesRegex(ValueError, "built for 4 channels.*3 channels"):
          call()
      with self.subTest(name + "_traced"):
        with self.assertRaisesRegex(ValueError, "built for 4 channels"):
          tf.function(call, autograph=False)()

  @parameterized.named_parameters(*LAYERS.items())
  def test_rank_below_three_is_refused(self, make):
    with self.assertRaisesRegex(ValueError, r"rank >= 3.*\[4, 4\] \(rank 2\)"):
      make().forward(tf.zeros([4, 4]))

  @parameterized.named_parameters(*LAYERS.items())
  def test_unknown_channels_cost_nothing_without_validate_args(self, make):
    self.assertEqual(_num_assert_ops(make().forward, UNKNOWN_EVENT), 0)
    self.assertEqual(
        _num_assert_ops(make().forward,
                        tf.TensorSpec([None, 4, 4, 4], tf.float32)), 0)

  @parameterized.named_parameters(*LAYERS.items())
  def test_unknown_channels_are_asserted_under_validate_args(self, make):
    bijector = make(validate_args=True)
    # Static channels: checked at trace time, no run-time assertion needed.
    self.assertEqual(
        _num_assert_ops(bijector.forward,
                        tf.TensorSpec([None, 4, 4, 4], tf.float32)), 0)
    self.assertGreater(_num_assert_ops(bijector.forward, UNKNOWN_EVENT), 0)
    forward = tf.function(bijector.forward, autograph=False,
                          input_signature=[UNKNOWN_EVENT])
    inverse = tf.function(bijector.inverse, autograph=False,
                          input_signature=[UNKNOWN_EVENT])
    x = tf.random.stateless_normal([2, 4, 4, 4], seed=[1, 2])
    self.assertAllClose(inverse(forward(x)), x, atol=1e-5)
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                "built for 4 channels"):
      forward(tf.zeros([2, 4, 4, 3]))

  def test_float64_events_still_work(self):
    layer = bijectors.AffineCoupling(4, hidden_width=8, seed=1,
                                     dtype=tf.float64, validate_args=True)
    x = tf.random.stateless_normal([2, 4, 4, 4], seed=[3, 4], dtype=tf.float64)
    self.assertAllClose(layer.inverse(tf.identity(layer.forward(x))), x)

  def test_multiscale_flow_checks_its_layers_when_built(self):
    with self.assertRaisesRegex(ValueError, "level 1, bijector 2.*built for "
                                            "3 channels.*4 channels"):
      bijectors.MultiScaleFlow([4, 4, 1], [[bijectors.Squeeze(2),
                                            bijectors.ActNorm(3)]])
    with self.assertRaisesRegex(ValueError, "split prior of level 1"):
      bijectors.MultiScaleFlow(
          [4, 4, 1], [[bijectors.Squeeze(2)], [bijectors.Squeeze(2)]],
          split_priors=[bijectors.SplitPrior(2)])

  def test_multiscale_flow_with_unknown_dimensions(self):
    flow = bijectors.build_glow_flow([8, 8, 1], 2, 1, hidden_width=8, seed=1)
    checked = bijectors.build_glow_flow([8, 8, 1], 2, 1, hidden_width=8,
                                        seed=1, validate_args=True)
    x = tf.random.stateless_uniform([3, 8, 8, 1], seed=[5, 6]) - 0.5
    expected = flow.forward(x)
    # An unknown batch size is the common traced case: no assertion.
    batch = tf.TensorSpec([None, 8, 8, 1], tf.float32)
    self.assertEqual(_num_assert_ops(checked.forward, batch), 0)
    self.assertEqual(_num_assert_ops(flow.forward, UNKNOWN_EVENT), 0)
    forward = tf.function(checked.forward, autograph=False,
                          input_signature=[UNKNOWN_EVENT])
    self.assertAllClose(forward(x), checked.forward(x))
    self.assertEqual(expected.shape, [3, 64])
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                r"built for images of shape \[8, 8, 1\]"):
      forward(tf.zeros([2, 4, 4, 4]))
    inverse = tf.function(checked.inverse, autograph=False,
                          input_signature=[tf.TensorSpec([None, None])])
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                r"flat latents \[\.\.\., 64\]"):
      inverse(tf.zeros([2, 32]))


if __name__ == "__main__":
  tf.test.main()
