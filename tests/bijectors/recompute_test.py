"""Gradient checkpointing of the coupling networks (`recompute_couplings`).

`tf.recompute_grad` must change what is kept for the backward pass, never
the values: the log-prob and every gradient equal those of the same flow
without it (1e-5 relative), and the networks really run again in the
backward pass (counted in Python around the real network, and as Conv2D
ops in the traced gradient graph).
"""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tests.bijectors import bijector_test_util as util
from tests.toy_data import tiny_glow_config
from bijectors import coupling_network
from bijectors import glow_flow
from glow_ood.models import glow as model_lib

IMAGE = [4, 4, 4]   # 2 levels of 1 step: 2 coupling networks
RTOL = 1e-5


def _flow(recompute, compute_dtype=None, initialize=True):
  """A tiny Glow (width 8); `initialize`: initialized on data, perturbed."""
  flow = glow_flow.build_glow_flow(
      IMAGE, 2, 1, hidden_width=8, recompute_couplings=recompute,
      coupling_compute_dtype=compute_dtype)
  if initialize:
    flow.forward(util.normal([16] + IMAGE, 123))
    util.perturb_variables(flow, stddev=0.05, seed=1)
  return flow


def _networks(module):
  return [m for m in module.submodules
          if isinstance(m, coupling_network.GlowCouplingNetwork)]


def _count_hidden_calls(flow):
  """Wraps each network's `_hidden` (the part `tf.recompute_grad` reruns) in a
  Python counter of its calls: executions eagerly, traces in `tf.function`."""
  calls = [0]
  for network in _networks(flow):
    hidden = network._hidden   # pylint: disable=protected-access

    def counted(x, hidden=hidden):
      calls[0] += 1
      return hidden(x)

    network._hidden = counted   # pylint: disable=protected-access
  return calls


def _log_prob(flow, x):
  z = flow.forward(x)
  return (tf.reduce_sum(-0.5 * tf.square(z) - 0.5 * np.log(2. * np.pi), -1)
          + flow.forward_log_det_jacobian(x, event_ndims=3))


def _log_prob_and_gradients(flow, x):
  with tf.GradientTape() as tape:
    log_prob = _log_prob(flow, x)
    loss = -tf.reduce_mean(log_prob)
  return log_prob, tape.gradient(loss, flow.trainable_variables)


def _x():
  return util.normal([4] + IMAGE, 5)


def _assert_gradients_equal(test, actual, expected, variables, msg):
  test.assertLen(actual, len(variables))
  for variable, a, e in zip(variables, actual, expected):
    test.assertIsNotNone(a, msg=f"{msg} {variable.name}")
    e = e.numpy()
    # Relative to the variable's largest gradient entry.
    np.testing.assert_allclose(
        a.numpy(), e, rtol=RTOL, atol=RTOL * float(np.max(np.abs(e))),
        err_msg=f"{msg} {variable.name}")


class RecomputeTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      util.named_product(mode=("eager", "function"),
                         compute_dtype={"float32": None,
                                        "bfloat16": tf.bfloat16}))
  def test_log_prob_and_gradients_unchanged(self, mode, compute_dtype):
    plain = _flow(False, compute_dtype)
    recomputed = _flow(True, compute_dtype)
    self.assertTrue(all(n.recompute for n in _networks(recomputed)))
    self.assertFalse(any(n.recompute for n in _networks(plain)))
    # Same seed, same init data, same perturbation: the same weights.
    for a, b in zip(recomputed.variables, plain.variables):
      self.assertAllEqual(a, b, msg=a.name)
    x = _x()
    expected_log_prob, expected = util.compile_fn(
        lambda x: _log_prob_and_gradients(plain, x), mode)(x)
    log_prob, grads = util.compile_fn(
        lambda x: _log_prob_and_gradients(recomputed, x), mode)(x)
    self.assertAllClose(log_prob, expected_log_prob, rtol=RTOL, atol=0)
    _assert_gradients_equal(self, grads, expected,
                            recomputed.trainable_variables, mode)
    # Non-trivial gradients everywhere (the flow is off the identity).
    for variable, grad in zip(recomputed.trainable_variables, grads):
      self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0.,
                         msg=variable.name)

  def test_networks_run_again_in_the_backward_pass_eagerly(self):
    x = _x()
    for recompute, expected_calls in ((False, 1), (True, 2)):
      flow = _flow(recompute)
      calls = _count_hidden_calls(flow)
      with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(_log_prob(flow, x))
      self.assertEqual(calls[0], len(_networks(flow)),
                       msg=f"recompute={recompute}")
      tape.gradient(loss, flow.trainable_variables)
      self.assertEqual(calls[0], expected_calls * len(_networks(flow)),
                       msg=f"recompute={recompute}")

  def test_gradient_graph_holds_the_recomputed_convolutions(self):
    x = _x()
    traced_calls, num_convs = {}, {}
    for recompute in (False, True):
      flow = _flow(recompute)
      calls = _count_hidden_calls(flow)
      graph = tf.function(
          lambda x, flow=flow: _log_prob_and_gradients(flow, x),
          autograph=False).get_concrete_function(x).graph
      traced_calls[recompute] = calls[0]
      num_convs[recompute] = sum(op.type == "Conv2D"
                                 for op in graph.get_operations())
      num_networks = len(_networks(flow))
    self.assertEqual(num_networks, 2)
    # Traced once for the forward pass, once more for the backward pass.
    self.assertEqual(traced_calls, {False: num_networks,
                                    True: 2 * num_networks})
    # Each network's 3 convolutions (conv3x3, conv1x1, zero conv) once more.
    self.assertEqual(num_convs[True], num_convs[False] + 3 * num_networks)
    self.assertGreaterEqual(num_convs[False], 3 * num_networks)

  def test_first_call_initializes_without_recompute(self):
    # Before the ActNorms are initialized the network is not checkpointed
    # (its first forward writes the statistics); the result is the same.
    x = util.normal([16] + IMAGE, 123)
    results = {}
    for recompute in (False, True):
      flow = _flow(recompute, initialize=False)
      calls = _count_hidden_calls(flow)
      log_prob, grads = _log_prob_and_gradients(flow, x)
      self.assertEqual(calls[0], len(_networks(flow)),
                       msg=f"recompute={recompute}")
      self.assertTrue(all(bool(n.actnorm1.initialized.numpy()) and
                          bool(n.actnorm2.initialized.numpy())
                          for n in _networks(flow)))
      results[recompute] = (log_prob, grads, flow)
    self.assertAllClose(results[True][0], results[False][0], rtol=RTOL,
                        atol=0)
    for a, b in zip(results[True][2].variables, results[False][2].variables):
      self.assertAllClose(a, b, rtol=RTOL, atol=1e-7, msg=a.name)
    # Zero-initialized output convolutions block some gradients (None).
    for variable, a, b in zip(results[True][2].trainable_variables,
                              results[True][1], results[False][1]):
      self.assertEqual(a is None, b is None, msg=variable.name)
      if a is not None:
        self.assertAllClose(a, b, rtol=RTOL,
                            atol=RTOL * float(tf.reduce_max(tf.abs(b))),
                            msg=variable.name)

  def test_glow_passes_the_option_to_every_coupling_network(self):
    for recompute in (False, True):
      glow = model_lib.Glow(tiny_glow_config(), recompute_couplings=recompute)
      networks = _networks(glow)
      self.assertLen(networks, 2)
      self.assertTrue(all(n.recompute == recompute for n in networks))


if __name__ == "__main__":
  tf.test.main()
