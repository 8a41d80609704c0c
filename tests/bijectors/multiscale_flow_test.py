"""Tests for `bijectors.multiscale_flow.MultiScaleFlow`."""

from absl.testing import parameterized
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors import bijector_test_util as util
from bijectors import actnorm
from bijectors import affine_coupling
from bijectors import channel_affine
from bijectors import channel_permute
from bijectors import coupling_network
from bijectors import invertible_conv1x1
from bijectors import multiscale_flow
from bijectors import split_prior
from bijectors import squeeze

tfb = tfp.bijectors
tfd = tfp.distributions

IMAGE = [4, 4, 4]
LATENT_SIZE = 64
NUM_LEVELS = 2


def _make_flow(learned_split=True, learn_top=True, scale="sigmoid",
               dtype=tf.float32, count_calls=False, perturb=True):
  """A 2-level flow on 4x4x4 images, built by hand.

  Level 1: squeeze -> 2x2x16, ActNorm, 1x1 conv, coupling; split 8 | 8.
  Level 2: squeeze -> 1x1x32, ActNorm, 1x1 conv, coupling.
  Latents: [2, 2, 8] and [1, 1, 32], D = 64. With `count_calls`, every
  coupling's network is a `CountingNetwork`. Unless `perturb` is False the
  ActNorms are initialized and every trainable variable gets a little noise,
  so no layer is the identity.
  """
  levels = []
  for level, channels in enumerate((16, 32)):
    num_out = channels // 2 * (1 if scale == "additive" else 2)
    network = coupling_network.GlowCouplingNetwork(
        channels // 2, num_out, hidden_width=8, seed=level, dtype=dtype)
    if count_calls:
      network = util.CountingNetwork(network)
    levels.append([
        squeeze.Squeeze(2),
        actnorm.ActNorm(channels, dtype=dtype),
        invertible_conv1x1.InvertibleConv1x1(channels, seed=level, dtype=dtype),
        affine_coupling.AffineCoupling(channels, scale=scale, dtype=dtype,
                                       shift_and_log_scale_fn=network),
    ])
  flow = multiscale_flow.MultiScaleFlow(
      IMAGE, levels,
      split_priors=[split_prior.SplitPrior(16, dtype=dtype)
                    if learned_split else None],
      top_prior=channel_affine.ChannelAffine(32, dtype=dtype)
      if learn_top else None)
  if perturb:
    flow.forward(util.normal([16] + IMAGE, 123, dtype))
    util.perturb_variables(flow, stddev=0.05, seed=1)
  return flow


def _volume(terms):
  return sum(tf.reduce_sum(v, axis=-1) for v in terms["log_det"].values())


class MultiScaleFlowTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ("eager_float32", "eager", tf.float32),
      ("function_float32", "function", tf.float32),
      ("xla_float32", "xla", tf.float32),
      ("eager_float64", "eager", tf.float64))
  def test_bijective_and_log_det(self, mode, dtype):
    util.assert_bijective_and_finite(
        self, _make_flow(dtype=dtype), util.normal([3] + IMAGE, 1, dtype),
        mode=mode)

  def test_bijective_with_standard_priors(self):
    util.assert_bijective_and_finite(
        self, _make_flow(learned_split=False, learn_top=False),
        util.normal([3] + IMAGE, 2))

  @parameterized.named_parameters(
      ("scalar", []), ("one", [1]), ("three", [3]), ("two_by_one", [2, 1]))
  def test_batch_shapes(self, batch_shape):
    flow = _make_flow()
    x = util.normal(batch_shape + IMAGE, 3)
    values = util.assert_bijective_and_finite(self, flow, x)
    self.assertEqual(values["forward"].shape, tuple(batch_shape + [64]))
    self.assertEqual(values["fldj"].shape, tuple(batch_shape))
    self.assertEqual(values["ildj"].shape, tuple(batch_shape))
    _, terms = flow.forward_with_terms(x)
    self.assertEqual(terms["latent_log_det"].shape, batch_shape + [NUM_LEVELS])
    for kind in multiscale_flow.LOG_DET_KINDS:
      self.assertEqual(terms["log_det"][kind].shape,
                       batch_shape + [NUM_LEVELS], msg=kind)
    self.assertEqual([z.shape for z in terms["latents"]],
                     [batch_shape + [2, 2, 8], batch_shape + [1, 1, 32]])

  def test_shapes(self):
    flow = _make_flow(perturb=False)
    self.assertEqual(flow.image_shape, IMAGE)
    self.assertEqual(flow.latent_shapes, [[2, 2, 8], [1, 1, 32]])
    self.assertEqual(flow.latent_size, LATENT_SIZE)
    self.assertEqual(flow.forward_event_shape([5] + IMAGE), [5, 64])
    self.assertEqual(flow.inverse_event_shape([5, 64]), [5] + IMAGE)
    self.assertAllEqual(flow.forward_event_shape_tensor([5] + IMAGE), [5, 64])
    self.assertAllEqual(flow.inverse_event_shape_tensor([5, 64]),
                        [5] + IMAGE)
    self.assertEqual(flow.forward_min_event_ndims, 3)
    self.assertEqual(flow.inverse_min_event_ndims, 1)

  @parameterized.named_parameters(
      ("eager_learned", "eager", True), ("function_learned", "function", True),
      ("eager_standard", "eager", False))
  def test_terms_sum_to_log_det(self, mode, priors):
    flow = _make_flow(learned_split=priors, learn_top=priors)
    x = util.normal([3] + IMAGE, 4)

    def compute(x):
      z, terms = flow.forward_with_terms(x)
      fldj = flow.forward_log_det_jacobian(tf.identity(x), event_ndims=3)
      return z, terms, fldj

    z, terms, fldj = util.compile_fn(compute, mode)(x)
    self.assertEqual(terms["latent_log_det"].shape, [3, NUM_LEVELS])
    self.assertCountEqual(terms["log_det"], multiscale_flow.LOG_DET_KINDS)
    for kind in multiscale_flow.LOG_DET_KINDS:
      self.assertEqual(terms["log_det"][kind].shape, [3, NUM_LEVELS])
    total = tf.reduce_sum(terms["latent_log_det"], axis=-1) + _volume(terms)
    self.assertAllClose(total, fldj, rtol=1e-5, atol=1e-4)
    # The flat latent is the concatenation of the flattened level latents.
    for z_l, split in zip(terms["latents"], flow.split_latent(z)):
      self.assertAllEqual(z_l, split)
    if not priors:  # standard normal priors: no latent log-det at all
      self.assertAllEqual(terms["latent_log_det"], tf.zeros([3, NUM_LEVELS]))
    # Squeeze is the only "other" bijector, and it preserves volume.
    self.assertAllEqual(terms["log_det"]["other"], tf.zeros([3, NUM_LEVELS]))

  def test_priors_log_dets_are_latent_terms(self):
    flow = _make_flow()
    x = util.normal([3] + IMAGE, 5)
    _, terms = flow.forward_with_terms(x)
    h = x
    for bijector in flow.levels[0]:
      h = bijector.forward(h)
    split = flow.split_priors[0]
    self.assertAllClose(terms["latent_log_det"][:, 0],
                        split.forward_log_det_jacobian(h, event_ndims=3),
                        atol=1e-5)
    h = split.forward(h)[..., :8]
    for bijector in flow.levels[1]:
      h = bijector.forward(h)
    self.assertAllClose(
        terms["latent_log_det"][:, 1],
        flow.top_prior.forward_log_det_jacobian(h, event_ndims=3), atol=1e-5)
    self.assertAllClose(terms["latents"][1], flow.top_prior.forward(h),
                        atol=1e-5)

  def test_log_det_kinds(self):
    kind = multiscale_flow.log_det_kind
    self.assertEqual(kind(actnorm.ActNorm(4)), "actnorm")
    self.assertEqual(kind(invertible_conv1x1.InvertibleConv1x1(4)),
                     "permutation")
    self.assertEqual(kind(channel_permute.ChannelPermute.reverse(4)),
                     "permutation")
    self.assertEqual(kind(affine_coupling.AffineCoupling(4, hidden_width=4)),
                     "coupling")
    self.assertEqual(kind(squeeze.Squeeze()), "other")
    self.assertEqual(kind(channel_affine.ChannelAffine(4)), "other")

  def test_additive_volume_is_constant(self):
    flow = _make_flow(scale="additive")
    volumes = []
    for seed, magnitude in ((6, 1.), (7, 5.), (8, 1e3)):
      _, terms = flow.forward_with_terms(
          util.normal([3] + IMAGE, seed, scale=magnitude))
      self.assertAllEqual(terms["log_det"]["coupling"],
                          tf.zeros([3, NUM_LEVELS]))
      volumes.append(_volume(terms))
    for volume in volumes:
      self.assertAllEqual(volume, tf.fill([3], volumes[0][0]))

  @parameterized.named_parameters(("moderate", 1.), ("huge", 1e4))
  def test_sigmoid_coupling_log_det_nonpositive(self, magnitude):
    flow = _make_flow(scale="sigmoid")
    _, terms = flow.forward_with_terms(
        util.normal([4] + IMAGE, 9, scale=magnitude))
    util.assert_all_finite(self, terms["log_det"]["coupling"], "coupling")
    self.assertAllLessEqual(terms["log_det"]["coupling"], 0.)

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"))
  def test_networks_run_once_per_log_prob(self, mode):
    flow = _make_flow(count_calls=True)
    networks = [level[-1].shift_and_log_scale_fn for level in flow.levels]
    distribution = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(0., 1.), [LATENT_SIZE]), tfb.Invert(flow))
    log_prob = util.compile_fn(distribution.log_prob, mode)
    for network in networks:
      network.num_calls.assign(0)
    log_prob(util.normal([3] + IMAGE, 10))
    self.assertEqual([int(n.num_calls.numpy()) for n in networks], [1, 1])

  # Under XLA: see glow_flow_test, whose flows have the same layers.
  @parameterized.named_parameters(("eager", "eager"), ("function", "function"))
  def test_log_prob_consistent(self, mode):
    util.assert_log_prob_consistent(self, _make_flow(),
                                    util.normal([3] + IMAGE, 11), mode=mode)

  def test_bad_arguments_raise(self):
    def level(channels):
      return [squeeze.Squeeze(2), actnorm.ActNorm(channels)]

    with self.assertRaisesRegex(ValueError, "at least one level"):
      multiscale_flow.MultiScaleFlow(IMAGE, [])
    with self.assertRaisesRegex(ValueError, "2 levels need 1 split priors"):
      multiscale_flow.MultiScaleFlow(IMAGE, [level(16), level(32)],
                                     split_priors=[None, None])
    with self.assertRaisesRegex(ValueError, "static"):
      multiscale_flow.MultiScaleFlow([4, None, 4], [level(16)])
    with self.assertRaisesRegex(ValueError, "static"):
      multiscale_flow.MultiScaleFlow([4, 4], [level(16)])
    # A level ending in one channel cannot be split.
    with self.assertRaisesRegex(ValueError, "ends with 1 channels"):
      multiscale_flow.MultiScaleFlow([2, 2, 1], [[], []])
    with self.assertRaisesRegex(ValueError, "divisible by 2"):
      multiscale_flow.MultiScaleFlow([6, 6, 1], [level(4), level(8)])


if __name__ == "__main__":
  tf.test.main()
