"""Mixed precision in the coupling networks (`compute_dtype`).

The coupling networks' convolutions run in bfloat16 or float16; everything
else (variables, the couplings' affine maps and log-dets, ActNorm statistics,
1x1 convolutions, priors) stays float32. Each model under test is tiny
(width 8, 4x4x4 events), initialized on data and then perturbed off the
identity; its mixed-precision twin gets the same weights, so the float32
model is the reference the rounding is measured against.

Tolerances (measured errors in brackets, on these seeds):
  * reconstruction `inverse(forward(x))`: max abs error 1e-4 in both dtypes
    [flow ~2e-6, coupling ~1e-6]: the inverse evaluates each network on the
    input the forward gave it (up to float32 rounding, which a flow as
    well-conditioned as these does not amplify);
  * log-det against `log|det|` of the autodiff Jacobian of the same
    mixed-precision forward: atol 1e-4 + rtol 1e-5 [~2e-6];
  * log-prob against the float32 model of the same weights: relative
    1e-2 (bfloat16, 8 significant bits) [flow 2e-4, couplings <= 3e-3] and
    1e-3 (float16) [<= 3e-4]; and not equal to it (the convolutions really
    are in low precision);
  * gradients against the float32 ones, relative global norm: 0.25
    (bfloat16) [flow 0.07, couplings 7e-3: the first coupling network's
    kernel gradients lose most, through bfloat16 backprop convolutions and
    cancellation] and 1e-2 (float16) [<= 8e-4];
  * ActNorm data-dependent init: atol 1e-2 (bfloat16) [2.8e-3] and 2e-3
    (float16) [4.7e-4] inside the coupling networks (their inputs are
    low-precision convolutions); the flow's own ActNorms see float32 data
    and match to 1e-6.
"""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tests.bijectors import bijector_test_util as util
from bijectors import actnorm
from bijectors import affine_coupling
from bijectors import coupling_network
from bijectors import glow_flow

IMAGE = [4, 4, 4]   # the flow: 2 levels, latents [2, 2, 8] and [1, 1, 32]
EVENT = [4, 4, 4]   # a single coupling
COMPUTE_DTYPES = {"bfloat16": tf.bfloat16, "float16": tf.float16}
KINDS = ("flow", "coupling_sigmoid", "coupling_exp")

RECONSTRUCTION_ATOL = 1e-4
AUTODIFF_ATOL, AUTODIFF_RTOL = 1e-4, 1e-5
LOG_PROB_RTOL = {tf.bfloat16: 1e-2, tf.float16: 1e-3}
GRADIENT_RTOL = {tf.bfloat16: 0.25, tf.float16: 1e-2}
ACTNORM_INIT_ATOL = {tf.bfloat16: 1e-2, tf.float16: 2e-3}


def _build(kind, compute_dtype):
  if kind == "flow":
    return glow_flow.build_glow_flow(
        IMAGE, 2, 1, hidden_width=8, coupling_compute_dtype=compute_dtype)
  scale = kind.split("_")[1]
  return affine_coupling.AffineCoupling(
      EVENT[-1], scale=scale, hidden_width=8, seed=0,
      compute_dtype=compute_dtype)


def _init_data():
  return util.normal([16] + IMAGE, 123)


def _networks(model):
  return [m for m in model.submodules
          if isinstance(m, coupling_network.GlowCouplingNetwork)]


def _copy_weights(source, target):
  """Assigns every variable of `source` to its twin in `target`."""
  assert len(source.variables) == len(target.variables)
  for src, dst in zip(source.variables, target.variables):
    assert src.name == dst.name and src.shape == dst.shape, (src.name, dst.name)
    dst.assign(src)


def _models(kind, compute_dtype):
  """`(reference, mixed)`: an initialized, perturbed float32 model and its
  mixed-precision twin with the same weights (itself initialized on the same
  data first)."""
  reference = _build(kind, None)
  reference.forward(_init_data())
  util.perturb_variables(reference, stddev=0.05, seed=1)
  mixed = _build(kind, compute_dtype)
  mixed.forward(_init_data())
  _copy_weights(reference, mixed)
  return reference, mixed


def _log_prob(model, x):
  z = model.forward(x)
  axes = list(range(1, z.shape.rank))
  log_normal = tf.reduce_sum(-0.5 * tf.square(z) - 0.5 * np.log(2. * np.pi),
                             axis=axes)
  return log_normal + model.forward_log_det_jacobian(x, event_ndims=3)


def _loss_and_gradients(model, x):
  with tf.GradientTape() as tape:
    loss = -tf.reduce_mean(_log_prob(model, x))
  return loss, tape.gradient(loss, model.trainable_variables)


def _x(seed=5):
  return util.normal([4] + IMAGE, seed)


def _cases():
  return util.named_product(kind=KINDS, compute_dtype=COMPUTE_DTYPES)


class MixedPrecisionTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(_cases())
  def test_float32_outputs_close_to_float32_model(self, kind, compute_dtype):
    reference, mixed = _models(kind, compute_dtype)
    for variable in mixed.variables:
      self.assertIn(variable.dtype, (tf.float32, tf.bool), msg=variable.name)
    self.assertNotEmpty(_networks(mixed))
    for network in _networks(mixed):
      self.assertEqual(network.compute_dtype, compute_dtype)
      self.assertEqual(network.dtype, tf.float32)
    x = _x()
    expected_log_prob = _log_prob(reference, x).numpy()

    def outputs(x):
      z = mixed.forward(x)
      z_copy = tf.identity(z)   # a new cache key: the inverse really runs
      return {"z": z,
              "fldj": mixed.forward_log_det_jacobian(x, event_ndims=3),
              "round_trip": mixed.inverse(z_copy),
              "ildj": mixed.inverse_log_det_jacobian(
                  z_copy, event_ndims=z.shape.rank - 1),
              "log_prob": _log_prob(mixed, tf.identity(x))}

    function = tf.function(outputs, autograph=False)
    for mode, fn in (("eager", outputs), ("function", function)):
      values = fn(x)
      for name, value in values.items():
        self.assertEqual(value.dtype, tf.float32, msg=f"{mode} {name}")
        util.assert_all_finite(self, value, f"{mode} {name}")
      reconstruction_error = float(tf.reduce_max(tf.abs(
          values["round_trip"] - x)))
      self.assertLess(reconstruction_error, RECONSTRUCTION_ATOL, msg=mode)
      self.assertAllClose(values["ildj"], -values["fldj"], atol=AUTODIFF_ATOL,
                          rtol=AUTODIFF_RTOL, msg=mode)
      log_prob = values["log_prob"].numpy()
      relative = np.max(np.abs(log_prob - expected_log_prob) /
                        np.abs(expected_log_prob))
      self.assertLess(relative, LOG_PROB_RTOL[compute_dtype], msg=mode)
      # Rounded in compute_dtype: not the float32 value.
      self.assertGreater(relative, 1e-7, msg=mode)

    # The traced graph: 3 convolutions per coupling network in compute_dtype
    # in each direction, nothing else in low precision.
    graph = function.get_concrete_function(x).graph
    conv_dtypes = [op.get_attr("T") for op in graph.get_operations()
                   if op.type == "Conv2D"]
    num_networks = len(_networks(mixed))
    # forward, inverse, and the log-prob's forward of a new input.
    self.assertEqual(conv_dtypes.count(compute_dtype), 3 * 3 * num_networks)
    self.assertContainsSubset(set(conv_dtypes), {compute_dtype, tf.float32})

  @parameterized.named_parameters(_cases())
  def test_log_det_matches_autodiff(self, kind, compute_dtype):
    _, mixed = _models(kind, compute_dtype)
    x = _x()
    fldj = mixed.forward_log_det_jacobian(x, event_ndims=3)
    autodiff = util.autodiff_log_det(mixed.forward, tf.identity(x))
    self.assertAllClose(tf.cast(fldj, tf.float64), autodiff,
                        atol=AUTODIFF_ATOL, rtol=AUTODIFF_RTOL)

  @parameterized.named_parameters(_cases())
  def test_gradients_reach_every_variable(self, kind, compute_dtype):
    reference, mixed = _models(kind, compute_dtype)
    x = _x()
    _, expected = _loss_and_gradients(reference, x)
    expected = np.concatenate([g.numpy().ravel() for g in expected])
    for mode in ("eager", "function"):
      loss, grads = util.compile_fn(
          lambda x: _loss_and_gradients(mixed, x), mode)(x)
      util.assert_all_finite(self, loss, "loss")
      for variable, grad in zip(mixed.trainable_variables, grads):
        self.assertIsNotNone(grad, msg=f"{mode} {variable.name}")
        self.assertEqual(grad.dtype, tf.float32, msg=variable.name)
        util.assert_all_finite(self, grad, variable.name)
        self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0.,
                           msg=f"{mode} {variable.name}")
      actual = np.concatenate([g.numpy().ravel() for g in grads])
      self.assertLess(
          np.linalg.norm(actual - expected) / np.linalg.norm(expected),
          GRADIENT_RTOL[compute_dtype], msg=mode)

  @parameterized.named_parameters(_cases())
  def test_actnorm_init_statistics_match_float32(self, kind, compute_dtype):
    reference = _build(kind, None)
    mixed = _build(kind, compute_dtype)
    for model in (reference, mixed):
      model.forward(_init_data())   # data-dependent init (the first forward)
    layers = [m for m in mixed.submodules if isinstance(m, actnorm.ActNorm)]
    references = [m for m in reference.submodules
                  if isinstance(m, actnorm.ActNorm)]
    # Flow: 2 steps' ActNorms + 2 per coupling network; a coupling: 2.
    self.assertLen(layers, 6 if kind == "flow" else 2)
    self.assertLen(references, len(layers))
    in_networks = {id(m.actnorm1) for m in _networks(mixed)} | {
        id(m.actnorm2) for m in _networks(mixed)}
    for layer, ref in zip(layers, references):
      self.assertEqual(layer.name, ref.name)
      self.assertTrue(bool(layer.initialized.numpy()), msg=layer.name)
      # The statistics of data, not the constructor's zeros.
      self.assertGreater(float(tf.reduce_max(tf.abs(ref.log_scale))), 1e-2,
                         msg=ref.name)
      atol = (ACTNORM_INIT_ATOL[compute_dtype] if id(layer) in in_networks
              else 1e-6)
      for actual, wanted in ((layer.loc, ref.loc),
                             (layer.log_scale, ref.log_scale)):
        self.assertEqual(actual.dtype, tf.float32, msg=actual.name)
        self.assertAllClose(actual, wanted, atol=atol, rtol=0,
                            msg=actual.name)

  @parameterized.named_parameters(
      util.named_product(compute_dtype=COMPUTE_DTYPES))
  def test_network_split_outputs_are_float32_interleaved_parts(
      self, compute_dtype):
    network = coupling_network.GlowCouplingNetwork(
        2, 8, hidden_width=8, seed=4, compute_dtype=compute_dtype)
    h = util.normal([3, 4, 4, 2], 6)
    network(h)   # initializes the ActNorms
    util.perturb_variables(network, stddev=0.05, seed=2)
    whole = network(h)
    parts = network.split_outputs(h, 2)
    self.assertEqual(whole.dtype, tf.float32)
    self.assertLen(parts, 2)
    for p, part in enumerate(parts):
      self.assertEqual(part.dtype, tf.float32)
      # Same low-precision values, only the channel order differs.
      self.assertAllClose(part, whole[..., p::2], atol=1e-6, rtol=0)
    self.assertGreater(float(tf.reduce_max(tf.abs(whole))), 1e-3)


if __name__ == "__main__":
  tf.test.main()
