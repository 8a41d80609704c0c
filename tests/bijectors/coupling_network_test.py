"""Tests for `bijectors.coupling_network`: the ActNorm folding and the split outputs.

The network's fast path (ActNorms folded into the convolutions once they are
initialized, contiguous output parts) must compute what openai/glow's network
computes written out step by step, and a function traced after the
initialization must hold no `tf.cond` (the per-layer `If` ops).
"""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tests.bijectors import bijector_test_util as util
from bijectors import coupling_network
from bijectors import glow_flow


def _initialized_network(width=8, in_channels=3, out_channels=6, seed=0):
  network = coupling_network.GlowCouplingNetwork(
      in_channels, out_channels, hidden_width=width, seed=seed)
  network(util.normal([8, 4, 4, in_channels], seed + 1))   # ActNorms' init
  util.perturb_variables(network, stddev=0.1, seed=seed)
  return network


def _reference(network, x):
  """openai/glow's network written out: conv -> ActNorm -> ReLU, twice, then the zero conv."""
  def actnorm(h, layer):
    return (h - layer.loc) * tf.exp(-layer.log_scale)
  h = tf.nn.conv2d(x, network.kernel1, 1, "SAME")
  h = tf.nn.relu(actnorm(h, network.actnorm1))
  h = tf.nn.conv2d(h, network.kernel2, 1, "SAME")
  h = tf.nn.relu(actnorm(h, network.actnorm2))
  out = network.output_conv
  h = tf.nn.conv2d(h, out.kernel, 1, "SAME") + out.bias
  return h * tf.exp(3. * out.log_scale)


def _op_types(fn, *args):
  graph = tf.function(fn).get_concrete_function(*args).graph
  types = [op.type for op in graph.get_operations()]
  for function in graph.as_graph_def().library.function:
    types += [node.op for node in function.node_def]
  return types


class CouplingNetworkTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"))
  def test_folded_network_equals_openai_glow_network(self, mode):
    network = _initialized_network()
    x = util.normal([5, 4, 4, 3], 7)
    self.assertTrue(network.actnorm1.uses_variables_as_they_are())
    got = util.compile_fn(network, mode)(x)
    self.assertAllClose(got, _reference(network, x), rtol=1e-5, atol=1e-5)

  def test_first_call_initializes_then_folds(self):
    network = coupling_network.GlowCouplingNetwork(3, 6, hidden_width=8, seed=1)
    self.assertFalse(network.actnorm1.uses_variables_as_they_are())
    x = util.normal([16, 4, 4, 3], 2)
    network(x)
    # The init made the hidden activations zero-mean before the ReLU.
    h = tf.nn.conv2d(x, network.kernel1, 1, "SAME")
    self.assertAllClose(network.actnorm1.loc, tf.reduce_mean(h, [0, 1, 2]),
                        atol=1e-5)
    self.assertTrue(network.actnorm1.uses_variables_as_they_are())
    self.assertTrue(network.actnorm2.uses_variables_as_they_are())

  @parameterized.named_parameters(("two", 2), ("three", 3))
  def test_split_outputs_are_the_interleaved_channels(self, parts):
    network = _initialized_network(out_channels=6)
    x = util.normal([2, 4, 4, 3], 3)
    whole = network(x)
    for p, part in enumerate(network.split_outputs(x, parts)):
      self.assertAllClose(part, whole[..., p::parts], rtol=1e-5, atol=1e-6)

  def test_split_outputs_refuses_uneven_parts(self):
    network = _initialized_network(out_channels=6)
    with self.assertRaisesRegex(ValueError, "do not split into 4"):
      network.split_outputs(util.normal([1, 4, 4, 3], 0), 4)

  def test_split_outputs_gradients_equal_the_sliced_ones(self):
    network = _initialized_network(out_channels=6)
    x = util.normal([2, 4, 4, 3], 4)
    weights = tf.constant(np.linspace(-1., 1., 3), tf.float32)

    def loss(parts):
      return sum(tf.reduce_sum(part * w) * (i + 1)
                 for i, (part, w) in enumerate(zip(parts, [weights, -weights])))

    with tf.GradientTape(persistent=True) as tape:
      fast = loss(network.split_outputs(x, 2))
      whole = network(x)
      sliced = loss([whole[..., 0::2], whole[..., 1::2]])
    variables = network.trainable_variables
    for a, b in zip(tape.gradient(fast, variables),
                    tape.gradient(sliced, variables)):
      # float32 rounding of sums of ~50-sized terms.
      self.assertAllClose(a, b, rtol=1e-4, atol=1e-4)

  def test_traced_after_init_has_no_cond(self):
    flow = glow_flow.build_glow_flow((8, 8, 1), 2, 2, hidden_width=8, seed=0)
    x = util.normal([4, 8, 8, 1], 5) * 0.2
    before = _op_types(flow.forward, x)
    self.assertIn("If", " ".join(before))   # the data-dependent init
    flow.forward(x)   # initializes every ActNorm
    after = _op_types(flow.forward, x)
    self.assertEqual([t for t in after if "If" in t], [])
    # ActNorm folded: no Sub/Mul pass over the hidden activations; every
    # hidden layer is one conv + bias + relu.
    self.assertEqual(after.count("BiasAdd") + after.count("_FusedConv2D"),
                     before.count("BiasAdd") + before.count("_FusedConv2D")
                     + 2 * 4)

  def test_full_precision_computes_a_mixed_network_in_its_dtype(self):
    network = coupling_network.GlowCouplingNetwork(
        3, 6, hidden_width=8, seed=0, compute_dtype=tf.bfloat16)
    network(util.normal([8, 4, 4, 3], 1))
    util.perturb_variables(network, stddev=0.1, seed=0)
    x = util.normal([2, 4, 4, 3], 2)
    mixed = network(x)
    with coupling_network.full_precision():
      self.assertEqual(network.compute_dtype, tf.float32)
      full = network(x)
      traced = tf.function(network)
      traced(x)   # traced in the block: float32 for good
    self.assertEqual(network.compute_dtype, tf.bfloat16)
    self.assertAllClose(full, _reference(network, x), rtol=1e-5, atol=1e-5)
    self.assertAllClose(traced(x), full, rtol=1e-6, atol=1e-6)
    # bfloat16 has an 8-bit mantissa: the mixed output is visibly different.
    self.assertGreater(float(tf.reduce_max(tf.abs(mixed - full))), 1e-4)


if __name__ == "__main__":
  tf.test.main()
