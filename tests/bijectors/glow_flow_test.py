"""Tests for `bijectors.glow_flow.build_glow_flow`: whole tiny Glow flows."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

from tests.bijectors import bijector_test_util as util
from bijectors import actnorm
from bijectors import affine_coupling
from bijectors import channel_affine
from bijectors import channel_permute
from bijectors import glow_flow
from bijectors import invertible_conv1x1
from bijectors import multiscale_flow
from bijectors import split_prior
from bijectors import squeeze

tfb = tfp.bijectors
tfd = tfp.distributions

IMAGE = [4, 4, 4]  # 2 levels: latents [2, 2, 8] and [1, 1, 32]


def _make_glow(image_shape=None, num_levels=2, num_steps_per_level=1,
               dtype=tf.float32, perturb=True, **kwargs):
  """A tiny Glow (width 8), initialized and perturbed unless `perturb` is False.

  The first forward initializes the ActNorms; the noise then moves the
  zero-initialized convolutions (couplings, split priors) off the identity.
  """
  image_shape = IMAGE if image_shape is None else image_shape
  flow = glow_flow.build_glow_flow(
      image_shape, num_levels, num_steps_per_level, hidden_width=8,
      dtype=dtype, **kwargs)
  if perturb:
    flow.forward(util.normal([16] + list(image_shape), 123, dtype))
    util.perturb_variables(flow, stddev=0.05, seed=1)
  return flow


def _volume(terms):
  return sum(tf.reduce_sum(v, axis=-1) for v in terms["log_det"].values())


def _expected_num_trainable_variables(num_levels, num_steps_per_level,
                                      permutation, split_prior_type, learn_top):
  """The trainable-variable count Glow's architecture implies."""
  per_permutation = {
      "conv1x1_lu": 3,  # log_s, lower, upper
      "conv1x1": 1,     # kernel
      "reverse": 0,     # fixed
      "shuffle": 0,     # fixed
  }[permutation]
  per_step = (
      2                  # ActNorm: loc, log_scale
      + per_permutation
      + 9)               # coupling network: kernel1, actnorm1 loc/log_scale,
  #                        kernel2, actnorm2 loc/log_scale, zero conv
  #                        kernel/bias/log_scale
  per_split = 3 if split_prior_type == "learned" else 0  # zero conv of prior
  top = 2 if learn_top else 0                            # loc, log_scale
  return (num_levels * num_steps_per_level * per_step
          + (num_levels - 1) * per_split + top)


# Every option, one at a time, against the default (conv1x1_lu, sigmoid,
# learned split prior, no learned top).
OPTIONS = (
    ("conv1x1_lu", dict(permutation="conv1x1_lu")),
    ("conv1x1", dict(permutation="conv1x1")),
    ("reverse", dict(permutation="reverse")),
    ("shuffle", dict(permutation="shuffle")),
    ("sigmoid", dict(coupling_scale="sigmoid")),
    ("exp", dict(coupling_scale="exp")),
    ("additive", dict(coupling_scale="additive")),
    ("learned_split", dict(split_prior_type="learned")),
    ("standard_split", dict(split_prior_type="standard")),
    ("learn_top", dict(learn_top=True)),
    ("fixed_top", dict(learn_top=False)),
    ("edge_padding", dict(coupling_edge_padding=True)),
)
# The OPTIONS entries that build the default flow.
DEFAULTS = ("conv1x1_lu", "sigmoid", "learned_split", "fixed_top")


class GlowFlowTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ("eager_float32", "eager", tf.float32),
      ("function_float32", "function", tf.float32),
      ("xla_float32", "xla", tf.float32),
      ("eager_float64", "eager", tf.float64))
  def test_bijective_and_log_det(self, mode, dtype):
    util.assert_bijective_and_finite(
        self, _make_glow(dtype=dtype, learn_top=True),
        util.normal([3] + IMAGE, 1, dtype), mode=mode)

  @parameterized.named_parameters(
      *[(name, options) for name, options in OPTIONS if name not in DEFAULTS])
  def test_options_bijective_and_log_det(self, options):
    util.assert_bijective_and_finite(self, _make_glow(**options),
                                     util.normal([2] + IMAGE, 2))

  def test_default_options_bijective_and_log_det(self):
    util.assert_bijective_and_finite(self, _make_glow(),
                                     util.normal([2] + IMAGE, 2))

  def test_rgb_two_steps_bijective_and_log_det(self):
    # 8x8x3 images, 2 steps per level: a 192x192 Jacobian.
    flow = _make_glow([8, 8, 3], num_steps_per_level=2, learn_top=True)
    self.assertEqual(flow.latent_shapes, [[4, 4, 6], [2, 2, 24]])
    util.assert_bijective_and_finite(self, flow, util.normal([2, 8, 8, 3], 3))

  @parameterized.named_parameters(
      ("scalar", []), ("one", [1]), ("three", [3]))
  def test_batch_shapes(self, batch_shape):
    flow = _make_glow()
    x = util.normal(batch_shape + IMAGE, 4)
    values = util.assert_bijective_and_finite(self, flow, x,
                                              check_jacobian=False)
    self.assertEqual(values["forward"].shape, tuple(batch_shape + [64]))
    self.assertEqual(values["fldj"].shape, tuple(batch_shape))
    _, terms = flow.forward_with_terms(x)
    self.assertEqual(terms["latent_log_det"].shape, batch_shape + [2])

  @parameterized.named_parameters(*OPTIONS)
  def test_structure(self, options):
    flow = _make_glow(num_steps_per_level=2, perturb=False, **options)
    permutation = options.get("permutation", "conv1x1_lu")
    self.assertIsInstance(flow, multiscale_flow.MultiScaleFlow)
    self.assertLen(flow.levels, 2)
    for level in flow.levels:
      self.assertLen(level, 1 + 2 * 3)
      self.assertIsInstance(level[0], squeeze.Squeeze)
      for step in range(2):
        norm, mix, coupling = level[1 + 3 * step:4 + 3 * step]
        self.assertIsInstance(norm, actnorm.ActNorm)
        if permutation.startswith("conv1x1"):
          self.assertIsInstance(mix, invertible_conv1x1.InvertibleConv1x1)
          self.assertEqual(mix.lu_decomposed, permutation == "conv1x1_lu")
        else:
          self.assertIsInstance(mix, channel_permute.ChannelPermute)
        self.assertIsInstance(coupling, affine_coupling.AffineCoupling)
        self.assertEqual(coupling.scale,
                         options.get("coupling_scale", "sigmoid"))
        self.assertEqual(coupling.shift_and_log_scale_fn.edge_padding,
                         options.get("coupling_edge_padding", False))
    if permutation == "reverse":
      self.assertAllEqual(flow.levels[0][2].permutation, np.arange(16)[::-1])
    (prior,) = flow.split_priors
    if options.get("split_prior_type", "learned") == "learned":
      self.assertIsInstance(prior, split_prior.SplitPrior)
    else:
      self.assertIsNone(prior)
    if options.get("learn_top", False):
      self.assertIsInstance(flow.top_prior, channel_affine.ChannelAffine)
    else:
      self.assertIsNone(flow.top_prior)

  @parameterized.named_parameters(
      ("lu_learned_top", "conv1x1_lu", "learned", True, 2),
      ("plain_standard", "conv1x1", "standard", False, 1),
      ("reverse_learned", "reverse", "learned", False, 1),
      ("shuffle_standard_top", "shuffle", "standard", True, 2))
  def test_trainable_variables_all_get_gradients(
      self, permutation, split_prior_type, learn_top, num_steps):
    flow = _make_glow(num_steps_per_level=num_steps, permutation=permutation,
                      split_prior_type=split_prior_type, learn_top=learn_top,
                      perturb=False)
    self.assertLen(
        flow.trainable_variables,
        _expected_num_trainable_variables(2, num_steps, permutation,
                                          split_prior_type, learn_top))
    variables = flow.trainable_variables
    distribution = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(0., 1.), [64]), tfb.Invert(flow))
    optimizer = tf_keras.optimizers.Adam(1e-2)
    x = util.normal([8] + IMAGE, 5)
    flow.forward(x)  # data-dependent init of every ActNorm

    def gradients():
      with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(distribution.log_prob(tf.identity(x)))
      return loss, tape.gradient(loss, variables)

    # Zero-initialized output convolutions block some gradients at step 0
    # (e.g. everything upstream of a zero kernel); two steps unblock them.
    for _ in range(2):
      _, grads = gradients()
      optimizer.apply_gradients(
          [(g, v) for g, v in zip(grads, variables) if g is not None])
    loss, grads = gradients()
    util.assert_all_finite(self, loss, "loss")
    for variable, grad in zip(variables, grads):
      self.assertIsNotNone(grad, msg=variable.name)
      util.assert_all_finite(self, grad, variable.name)
      self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0.,
                         msg=variable.name)

  def test_additive_volume_is_identical_across_inputs(self):
    flow = _make_glow(coupling_scale="additive", learn_top=True)
    volumes = []
    for seed, scale, shift in ((6, 1., 0.), (7, 5., 2.), (8, 1e3, -1.)):
      _, terms = flow.forward_with_terms(
          util.normal([3] + IMAGE, seed, scale=scale, shift=shift))
      volumes.append(_volume(terms).numpy())
    self.assertAllEqual(np.stack(volumes), np.full([3, 3], volumes[0][0]))

  @parameterized.named_parameters(("moderate", 1.), ("large", 1e2),
                                  ("huge", 1e4))
  def test_sigmoid_coupling_log_det_nonpositive(self, magnitude):
    flow = _make_glow(coupling_scale="sigmoid")
    _, terms = flow.forward_with_terms(
        util.normal([4] + IMAGE, 9, scale=magnitude))
    coupling = terms["log_det"]["coupling"]
    self.assertEqual(coupling.shape, [4, 2])
    util.assert_all_finite(self, coupling, "coupling log-det")
    self.assertAllLessEqual(coupling, 0.)

  @parameterized.named_parameters(
      ("two_levels", IMAGE, 2), ("three_levels", [8, 8, 3], 3))
  def test_terms_sum_to_log_det(self, image_shape, num_levels):
    flow = _make_glow(image_shape, num_levels=num_levels, learn_top=True)
    x = util.normal([3] + image_shape, 10)
    z, terms = flow.forward_with_terms(x)
    self.assertEqual(z.shape, [3, np.prod(image_shape)])
    self.assertEqual(terms["latent_log_det"].shape, [3, num_levels])
    for kind in multiscale_flow.LOG_DET_KINDS:
      self.assertEqual(terms["log_det"][kind].shape, [3, num_levels])
    total = tf.reduce_sum(terms["latent_log_det"], axis=-1) + _volume(terms)
    self.assertAllClose(
        total, flow.forward_log_det_jacobian(tf.identity(x), event_ndims=3),
        rtol=1e-5, atol=1e-4)

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"),
                                  ("xla", "xla"))
  def test_log_prob_consistent(self, mode):
    util.assert_log_prob_consistent(self, _make_glow(learn_top=True),
                                    util.normal([3] + IMAGE, 11), mode=mode)

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"))
  def test_networks_run_once_per_log_prob(self, mode):
    flow = _make_glow(num_steps_per_level=2)
    couplings = [b for level in flow.levels for b in level
                 if isinstance(b, affine_coupling.AffineCoupling)]
    self.assertLen(couplings, 4)
    networks = []
    for coupling in couplings:  # wrap the built network in a counter
      # pylint: disable=protected-access
      coupling._shift_and_log_scale_fn = util.CountingNetwork(
          coupling.shift_and_log_scale_fn)
      networks.append(coupling.shift_and_log_scale_fn)
    distribution = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(0., 1.), [64]), tfb.Invert(flow))
    util.compile_fn(distribution.log_prob, mode)(util.normal([3] + IMAGE, 12))
    self.assertEqual([int(n.num_calls.numpy()) for n in networks], [1] * 4)

  def test_alike_flows_do_not_share_cached_results(self):
    # Two flows built with the same arguments (e.g. ensemble members) but
    # holding different weights must give different log-probs for the same
    # input tensor, also inside one tf.function (TFP's cache is keyed by
    # input and bijector).
    first = _make_glow()
    second = _make_glow()
    util.perturb_variables(second, stddev=0.05, seed=2)
    x = util.normal([3] + IMAGE, 13)

    @tf.function(autograph=False)
    def log_probs(x):
      return [tfd.TransformedDistribution(
          tfd.Sample(tfd.Normal(0., 1.), [64]), tfb.Invert(f)).log_prob(x)
              for f in (first, second)]

    lp_first, lp_second = log_probs(x)
    self.assertNotAllClose(lp_first, lp_second)
    self.assertAllClose(
        lp_second,
        tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0., 1.), [64]),
                                    tfb.Invert(second)).log_prob(
                                        tf.identity(x)),
        rtol=1e-5)

  def test_seed_fixes_initial_weights(self):
    first = _make_glow(perturb=False, seed=3)
    second = _make_glow(perturb=False, seed=3)
    other = _make_glow(perturb=False, seed=4)
    for a, b in zip(first.trainable_variables, second.trainable_variables):
      self.assertAllEqual(a, b)
    self.assertNotAllClose(first.levels[0][2].kernel_and_log_abs_det()[0],
                           other.levels[0][2].kernel_and_log_abs_det()[0])

  def test_float64_variables(self):
    flow = _make_glow(dtype=tf.float64, learn_top=True, perturb=False)
    for variable in flow.trainable_variables:
      self.assertEqual(variable.dtype, tf.float64, msg=variable.name)

  def test_bad_arguments_raise(self):
    with self.assertRaisesRegex(
        ValueError, "divisible by 4; got 6x6. Pad the images"):
      glow_flow.build_glow_flow([6, 6, 3], 2, 1, hidden_width=8)
    with self.assertRaisesRegex(ValueError, "divisible by 8; got 8x12"):
      glow_flow.build_glow_flow([8, 12, 3], 3, 1, hidden_width=8)
    with self.assertRaisesRegex(ValueError, "divisible by 2; got 5x4"):
      glow_flow.build_glow_flow([5, 4, 3], 1, 1, hidden_width=8)
    with self.assertRaisesRegex(ValueError, "Unknown permutation 'invconv'"):
      glow_flow.build_glow_flow(IMAGE, 2, 1, permutation="invconv")
    with self.assertRaisesRegex(ValueError, "Unknown coupling scale 'affine'"):
      glow_flow.build_glow_flow(IMAGE, 2, 1, coupling_scale="affine")
    with self.assertRaisesRegex(ValueError, "Unknown split prior 'fixed'"):
      glow_flow.build_glow_flow(IMAGE, 2, 1, split_prior_type="fixed")
    with self.assertRaisesRegex(ValueError, "must be >= 1"):
      glow_flow.build_glow_flow(IMAGE, 0, 1)
    with self.assertRaisesRegex(ValueError, "must be >= 1"):
      glow_flow.build_glow_flow(IMAGE, 2, 0)


if __name__ == "__main__":
  tf.test.main()
