"""openai/glow's edge padding of the coupling networks' 3x3 convolutions.

openai/glow (`tfops.add_edge_padding`, `conv2d` / `conv2d_zeros` with
`edge_bias=True`) zero-pads the input itself, appends a channel that is 1 on
the padded border, and convolves VALID. Ours adds the pad channel's share as
a separate, input-independent term; the references below are openai/glow's
way written out, with the pad channel built in numpy.
"""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tests.bijectors import bijector_test_util as util
from bijectors import affine_coupling
from bijectors import coupling_network
from bijectors import edge_padding
from bijectors import glow_flow

IMAGE = [4, 4, 4]   # the flow: 2 levels of 1 step, 2x2 and 1x1 coupling inputs


def _openai_glow_padded(x, kernel_size=(3, 3)):
  """`[pad(x), e]`: `x` zero-padded SAME, plus the channel that is 1 on the padding."""
  a, b = (kernel_size[0] - 1) // 2, (kernel_size[1] - 1) // 2
  padded = tf.pad(x, [[0, 0], [a, a], [b, b], [0, 0]])
  pad = np.ones([1] + padded.shape[1:3].as_list() + [1], np.float32)
  pad[:, a:pad.shape[1] - a, b:pad.shape[2] - b, :] = 0.
  pad = tf.tile(tf.constant(pad, x.dtype), [tf.shape(x)[0], 1, 1, 1])
  return tf.concat([padded, pad], axis=-1)


def _conv_with_edge(x, kernel, edge_kernel):
  return tf.nn.conv2d(_openai_glow_padded(x), tf.concat([kernel, edge_kernel], 2),
                      1, "VALID")


def _reference(network, x):
  """openai/glow's `f` with `edge_bias=True`, written out step by step."""
  def actnorm(h, layer):
    return (h - layer.loc) * tf.exp(-layer.log_scale)
  h = _conv_with_edge(x, network.kernel1, network.edge_kernel1)
  h = tf.nn.relu(actnorm(h, network.actnorm1))
  h = tf.nn.relu(actnorm(tf.nn.conv2d(h, network.kernel2, 1, "SAME"),
                         network.actnorm2))
  out = network.output_conv
  h = _conv_with_edge(h, out.kernel, out.edge_kernel) + out.bias
  return h * tf.exp(3. * out.log_scale)


def _network(edge=True, seed=0, compute_dtype=None, initialize=True):
  network = coupling_network.GlowCouplingNetwork(
      3, 6, hidden_width=8, seed=seed, compute_dtype=compute_dtype,
      edge_padding=edge)
  if initialize:
    network(util.normal([8, 5, 5, 3], seed + 1))   # ActNorms' init
    util.perturb_variables(network, stddev=0.1, seed=seed)
  return network


def _flow(edge=True, dtype=tf.float32, **kwargs):
  flow = glow_flow.build_glow_flow(IMAGE, 2, 1, hidden_width=8,
                                   coupling_edge_padding=edge, dtype=dtype,
                                   **kwargs)
  flow.forward(util.normal([16] + IMAGE, 123, dtype))
  util.perturb_variables(flow, stddev=0.05, seed=1)
  return flow


def _networks(module):
  return [m for m in module.submodules
          if isinstance(m, coupling_network.GlowCouplingNetwork)]


class EdgeMaskTest(tf.test.TestCase, parameterized.TestCase):

  def test_ones_exactly_on_the_border_a_3x3_same_padding_adds(self):
    mask = edge_padding.edge_mask(2, 3, (3, 3))
    self.assertEqual(mask.shape, [1, 4, 5, 1])
    self.assertAllEqual(mask[0, ..., 0], [[1, 1, 1, 1, 1],
                                          [1, 0, 0, 0, 1],
                                          [1, 0, 0, 0, 1],
                                          [1, 1, 1, 1, 1]])

  @parameterized.named_parameters(
      ("5x5", 3, 4, (5, 5)), ("3x1", 2, 2, (3, 1)), ("1x1", 2, 2, (1, 1)),
      ("one_pixel", 1, 1, (3, 3)))
  def test_ones_where_same_padding_puts_zeros(self, height, width, kernel):
    mask = edge_padding.edge_mask(height, width, kernel)
    # Zero-pad a ones image as a SAME convolution does: the zeros are the pad.
    a, b = (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
    padded_ones = np.pad(np.ones([height, width]), [[a, a], [b, b]])
    self.assertAllEqual(mask[0, ..., 0], 1. - padded_ones)

  def test_even_kernels_are_refused(self):
    with self.assertRaisesRegex(ValueError, "odd kernel sizes.*got 2x3"):
      edge_padding.edge_mask(4, 4, (2, 3))
    with self.assertRaisesRegex(ValueError, "odd kernel sizes"):
      coupling_network.ZeroInitConv2d(4, 4, kernel_size=2, edge_padding=True)

  @parameterized.named_parameters(("static", False), ("dynamic", True))
  def test_edge_term_is_the_pad_channels_share_of_the_convolution(
      self, dynamic):
    x = util.normal([2, 4, 5, 3], 0)
    kernel, edge_kernel = util.normal([3, 3, 3, 6], 1), util.normal(
        [3, 3, 1, 6], 2)

    def ours(x):
      shape = tf.shape(x)
      return (tf.nn.conv2d(x, kernel, 1, "SAME")
              + edge_padding.edge_term(edge_kernel, shape[1], shape[2]))

    if dynamic:   # height and width unknown when traced
      ours = tf.function(ours, input_signature=[
          tf.TensorSpec([None, None, None, 3], tf.float32)])
    expected = _conv_with_edge(x, kernel, edge_kernel)
    self.assertAllClose(ours(x), expected, rtol=1e-5, atol=1e-5)
    # The term is nonzero exactly on the one-pixel border.
    term = edge_padding.edge_term(edge_kernel, 4, 5)[0]
    self.assertAllEqual(term[1:-1, 1:-1], tf.zeros([2, 3, 6]))
    self.assertTrue(np.all(np.abs(term[0].numpy()) > 0))


class EdgePaddedNetworkTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"))
  def test_equals_openai_glow_network(self, mode):
    network = _network()
    self.assertTrue(network.actnorm1.uses_variables_as_they_are())  # folded
    x = util.normal([5, 5, 5, 3], 7)
    self.assertAllClose(util.compile_fn(network, mode)(x),
                        _reference(network, x), rtol=1e-5, atol=1e-5)

  def test_first_call_initializes_actnorm_on_the_edge_padded_convolution(self):
    network = _network(initialize=False)
    x = util.normal([16, 4, 4, 3], 2)
    network(x)
    h = _conv_with_edge(x, network.kernel1, network.edge_kernel1)
    self.assertAllClose(network.actnorm1.loc, tf.reduce_mean(h, [0, 1, 2]),
                        atol=1e-5)

  def test_only_the_border_differs_from_the_network_without_it(self):
    edged, plain = _network(edge=True), _network(edge=False, initialize=False)
    for name in ("kernel1", "kernel2"):
      getattr(plain, name).assign(getattr(edged, name))
    for name in ("actnorm1", "actnorm2"):
      source, target = getattr(edged, name), getattr(plain, name)
      target.loc.assign(source.loc)
      target.log_scale.assign(source.log_scale)
      target.initialized.assign(True)
    for name in ("kernel", "bias", "log_scale"):
      getattr(plain.output_conv, name).assign(
          getattr(edged.output_conv, name))
    x = util.normal([2, 6, 6, 3], 3)
    difference = np.abs((edged(x) - plain(x)).numpy()).max(axis=(0, 3))
    # Two 3x3 convolutions: the padding reaches 2 pixels in from the border.
    self.assertAllEqual(difference[2:4, 2:4], np.zeros([2, 2]))
    ring = np.ones([6, 6], bool)
    ring[2:4, 2:4] = False
    self.assertTrue(np.all(difference[ring] > 1e-4))

  @parameterized.named_parameters(("two", 2), ("three", 3))
  def test_split_outputs_are_the_interleaved_channels(self, parts):
    network = _network()
    x = util.normal([2, 4, 4, 3], 3)
    whole = network(x)
    for p, part in enumerate(network.split_outputs(x, parts)):
      self.assertAllClose(part, whole[..., p::parts], rtol=1e-5, atol=1e-6)

  def test_variables_and_initial_values(self):
    edged = _network(seed=4, initialize=False)
    plain = _network(edge=False, seed=4, initialize=False)
    self.assertTrue(edged.edge_padding)
    self.assertFalse(plain.edge_padding)
    self.assertLen(edged.trainable_variables, 11)
    self.assertLen(plain.trainable_variables, 9)
    self.assertEqual(edged.edge_kernel1.shape, [3, 3, 1, 8])
    self.assertEqual(edged.output_conv.edge_kernel.shape, [3, 3, 1, 6])

    def count(network):
      return sum(v.shape.num_elements() for v in network.trainable_variables)

    self.assertEqual(count(edged) - count(plain), 9 * (8 + 6))
    # Edge kernels have their own random stream; the output starts at zero.
    self.assertAllEqual(edged.kernel1, plain.kernel1)
    self.assertAllEqual(edged.kernel2, plain.kernel2)
    self.assertNotAllClose(edged.edge_kernel1, tf.zeros([3, 3, 1, 8]))
    self.assertAllEqual(edged.output_conv.edge_kernel, tf.zeros([3, 3, 1, 6]))
    self.assertAllEqual(edged(util.normal([2, 4, 4, 3], 5)),
                        tf.zeros([2, 4, 4, 6]))

  def test_bfloat16_network_tracks_float32(self):
    network = _network(compute_dtype=tf.bfloat16)
    x = util.normal([2, 4, 4, 3], 6)
    mixed = network(x)
    self.assertEqual(mixed.dtype, tf.float32)
    with coupling_network.full_precision():
      full = network(x)
    reference = _reference(network, x)
    self.assertAllClose(full, reference, rtol=1e-5, atol=1e-5)
    scale = float(tf.reduce_max(tf.abs(reference)))
    self.assertAllClose(mixed, reference, rtol=0, atol=2e-2 * scale)
    for part, expected in zip(network.split_outputs(x, 2),
                              (mixed[..., 0::2], mixed[..., 1::2])):
      self.assertEqual(part.dtype, tf.float32)
      self.assertAllClose(part, expected, rtol=0, atol=1e-2 * scale)


class EdgePaddedFlowTest(tf.test.TestCase, parameterized.TestCase):

  # float64: exact to 1e-10, so a wrong edge term in either direction shows.
  # (float32 in eager mode: glow_flow_test's OPTIONS.)
  @parameterized.named_parameters(
      *[(f"{scale}_function", scale, "function")
        for scale in affine_coupling.SCALES],
      ("sigmoid_xla", "sigmoid", "xla"))
  def test_bijective_and_log_det(self, scale, mode):
    flow = _flow(coupling_scale=scale, learn_top=True, dtype=tf.float64)
    self.assertTrue(all(n.edge_padding for n in _networks(flow)))
    util.assert_bijective_and_finite(
        self, flow, util.normal([2] + IMAGE, 2, tf.float64), mode=mode)

  def test_two_more_variables_per_coupling(self):
    edged, plain = _flow(), _flow(edge=False)
    self.assertLen(_networks(edged), 2)
    self.assertLen(edged.trainable_variables,
                   len(plain.trainable_variables) + 2 * 2)
    self.assertFalse(any(n.edge_padding for n in _networks(plain)))

  def test_recomputed_gradients_equal_kept_ones(self):
    x = util.normal([4] + IMAGE, 5)
    results = []
    for recompute in (False, True):
      flow = _flow(recompute_couplings=recompute)
      with tf.GradientTape() as tape:
        z = flow.forward(x)
        loss = tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(z), -1)
                              - flow.forward_log_det_jacobian(x, event_ndims=3))
      results.append((loss, tape.gradient(loss, flow.trainable_variables),
                      flow.trainable_variables))
    (loss, grads, variables), (loss_r, grads_r, _) = results
    self.assertAllClose(loss_r, loss, rtol=1e-6)
    for variable, g, g_r in zip(variables, grads, grads_r):
      self.assertAllClose(g_r, g, rtol=1e-5,
                          atol=1e-5 * float(tf.reduce_max(tf.abs(g))),
                          msg=variable.name)
    edge_grads = [g for v, g in zip(variables, grads) if "edge_kernel" in v.name]
    self.assertLen(edge_grads, 4)
    self.assertTrue(all(float(tf.reduce_max(tf.abs(g))) > 0 for g in edge_grads))


if __name__ == "__main__":
  tf.test.main()
