"""Tests of `glow_ood.models.glow.Glow`: likelihood, decomposition, training signal, sampling."""

import os
import tempfile

from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tf_keras

import glow_ood
from glow_ood import preprocessing

IMAGE_SHAPE = (8, 8, 3)
NUM_DIMS = 8 * 8 * 3


def tiny_config(**overrides):
  values = dict(image_shape=IMAGE_SHAPE, num_levels=2, num_steps_per_level=1,
                hidden_width=8, seed=3)
  values.update(overrides)
  return glow_ood.GlowConfig(**values)


def random_images(batch_shape, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, tuple(batch_shape) + IMAGE_SHAPE).astype(np.uint8)


def initialized_model(config, seed=0):
  model = glow_ood.Glow(config)
  model.initialize(model.preprocess(random_images([16], seed=seed)))
  return model


def expected_num_trainable(config):
  """Trainable variables implied by the architecture."""
  permutation = {"conv1x1_lu": 3, "conv1x1": 1, "reverse": 0, "shuffle": 0}
  per_step = (2                                       # ActNorm loc, log_scale
              + permutation[config.permutation]
              + 9)  # net: kernel1, actnorm1 (2), kernel2, actnorm2 (2), zero conv (3)
  if config.coupling_edge_padding:
    per_step += 2   # net: edge_kernel1, zero conv edge_kernel
  total = config.num_levels * config.num_steps_per_level * per_step
  if config.split_prior == "learned":
    total += 3 * (config.num_levels - 1)              # zero conv per split
  if config.learn_top:
    total += 2                                        # top loc, log_scale
  return total


class GlowTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ("sigmoid", "sigmoid"), ("exp", "exp"), ("additive", "additive"))
  def test_decomposition_adds_up_exactly(self, scale):
    model = initialized_model(tiny_config(coupling_scale=scale))
    x = model.preprocess(random_images([5], seed=1))
    d = model.decompose(x)
    self.assertAllEqual(d.log_prob, d.log_prob_z + d.log_det)
    self.assertAllClose(d.log_prob, model.log_prob(x), rtol=1e-6, atol=1e-3)
    self.assertAllClose(d.log_prob, model.distribution.log_prob(x),
                        rtol=1e-6, atol=1e-3)
    self.assertAllClose(d.log_prob_z, tf.reduce_sum(d.log_prob_z_per_level, -1))
    self.assertAllClose(d.log_det, tf.add_n(list(d.log_det_per_kind.values())),
                        atol=1e-3)
    self.assertEqual(d.log_prob_z_per_level.shape, [5, 2])
    self.assertEqual(d.log_det_per_level.shape, [5, 2])
    self.assertEqual(sorted(d.log_det_per_kind),
                     ["actnorm", "coupling", "other", "permutation"])

  def test_decompose_under_xla_matches_eager(self):
    model = initialized_model(tiny_config())
    x = model.preprocess(random_images([3], seed=2))
    eager = model.decompose(x)
    compiled = tf.function(model.decompose, jit_compile=True)(x)
    self.assertAllClose(eager.log_prob, compiled.log_prob, rtol=1e-5)
    self.assertAllClose(eager.log_det_per_kind["coupling"],
                        compiled.log_det_per_kind["coupling"], rtol=1e-4,
                        atol=1e-3)

  def test_learned_prior_log_det_counts_in_log_prob_z(self):
    model = initialized_model(tiny_config(learn_top=True))
    # Move the priors away from N(0, I); the volume term must not change.
    x = model.preprocess(random_images([4], seed=4))
    before = model.decompose(x)
    top = model.flow.top_prior
    top.log_scale.assign(tf.fill(top.log_scale.shape, 0.3))
    split = model.flow.split_priors[0]
    conv = split._network  # pylint: disable=protected-access
    conv.bias.assign(tf.fill(conv.bias.shape, 0.2))
    after = model.decompose(x)
    self.assertAllClose(before.log_det, after.log_det)
    self.assertNotAllClose(before.log_prob_z, after.log_prob_z)

  def test_additive_volume_term_is_the_same_for_every_input(self):
    model = initialized_model(tiny_config(coupling_scale="additive"))
    x = model.preprocess(random_images([6], seed=5))
    constant = tf.fill([2] + list(IMAGE_SHAPE), 0.3)
    log_det = tf.concat([model.decompose(x).log_det,
                         model.decompose(constant).log_det], 0).numpy()
    self.assertAllClose(log_det, np.full_like(log_det, log_det[0]), atol=1e-4)
    self.assertAllEqual(model.decompose(x).log_det_per_kind["coupling"],
                        np.zeros(6))

  def test_sigmoid_coupling_volume_is_never_positive(self):
    model = initialized_model(tiny_config(coupling_scale="sigmoid"))
    # Train a few steps so the networks are not zero, then probe wild inputs.
    train(model, steps=3)
    x = model.preprocess(random_images([4], seed=6))
    self.assertAllLessEqual(model.decompose(x).log_det_per_kind["coupling"], 0.)
    # Glow's methods refuse inputs far outside [-0.5, 0.5]; the flow takes any.
    wild = tf.random.stateless_normal([4] + list(IMAGE_SHAPE), [1, 2]) * 50.
    _, terms = model.flow.forward_with_terms(wild)
    self.assertAllLessEqual(terms["log_det"]["coupling"], 0.)

  @parameterized.named_parameters(("event", []), ("one", [1]), ("three", [3]))
  def test_encode_decode_round_trip_and_batch_shapes(self, batch_shape):
    model = initialized_model(tiny_config())
    images = random_images(batch_shape, seed=7)
    x = model.preprocess(images)
    z = model.encode(x)
    self.assertEqual(z.shape, batch_shape + [NUM_DIMS])
    self.assertAllClose(x, model.decode(tf.identity(z)), atol=1e-5)
    self.assertEqual(model.log_prob(x).shape, batch_shape)
    self.assertEqual(model.bits_per_dim(images).shape, batch_shape)
    d = model.decompose(x)
    self.assertEqual(d.log_prob_z_per_level.shape, batch_shape + [2])

  @parameterized.named_parameters(("8bit", 8), ("5bit", 5))
  def test_bits_per_dim_uses_the_discrete_data_correction(self, n_bits):
    model = initialized_model(tiny_config(n_bits=n_bits))
    images = random_images([4], seed=8)
    x = preprocessing.dequantize(images, n_bits, "center")
    expected = -(model.log_prob(x) - NUM_DIMS * n_bits * np.log(2.)) / (
        NUM_DIMS * np.log(2.))
    self.assertAllClose(model.bits_per_dim(images), expected, rtol=1e-6)
    noisy = model.bits_per_dim(images, dequantization="uniform", seed=[1, 2])
    self.assertAllClose(noisy, expected, atol=0.5)
    self.assertNotAllClose(noisy, expected, atol=1e-6)

  @parameterized.named_parameters(
      ("lu_learned_top", dict(permutation="conv1x1_lu", learn_top=True)),
      ("plain_conv", dict(permutation="conv1x1")),
      ("shuffle_standard", dict(permutation="shuffle", split_prior="standard")),
      ("reverse_additive", dict(permutation="reverse",
                                coupling_scale="additive")),
      ("edge_padding", dict(coupling_edge_padding=True)))
  def test_every_trainable_variable_gets_a_gradient(self, overrides):
    config = tiny_config(**overrides)
    model = initialized_model(config)
    self.assertLen(model.trainable_variables, expected_num_trainable(config))
    # Zero-initialized output convolutions zero some gradients at step 0;
    # after one optimizer step every variable must receive a signal.
    train(model, steps=1)
    x = model.preprocess(random_images([8], seed=9))
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(model.log_prob(x))
    grads = tape.gradient(loss, model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads):
      self.assertIsNotNone(grad, variable.name)
      self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0., variable.name)

  def test_actnorm_state_survives_a_checkpoint_and_is_not_reinitialized(self):
    config = tiny_config()
    model = initialized_model(config, seed=10)
    train(model, steps=1)
    x = model.preprocess(random_images([3], seed=11))
    expected = model.log_prob(x)
    directory = tempfile.mkdtemp()
    path = tf.train.Checkpoint(model=model).save(os.path.join(directory, "c"))
    restored = glow_ood.Glow(config)
    self.assertFalse(restored.is_initialized)
    tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
    self.assertTrue(restored.is_initialized)
    loc_before = [l.loc.numpy() for l in restored.actnorm_layers()]
    # New data must not re-initialize anything.
    restored.log_prob(restored.preprocess(random_images([16], seed=12)))
    for layer, loc in zip(restored.actnorm_layers(), loc_before):
      self.assertAllEqual(layer.loc, loc)
    self.assertAllClose(restored.log_prob(x), expected, rtol=1e-6)

  @parameterized.named_parameters(("t07", 0.7), ("t10", 1.0))
  def test_sample_is_finite_with_the_image_shape(self, temperature):
    model = initialized_model(tiny_config())
    train(model, steps=2)
    samples = model.sample(4, temperature=temperature, seed=[3, 4])
    self.assertEqual(samples.shape, [4] + list(IMAGE_SHAPE))
    self.assertTrue(np.all(np.isfinite(samples.numpy())))
    images = preprocessing.to_uint8(samples)
    self.assertEqual(images.dtype, tf.uint8)

  def test_float64_model(self):
    model = initialized_model(tiny_config(dtype="float64"))
    x = model.preprocess(random_images([2], seed=13))
    self.assertEqual(x.dtype, tf.float64)
    d = model.decompose(x)
    self.assertEqual(d.log_prob.dtype, tf.float64)
    self.assertAllClose(x, model.decode(tf.identity(model.encode(x))),
                        atol=1e-10)

  def test_wrong_image_shape_fails_with_a_clear_error(self):
    model = glow_ood.Glow(tiny_config())
    with self.assertRaisesRegex(ValueError, r"takes images \[\.\.\., 8, 8, 3\]"):
      model.bits_per_dim(np.zeros([2, 28, 28, 1], np.uint8))
    with self.assertRaisesRegex(TypeError, "GlowConfig"):
      glow_ood.Glow({"num_levels": 2})

  def test_traced_steps_carry_no_input_checks_unless_validate_args(self):
    # The training step traces `decompose` on dequantized batches: the
    # checks must add no op (no assertion, no host read) to that graph.
    spec = tf.TensorSpec([None] + list(IMAGE_SHAPE), tf.float32)
    x = initialized_model(tiny_config()).preprocess(random_images([4], seed=15))
    for validate_args, expect_asserts in ((False, False), (True, True)):
      model = glow_ood.Glow(tiny_config(), validate_args=validate_args)
      model.initialize(x)
      step = tf.function(model.decompose, autograph=False)
      graph_def = step.get_concrete_function(spec).graph.as_graph_def()
      nodes = list(graph_def.node) + [
          node for f in graph_def.library.function for node in f.node_def]
      asserts = [node.name for node in nodes if node.op == "Assert"]
      self.assertEqual(bool(asserts), expect_asserts, asserts)
      self.assertAllClose(step(x).log_prob, model.decompose(x).log_prob,
                          rtol=1e-6)
    # Under validate_args, values outside [-0.5, 0.5] fail at run time.
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                r"takes dequantized images in \[-0.5, 0.5\]"):
      step(x + 0.75)

  def test_validate_args_changes_no_number(self):
    images = random_images([3], seed=16)
    plain = initialized_model(tiny_config())
    checked = glow_ood.Glow(tiny_config(), validate_args=True)
    checked.initialize(checked.preprocess(random_images([16], seed=0)))
    self.assertTrue(checked.validate_args)
    self.assertAllEqual(checked.bits_per_dim(images), plain.bits_per_dim(images))
    x = plain.preprocess(images, "uniform", seed=[1, 2])
    self.assertAllEqual(checked.decompose(x).log_prob, plain.decompose(x).log_prob)
    # Edges of the data cube are inside it; just outside them is not.
    edges = tf.constant([-0.5, 0.5], tf.float32)
    corner = tf.reshape(tf.tile(edges, [NUM_DIMS // 2]), [1] + list(IMAGE_SHAPE))
    self.assertTrue(np.isfinite(checked.log_prob(corner).numpy()).all())
    with self.assertRaisesRegex(ValueError, r"\[-0.5, 0.5\].*\[-0.5, 0.501\]"):
      checked.log_prob(corner + tf.cast(corner > 0, tf.float32) * 0.001)

  def test_uint8_bits_per_dim_is_the_unchecked_density(self):
    # The checks only refuse: bits/dim of uint8 images is the density of
    # the dequantized images, as the TFP distribution (which checks no
    # values) computes it.
    model = initialized_model(tiny_config())
    images = random_images([4], seed=17)
    x = preprocessing.dequantize(images, 8, "center")
    expected = -(model.distribution.log_prob(x) - NUM_DIMS * 8 * np.log(2.)) / (
        NUM_DIMS * np.log(2.))
    self.assertAllClose(model.bits_per_dim(images), expected, rtol=1e-6)
    self.assertAllClose(model.bits_per_dim(tf.constant(images)), expected,
                        rtol=1e-6)

  def test_default_checks_accept_floats_near_the_data(self):
    model = initialized_model(tiny_config())
    x = model.preprocess(random_images([2], seed=18))
    # Points beyond the cube but within [-2, 2] (perturbations, samples):
    # the density is defined there and the default check lets them through.
    self.assertTrue(np.isfinite(model.log_prob(x * 3.9).numpy()).all())
    # numpy float64 and Python lists are cast to the model's dtype.
    self.assertAllClose(model.log_prob(x.numpy().astype(np.float64)),
                        model.log_prob(x))
    self.assertEqual(model.log_prob(x.numpy().tolist()).shape, [2])
    # A single image without batch axis is an event: batch shape [].
    self.assertEqual(model.log_prob(x[0]).shape, [])
    # Far outside, the flow and the TFP distribution still evaluate it.
    self.assertTrue(np.isfinite(model.distribution.log_prob(x * 100.)).all())
    self.assertEqual(model.sample(0).shape, [0] + list(IMAGE_SHAPE))

  def test_initialize_resets_and_normalizes(self):
    model = glow_ood.Glow(tiny_config())
    self.assertFalse(model.is_initialized)
    x = model.preprocess(random_images([32], seed=14))
    model.initialize(x)
    self.assertTrue(model.is_initialized)
    first = model.flow.levels[0][1]   # level 1: [squeeze, actnorm, ...]
    y = first.forward(model.flow.levels[0][0].forward(x))
    mean, variance = tf.nn.moments(y, axes=[0, 1, 2])
    self.assertAllClose(mean, tf.zeros_like(mean), atol=1e-4)
    self.assertAllClose(variance, tf.ones_like(variance), atol=1e-3)


def train(model, steps):
  """A few Adam steps on random images (enough to move every parameter)."""
  optimizer = tf_keras.optimizers.Adam(1e-2)
  for step in range(steps):
    x = model.preprocess(random_images([8], seed=100 + step), "uniform",
                         seed=[step, 0])
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(model.log_prob(x))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))


if __name__ == "__main__":
  tf.test.main()
