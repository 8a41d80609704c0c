"""Tests of `glow_ood.models.pixelcnn`: exact likelihood, init, seeding, sampling."""

import functools
import itertools
import math
import random

from absl.testing import parameterized
import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import data
from glow_ood import models
from glow_ood import preprocessing
from glow_ood.configs.model import GlowConfig
from glow_ood.configs.pixelcnn import PixelCNNConfig
from glow_ood.models import density_model
from glow_ood.models.pixelcnn import PixelCNN
from glow_ood.train import optimizers
from tests import shared_data


def tiny_config(**changes):
  """2x2x1 images of 2-bit pixels (256 images), one block of 4 filters."""
  fields = dict(image_shape=(2, 2, 1), num_resnet=1, num_hierarchies=1,
                num_filters=4, num_logistic_mix=2, n_bits=2, dropout_p=0.,
                seed=0)
  fields.update(changes)
  return PixelCNNConfig(**fields)


def all_images(config):
  """Every uint8 image of `config`'s shape and bits, `[n_bins**D, H, W, C]`."""
  n_bins = 2 ** config.n_bits
  bins = np.array(list(itertools.product(range(n_bins),
                                         repeat=config.num_dims)))
  pixels = bins * 2 ** (8 - config.n_bits)
  return pixels.astype(np.uint8).reshape(-1, *config.image_shape)


def random_images(config, num, seed):
  return np.random.default_rng(seed).integers(
      0, 256, (num, *config.image_shape)).astype(np.uint8)


def masked_entries(model):
  """Sum of |entries| the causal masks remove, over every masked kernel."""
  total = 0.
  for layer in model.distribution.network._network.layers:  # pylint: disable=protected-access
    inner = getattr(layer, "layer", layer)
    constraint = getattr(inner, "kernel_constraint", None)
    if constraint is None:
      continue
    kernel = layer.v if hasattr(layer, "v") else inner.kernel
    total += float(tf.reduce_sum(tf.abs(kernel - constraint(kernel))))
  return total


def perturb(model, seed, scale=0.3):
  """Adds noise to every trainable variable, the masked kernel entries too.

  As an optimizer that ignores Keras constraints would write them.
  """
  for i, variable in enumerate(model.trainable_variables):
    variable.assign_add(scale * tf.random.stateless_normal(
        variable.shape, seed=[seed, i], dtype=variable.dtype))


def initialized_tiny_model(seed=0, **changes):
  """A tiny model after data_init and a perturbation (so it is not trivial)."""
  config = tiny_config(seed=seed, **changes)
  model = PixelCNN(config)
  model.data_init(random_images(config, 32, seed))
  perturb(model, seed)
  return model


# Building a model traces each weight-norm layer (~4 s for a tiny one), so the
# tests that only read a model share these; none of them changes a weight.
SHARED = {
    "gray": dict(seed=1, dropout_p=0.5),
    "rgb": dict(seed=2, image_shape=(2, 2, 3), n_bits=1, num_logistic_mix=3),
    "no_weight_norm": dict(seed=3, use_weight_norm=False),
}


@functools.lru_cache(maxsize=None)
def shared_model(kind):
  return initialized_tiny_model(**SHARED[kind])


def snapshot(model):
  return [v.numpy().copy() for v in model.variables]


class NormalizationTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ("gray_2_bits", "gray"), ("rgb_1_bit", "rgb"),
      ("no_weight_norm", "no_weight_norm"))
  def test_probabilities_of_all_images_sum_to_one(self, kind):
    self.assert_normalized(shared_model(kind), 1e-4)

  def test_float64_and_no_data_init(self):
    config = tiny_config(dtype="float64", use_data_init=False, seed=4)
    model = PixelCNN(config)
    images = random_images(config, 8, seed=5)
    bits = model.data_init(images)
    self.assertTrue(model.is_initialized)
    self.assertEqual(bits.dtype, tf.float64)
    self.assertAllClose(bits, model.bits_per_dim(images))
    for layer in model.weight_norm_layers:   # g = ||v|| per output filter
      v = tf.experimental.numpy.moveaxis(layer.v, layer.filter_axis, 0)
      self.assertAllClose(layer.g, tf.norm(tf.reshape(v, [layer.g.shape[0], -1]),
                                           axis=1))
    perturb(model, seed=6)
    self.assert_normalized(model, 1e-9)

  def assert_normalized(self, model, tolerance):
    """P over every image sums to 1 though the masked entries are nonzero."""
    # The perturbation reached the masked kernel entries: the sum holds only
    # because the forward pass masks them (TFP alone gives 1.3 to 2.3 here).
    self.assertGreater(masked_entries(model), 1.)
    images = all_images(model.config)
    log_prob = model.discrete_log_prob(images).log_prob.numpy()
    self.assertEqual(log_prob.shape, (len(images),))
    self.assertEqual(log_prob.dtype, np.dtype(model.config.dtype))
    self.assertAllClose(np.exp(log_prob.astype(np.float64)).sum(), 1.,
                        atol=tolerance, rtol=0.)
    self.assertGreater(np.std(log_prob), 0.5)   # far from uniform

  def test_bits_per_dim_is_minus_log2_probability_per_dim(self):
    model = shared_model("gray")                # dropout_p=0.5
    images = random_images(model.config, 8, seed=7)
    estimate = model.discrete_log_prob(images)
    self.assertIsInstance(estimate, density_model.Estimate)
    self.assertIsNone(estimate.stderr)
    bits = model.bits_per_dim(images)
    self.assertAllClose(bits, -estimate.log_prob / (4 * math.log(2.)))
    # Evaluation is deterministic (dropout off); loss_terms has dropout on.
    self.assertAllEqual(bits, model.bits_per_dim(images))
    terms = model.loss_terms(images)
    self.assertIsInstance(terms, density_model.LossTerms)
    self.assertEqual(terms.parts, {})
    self.assertEqual(terms.bits_per_dim.shape, (8,))
    self.assertNotAllClose(terms.bits_per_dim, bits)
    # Only the n_bits bins of the 8-bit pixels count; batch shapes are kept.
    self.assertAllEqual(bits, model.bits_per_dim(images | 0b00111111))
    self.assertAllClose(model.bits_per_dim(images.reshape(2, 4, 2, 2, 1)),
                        tf.reshape(bits, [2, 4]))

  @parameterized.named_parameters(("gray", "gray"), ("rgb", "rgb"))
  def test_per_pixel_log_probs_sum_to_the_log_prob(self, kind):
    model = shared_model(kind)   # rgb: the channels' linear dependence too
    images = random_images(model.config, 6, seed=12)
    per_pixel = model.per_pixel_log_prob(images)
    self.assertEqual(per_pixel.shape, [6, 2, 2])
    self.assertAllClose(tf.reduce_sum(per_pixel, axis=[-2, -1]),
                        model.discrete_log_prob(images).log_prob,
                        rtol=1e-6, atol=1e-5)
    self.assertAllLessEqual(per_pixel, 0.)
    # The first pixel sees nothing before it: its probability depends on
    # its own value only.
    same_first = images.copy()
    same_first[:, 0, 0] = images[0, 0, 0]
    first = model.per_pixel_log_prob(same_first)[:, 0, 0]
    self.assertAllClose(first, tf.fill([6], first[0]))
    self.assertEqual(model.per_pixel_log_prob(images.reshape(
        2, 3, *model.config.image_shape)).shape, [2, 3, 2, 2])

  def test_summary_statistics_are_the_per_pixel_nll_spread_and_quantiles(self):
    model = shared_model("gray")
    images = random_images(model.config, 6, seed=13)
    nll = -model.per_pixel_log_prob(images).numpy().reshape(6, -1)
    statistics = model.summary_statistics(images)
    self.assertEqual(sorted(statistics), ["pixel_nll_q10", "pixel_nll_q50",
                                          "pixel_nll_q90", "pixel_nll_std"])
    self.assertAllClose(statistics["pixel_nll_std"], nll.std(axis=1),
                        rtol=1e-5)
    for q in (10, 50, 90):
      self.assertAllClose(statistics[f"pixel_nll_q{q}"],
                          np.percentile(nll, q, axis=1), rtol=1e-5)

  def test_forward_passes_change_no_weight(self):
    model = shared_model("gray")
    weights = snapshot(model)
    model.bits_per_dim(random_images(model.config, 16, seed=8))
    model.loss_terms(random_images(model.config, 16, seed=9))
    model.sample(2, seed=0)
    self.assertTrue(model.is_initialized)
    for before, after in zip(weights, snapshot(model)):
      self.assertAllEqual(before, after)


DATA_DIR = data.default_data_dir()


class TrainingTest(tf.test.TestCase):

  def test_every_variable_trains_and_the_loss_falls_on_fashion_mnist(self):
    shared_data.require("fashion_mnist_test.npz")
    images, _ = data.load_npz("fashion_mnist", "test", DATA_DIR, limit=544)
    images = images[:, 10:18, 10:18, :]               # 8x8 crops, uint8
    train, held_out = images[:512], images[512:]
    config = PixelCNNConfig(image_shape=(8, 8, 1), num_resnet=1,
                            num_hierarchies=1, num_filters=8,
                            num_logistic_mix=3, dropout_p=0.1, seed=0)
    model = PixelCNN(config)
    self.assertLen(model.trainable_variables,           # v, g, bias each
                   3 * len(model.weight_norm_layers))
    self.assertEqual({id(v) for v in model.variables},
                     {id(v) for v in model.distribution.network.weights})
    with self.assertRaisesRegex(RuntimeError, "data_init"):
      model.sample(1)
    model.data_init(train[:256])
    before = float(tf.reduce_mean(model.bits_per_dim(held_out)))

    variables = model.trainable_variables
    optimizer = optimizers.Adam(variables)   # the trainer's: no constraints

    @tf.function
    def step(batch):
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model.loss_terms(batch).bits_per_dim)
      grads = tape.gradient(loss, variables)
      missing = [v.name for v, g in zip(variables, grads) if g is None]
      assert not missing, f"no gradient for {missing}"
      optimizer.assign(*optimizer.updates(grads, 3e-3))
      return loss

    for i in range(25):
      step(train[32 * (i % 16):32 * (i % 16 + 1)])
    after = float(tf.reduce_mean(model.bits_per_dim(held_out)))
    self.assertLess(after, before - 1., f"{before:.3f} -> {after:.3f}")

    # Still causal after the unconstrained updates: the parameters of pixel
    # (3, 5) and of the pixels before it ignore pixel (3, 5) and all after.
    scaled = tf.cast(held_out[:4], tf.float32) / 127.5 - 1.
    noise = tf.random.stateless_uniform(scaled.shape, [0, 1], -1., 1.)
    later = np.zeros((1, 8, 8, 1), np.float32)
    later[0, 3, 5:], later[0, 4:] = 1., 1.
    changed = scaled * (1. - later) + noise * later
    for a, b in zip(model.distribution.network(scaled, training=False),
                    model.distribution.network(changed, training=False)):
      self.assertAllClose(a[:, :3], b[:, :3], atol=1e-5)
      self.assertAllClose(a[:, 3, :6], b[:, 3, :6], atol=1e-5)
      self.assertNotAllClose(a[:, 4:], b[:, 4:])


class DataInitTest(tf.test.TestCase):

  def test_data_init_runs_once_in_cross_replica_context(self):
    devices = tf.config.list_logical_devices("CPU")[:2]   # 2 with conftest
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices])
    replicas = strategy.num_replicas_in_sync
    config = tiny_config()
    images = random_images(config, 8, seed=10)
    with strategy.scope():
      model = PixelCNN(config)
      self.assertFalse(model.is_initialized)
      with self.assertRaisesRegex(RuntimeError, "own shard"):
        strategy.run(tf.function(lambda x: model.loss_terms(x).bits_per_dim),
                     args=(images[:8 // replicas],))
      with self.assertRaisesRegex(RuntimeError, "cross-replica"):
        strategy.run(model.data_init, args=(images[:8 // replicas],))
      fresh = snapshot(model)
      bits = model.data_init(images)
    self.assertTrue(model.is_initialized)
    self.assertEqual(bits.shape, (8,))
    initialized = snapshot(model)
    self.assertFalse(all(np.array_equal(a, b)
                         for a, b in zip(fresh, initialized)))

    variables = model.trainable_variables

    @tf.function
    def step(batch):
      def replica_step(x):
        with tf.GradientTape() as tape:
          loss = tf.reduce_sum(model.loss_terms(x).bits_per_dim) / 8.
        return loss, tape.gradient(loss, variables)
      loss, grads = strategy.run(replica_step, args=(batch,))
      total = lambda v: strategy.reduce(tf.distribute.ReduceOp.SUM, v, None)
      return total(loss), [total(g) for g in grads]

    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(images).batch(8))
    loss, grads = step(next(iter(dataset)))
    self.assertTrue(model.is_initialized)
    for before, after in zip(initialized, snapshot(model)):
      self.assertAllEqual(before, after)     # the step re-initialized nothing
    for variable in model.variables:
      values = [t.numpy() for t in strategy.experimental_local_results(variable)]
      for value in values[1:]:
        self.assertAllEqual(values[0], value)

    # The numbers of one device: same seed (the global `random` state has
    # moved on since), same init, same loss and gradient.
    reference = PixelCNN(config)
    reference.data_init(images)
    for a, b in zip(reference.variables, model.variables):
      self.assertAllClose(a, b, atol=1e-6)
    with tf.GradientTape() as tape:
      expected = tf.reduce_sum(reference.loss_terms(images).bits_per_dim) / 8.
    expected_grads = tape.gradient(expected, reference.trainable_variables)
    self.assertAllClose(loss, expected, rtol=1e-5)
    for g, expected_g in zip(grads, expected_grads):
      self.assertAllClose(g, expected_g, atol=1e-5)


class SeedTest(tf.test.TestCase):

  def test_weights_depend_on_the_config_seed_only(self):
    # use_weight_norm=False builds in a fraction of a second; the weight-norm
    # kernels are seeded alike (DataInitTest compares two such models).
    config = tiny_config(use_weight_norm=False, seed=3)
    random.seed(1)   # TFP's unseeded Keras initializers draw from `random`
    tf.random.set_seed(1)
    first = snapshot(PixelCNN(config))
    random.seed(2)
    tf.random.set_seed(2)
    second = snapshot(PixelCNN(config))
    other = snapshot(PixelCNN(config.replace(seed=4)))
    self.assertLen(second, len(first))
    for a, b in zip(first, second):
      self.assertAllEqual(a, b)
    self.assertFalse(all(np.array_equal(a, b) for a, b in zip(first, other)))


def chi_square(counts, probs):
  """Pearson's statistic and degrees of freedom, cells below 5 expected pooled."""
  expected = probs * counts.sum()
  big = expected >= 5.
  observed = np.append(counts[big], counts[~big].sum())
  expected = np.append(expected[big], expected[~big].sum())
  keep = expected > 0
  stat = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
  return stat, keep.sum() - 1


class SampleTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(("gray_2_bits", "gray"), ("rgb_1_bit", "rgb"))
  def test_samples_follow_the_model(self, kind):
    model = shared_model(kind)
    config = model.config
    num = 20000
    x = model.sample(num, seed=10).numpy()
    self.assertEqual(x.shape, (num, *config.image_shape))
    self.assertEqual(x.dtype, np.dtype(config.dtype))
    n_bins = 2 ** config.n_bits
    self.assertAllInSet(np.unique(x), (np.arange(n_bins) + 0.5) / n_bins - 0.5)
    self.assertAllEqual(x, model.sample(num, seed=10))
    # Frequencies of every image against its exact probability.
    pixels = preprocessing.to_uint8(x, config.n_bits).numpy()
    bins = pixels.reshape(num, -1).astype(np.int64) // 2 ** (8 - config.n_bits)
    index = bins @ (n_bins ** np.arange(config.num_dims - 1, -1, -1))
    counts = np.bincount(index, minlength=n_bins ** config.num_dims)
    probs = np.exp(model.discrete_log_prob(all_images(config)).log_prob.numpy()
                   .astype(np.float64))
    stat, dof = chi_square(counts, probs / probs.sum())
    self.assertLess(stat, dof + 5. * math.sqrt(2. * dof), f"dof {dof}")

  def test_sample_arguments(self):
    model = shared_model("gray")
    self.assertEqual(model.sample(0).shape, (0, 2, 2, 1))
    self.assertEqual(model.sample(3).shape, (3, 2, 2, 1))   # a fresh seed
    self.assertAllEqual(model.sample(50, seed=[5, 6]),
                        model.sample(50, seed=tf.constant([5, 6])))
    self.assertNotAllClose(model.sample(50, seed=5), model.sample(50, seed=6))
    with self.assertRaisesRegex(ValueError, ">= 0"):
      model.sample(-1)
    with self.assertRaisesRegex(TypeError, "integer"):
      model.sample(2.5)
    with self.assertRaisesRegex(ValueError, r"\[2\] integers"):
      model.sample(2, seed=[1, 2, 3])


class InterfaceTest(tf.test.TestCase):

  def test_family_and_input_errors(self):
    self.assertIs(models.model_class("pixelcnn"), PixelCNN)
    with self.assertRaisesRegex(TypeError, "PixelCNNConfig; got GlowConfig"):
      PixelCNN(GlowConfig())
    model = shared_model("gray")
    self.assertEqual(model.family, "pixelcnn")
    self.assertEqual(model.family, model.config.family)
    self.assertEqual(model.training_input, "uint8")
    self.assertEqual(model.capabilities, frozenset({"statistics"}))
    self.assertEqual(model.num_dims, 4)
    images = random_images(model.config, 2, seed=11)
    floats = preprocessing.dequantize(images, 2, "center")
    for method in (model.loss_terms, model.discrete_log_prob,
                   model.bits_per_dim, model.data_init):
      with self.assertRaisesRegex(TypeError, r"to_uint8\(x, n_bits\)"):
        method(floats)
      with self.assertRaisesRegex(TypeError, "uint8"):
        method(images.astype(np.int32))
      with self.assertRaisesRegex(ValueError, r"\[\.\.\., 2, 2, 1\]"):
        method(np.zeros((2, 4, 4, 1), np.uint8))
    self.assertTrue(model.is_initialized)    # data_init refused before clearing
    self.assertAllEqual(
        model.bits_per_dim(preprocessing.to_uint8(floats, 2)),
        model.bits_per_dim(images))


if __name__ == "__main__":
  tf.test.main()
