"""Tests of `glow_ood.models.vae.VAE`: normalization, IWAE vs ELBO, training, seeds, inputs.

Most tests use 2x2x1 images with `n_bits=2` (4 values per pixel, 256 possible
images, `widths=(4,)`: 2x2 -> 1x1), so that sums over every image and exact
marginals by quadrature over a 1-d latent are cheap.
"""

import itertools
import json
import os

from absl.testing import parameterized
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import glow_ood
from glow_ood import configs
from glow_ood import data
from glow_ood import preprocessing
from glow_ood import models
from glow_ood.configs.vae import VAEConfig
from glow_ood.models import density_model
from glow_ood.models.vae import VAE
from tests import shared_data
from tests import toy_data

LIKELIHOODS = (("discretized_logistic", "discretized_logistic"),
               ("categorical", "categorical"))
# Standard deviation of the noise added to every weight by `perturbed_model`:
# enough to make the model far from uniform over the 256 images (the
# categorical's initial logits are small, so it needs more).
PERTURBATION = {"discretized_logistic": 0.2, "categorical": 0.5}


def tiny_config(**overrides):
  values = dict(image_shape=(2, 2, 1), widths=(4,), latent_dim=2, n_bits=2,
                eval_samples=50, seed=2)
  values.update(overrides)
  return VAEConfig(**values)


def all_images(n_bits=2):
  """Every 2x2x1 image of `n_bits` bins, as uint8 pixels: `[2**(4 n_bits), 2, 2, 1]`."""
  bins = np.array(list(itertools.product(range(2 ** n_bits), repeat=4)))
  return (bins * 2 ** (8 - n_bits)).astype(np.uint8).reshape([-1, 2, 2, 1])


def perturbed_model(config, seed=0, scale=None):
  """A VAE whose every weight is moved away from its initial value (non-trivial)."""
  model = VAE(config)
  scale = PERTURBATION[config.likelihood] if scale is None else scale
  rng = np.random.default_rng(seed)
  for variable in model.trainable_variables:
    variable.assign_add(rng.normal(0., scale, variable.shape).astype(
        variable.dtype.as_numpy_dtype))
  return model


def exact_log_prob(model, images, num_points=2001, bound=8.):
  """log P(k) = log int p(k | z) N(z; 0, 1) dz by the trapezoid rule (latent_dim 1)."""
  z = np.linspace(-bound, bound, num_points)
  log_prior = -0.5 * z ** 2 - 0.5 * np.log(2. * np.pi)
  zs = np.broadcast_to(z[:, None, None], [num_points, len(images), 1])
  log_lik = model.log_likelihood(images, zs.astype(np.float32)).numpy()
  log_terms = log_lik.astype(np.float64) + log_prior[:, None]   # [S, B]
  log_terms[[0, -1]] += np.log(0.5)                             # trapezoid ends
  peak = log_terms.max(0)
  return peak + np.log(np.sum(np.exp(log_terms - peak), 0) * (z[1] - z[0]))


class VAEInterfaceTest(tf.test.TestCase):

  def test_family_members_and_registry(self):
    config = tiny_config()
    model = models.build_model(config)
    self.assertIsInstance(model, VAE)
    self.assertIs(models.model_class("vae"), VAE)
    self.assertEqual(model.family, "vae")
    self.assertEqual(model.family, config.family)
    self.assertEqual(model.training_input, "uint8")
    self.assertIn(model.training_input, density_model.TRAINING_INPUTS)
    self.assertEqual(model.capabilities, frozenset({"elbo", "statistics"}))
    density_model.require_capability(model, "elbo", "the ELBO")
    density_model.require_capability(model, "statistics", "DoSE")
    with self.assertRaises(density_model.MissingCapabilityError):
      density_model.require_capability(model, "decomposition",
                                       "per-level terms")
    self.assertIs(model.config, config)
    self.assertEqual(model.num_dims, 4)
    self.assertTrue(model.is_initialized)

  def test_other_configs_are_refused(self):
    with self.assertRaisesRegex(TypeError, "VAEConfig"):
      VAE(glow_ood.GlowConfig(image_shape=(8, 8, 1)))

  def test_variables_are_tracked(self):
    model = VAE(tiny_config(image_shape=(4, 4, 1), widths=(3, 5)))
    # Per layer a kernel and a bias: 2 encoder convs, 2 dense, 2 transposed
    # convs, the output conv.
    self.assertLen(model.trainable_variables, 2 * 7)
    shapes = {v.name: v.shape.as_list() for v in model.trainable_variables}
    self.assertEqual(shapes["vae/encoder_dense/kernel:0"], [5, 4])
    self.assertEqual(shapes["vae/decoder_output/kernel:0"], [3, 3, 3, 2])

  def test_checkpoint_round_trip(self):
    config = tiny_config(image_shape=(4, 4, 1), widths=(3, 5))
    model = perturbed_model(config)
    path = tf.train.Checkpoint(model=model).save(
        os.path.join(self.get_temp_dir(), "ckpt"))
    restored = VAE(config.replace(seed=9))
    tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
    images = np.arange(32, dtype=np.uint8).reshape([2, 4, 4, 1]) * 8
    self.assertAllEqual(model.discrete_log_prob(images).log_prob,
                        restored.discrete_log_prob(images).log_prob)

  def test_loss_terms_are_the_negative_elbo_in_bits_per_dim(self):
    model = perturbed_model(tiny_config(train_samples=3))
    images = all_images()[::37]
    terms = model.loss_terms(images)
    self.assertIsInstance(terms, density_model.LossTerms)
    self.assertEqual(sorted(terms.parts), ["kl", "reconstruction"])
    self.assertCountEqual(model.loss_part_names, terms.parts)
    self.assertEqual(terms.bits_per_dim.shape, [len(images)])
    elbo = terms.parts["reconstruction"] - terms.parts["kl"]
    self.assertAllClose(terms.bits_per_dim, -elbo / (4 * np.log(2.)))
    self.assertAllGreater(terms.bits_per_dim, 0.)
    self.assertAllGreaterEqual(terms.parts["kl"], 0.)

  def test_data_init_evaluates_reproducibly(self):
    model = VAE(tiny_config())
    before = [v.numpy() for v in model.variables]
    images = all_images()[:9]
    bits = model.data_init(images)
    self.assertEqual(bits.shape, [9])
    self.assertAllEqual(bits, model.data_init(images))
    for old, variable in zip(before, model.variables):
      self.assertAllEqual(old, variable)
    self.assertTrue(model.is_initialized)

  def test_kl_is_the_analytic_kl_to_the_prior(self):
    model = perturbed_model(tiny_config(latent_dim=3))
    images = all_images()[::20]
    loc, log_scale = model.encode(images)
    expected = tfp.distributions.kl_divergence(
        tfp.distributions.MultivariateNormalDiag(loc, tf.exp(log_scale)),
        tfp.distributions.MultivariateNormalDiag(tf.zeros_like(loc)))
    terms = model.elbo_terms(images, num_samples=2, seed=3)
    self.assertAllClose(terms["kl"], expected, rtol=1e-5, atol=1e-5)
    self.assertAllClose(terms["elbo"], terms["reconstruction"] - terms["kl"])

  def test_summary_statistics_are_rate_distortion_and_entropy(self):
    model = perturbed_model(tiny_config(latent_dim=3))
    images = all_images()[::20]                               # 13 images
    statistics = model.summary_statistics(images, num_samples=4000)
    self.assertEqual(sorted(statistics),
                     ["distortion", "posterior_entropy", "rate"])
    for value in statistics.values():
      self.assertEqual(value.shape, [13])
    # The rate is the analytic KL (as the ELBO's), whatever the samples.
    self.assertAllClose(statistics["rate"],
                        model.elbo_terms(images, seed=3)["kl"])
    # The entropy of N(mu, sigma^2): as TFP computes it ...
    loc, log_scale = model.encode(images)
    self.assertAllClose(
        statistics["posterior_entropy"],
        tfp.distributions.MultivariateNormalDiag(
            loc, tf.exp(log_scale)).entropy(), rtol=1e-5, atol=1e-5)
    # ... and -E_q log q, by Monte Carlo over q's own samples.
    _, log_q = model.posterior_sample(images, 4000, seed=4)
    sem = log_q.numpy().std(0) / np.sqrt(4000)
    error = np.abs(-log_q.numpy().mean(0) - statistics["posterior_entropy"])
    self.assertTrue(np.all(error < 5. * sem + 1e-4), error / sem)
    # The distortion is -E_q log p(k | z): two independent Monte Carlo
    # means over 4000 draws of q.
    z, _ = model.posterior_sample(images, 4000, seed=5)
    log_likelihood = model.log_likelihood(images, z).numpy()   # [S, B]
    sem = log_likelihood.std(0) / np.sqrt(4000)
    error = np.abs(-log_likelihood.mean(0) - statistics["distortion"])
    self.assertTrue(np.all(error < 5. * np.sqrt(2.) * sem + 1e-4), error / sem)
    # Draws keyed by the image: an image's values do not depend on its batch.
    first = model.summary_statistics(images[:3])
    for name, value in first.items():
      self.assertAllClose(value, model.summary_statistics(images)[name][:3])
    self.assertAllEqual(first["distortion"],
                        model.summary_statistics(images[:3])["distortion"])

  def test_traces_with_an_unknown_batch_size(self):
    model = perturbed_model(tiny_config())
    images = all_images()[:5]

    @tf.function(input_signature=[tf.TensorSpec([None, 2, 2, 1], tf.uint8)])
    def evaluate(batch):
      estimate = model.discrete_log_prob(batch, num_samples=20,
                                         samples_per_chunk=6)
      return model.loss_terms(batch).bits_per_dim, estimate.log_prob

    bits, log_prob = evaluate(images)
    self.assertEqual(bits.shape, [5])
    self.assertAllClose(log_prob, model.discrete_log_prob(
        images, num_samples=20).log_prob, rtol=1e-5)

  def test_float64_model(self):
    model = VAE(tiny_config(dtype="float64"))
    estimate = model.discrete_log_prob(all_images()[:3])
    self.assertEqual(estimate.log_prob.dtype, tf.float64)
    self.assertEqual(model.sample(2, seed=1).dtype, tf.float64)


class VAELikelihoodTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(*LIKELIHOODS)
  def test_importance_sampled_probabilities_of_all_images_sum_to_one(
      self, likelihood):
    model = perturbed_model(tiny_config(likelihood=likelihood), seed=4)
    estimate = model.discrete_log_prob(all_images(), num_samples=2000, seed=5)
    probs = np.exp(estimate.log_prob.numpy().astype(np.float64))
    # stderr is relative to the estimate: the sum's error adds them in quadrature.
    total_stderr = np.sqrt(np.sum((probs * estimate.stderr.numpy()) ** 2))
    self.assertLess(total_stderr, 0.02)
    self.assertLess(abs(probs.sum() - 1.), 4. * total_stderr + 1e-4)
    # Non-trivial: far from uniform over the 256 images.
    entropy = -np.sum(probs * np.log(probs))
    self.assertLess(entropy, np.log(256.) - 0.5)

  @parameterized.named_parameters(*LIKELIHOODS)
  def test_matches_the_exact_marginal_of_a_one_dimensional_latent(
      self, likelihood):
    model = perturbed_model(tiny_config(likelihood=likelihood, latent_dim=1),
                            seed=4)
    images = all_images()
    exact = exact_log_prob(model, images)
    self.assertAllClose(np.sum(np.exp(exact)), 1., atol=1e-4)
    estimate = model.discrete_log_prob(images, num_samples=1000, seed=6)
    error = np.abs(estimate.log_prob.numpy() - exact)
    self.assertTrue(np.all(error <= 5. * estimate.stderr.numpy() + 1e-3),
                    np.max(error / estimate.stderr.numpy()))
    self.assertLess(np.median(estimate.stderr), 0.05)

  @parameterized.named_parameters(*LIKELIHOODS)
  def test_elbo_is_below_the_iwae_estimate_which_rises_with_k(self, likelihood):
    model = perturbed_model(tiny_config(likelihood=likelihood, latent_dim=1),
                            seed=4)
    images = all_images()[::4]                                # 64 images
    exact = exact_log_prob(model, images).mean()
    elbo = model.elbo_terms(images, num_samples=2000, seed=1)["elbo"]
    elbo = float(tf.reduce_mean(elbo))
    means, sems = [], []
    for k, repetitions in ((1, 100), (10, 50), (100, 20), (1000, 4)):
      # A seed per repetition: independent estimates (an image's draws are
      # keyed by the seed and the image, so repeating it in a batch would not).
      estimate = tf.function(lambda seed, k=k: tf.reduce_mean(
          model.discrete_log_prob(images, num_samples=k, seed=seed).log_prob))
      per_repetition = np.array([
          float(estimate(tf.constant([k, r], tf.int64)))
          for r in range(repetitions)])
      means.append(per_repetition.mean())
      sems.append(per_repetition.std(ddof=1) / np.sqrt(repetitions))
    means, sems = np.array(means), np.array(sems)
    # K = 1 is the ELBO in expectation; the gap to log P(x) is real.
    self.assertLess(abs(means[0] - elbo), 4. * sems[0] + 0.01)
    self.assertLess(elbo, exact - 0.1)
    for i in range(3):
      self.assertGreater(means[i + 1] + 3. * np.hypot(sems[i], sems[i + 1]),
                         means[i])
    self.assertGreater(means[3], elbo + 0.1)
    self.assertAllLessEqual(means - 3. * sems - 1e-3, exact)
    self.assertLess(exact - means[3], 0.1 * (exact - elbo))

  @parameterized.named_parameters(*LIKELIHOODS)
  def test_samples_follow_the_model_distribution(self, likelihood):
    model = perturbed_model(
        tiny_config(likelihood=likelihood, n_bits=1, latent_dim=1), seed=3,
        scale=0.5)
    images = all_images(n_bits=1)                              # 16 images
    probs = np.exp(exact_log_prob(model, images))
    samples = preprocessing.to_uint8(model.sample(20000, seed=3), n_bits=1)
    codes = (samples.numpy().reshape([-1, 4]) // 128) @ [8, 4, 2, 1]
    frequencies = np.bincount(codes, minlength=16) / 20000.
    self.assertGreater(probs.max(), 0.15)
    # Multinomial standard error <= sqrt(0.25 / 20000) = 0.0035.
    self.assertAllClose(frequencies, probs, atol=0.015)

  def test_bits_per_dim_is_the_negative_estimate_per_dimension(self):
    model = perturbed_model(tiny_config())
    images = all_images()[:7]
    log_prob = model.discrete_log_prob(images).log_prob
    self.assertAllClose(model.bits_per_dim(images), -log_prob / (4 * np.log(2.)))


class VAETrainingTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(*LIKELIHOODS)
  def test_every_trainable_variable_gets_a_gradient(self, likelihood):
    model = VAE(tiny_config(image_shape=(4, 4, 3), widths=(3, 5),
                            likelihood=likelihood, train_samples=2))
    images = np.random.default_rng(0).integers(0, 256, [6, 4, 4, 3]).astype(
        np.uint8)
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(model.loss_terms(images).bits_per_dim)
    grads = tape.gradient(loss, model.trainable_variables)
    self.assertLen(grads, 14)
    for variable, grad in zip(model.trainable_variables, grads):
      self.assertIsNotNone(grad, variable.name)
      self.assertTrue(np.all(np.isfinite(grad)), variable.name)
      self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0., variable.name)

  @parameterized.named_parameters(*LIKELIHOODS)
  def test_loss_falls_on_fashion_mnist(self, likelihood):
    shared_data.require("fashion_mnist_test.npz")
    images = data.load_images(
        data.DataConfig(dataset="fashion_mnist", source="npz"), "test")
    images = images[:1024, 6:22, 6:22]                        # centre 16x16
    train, held_out = images[:768], images[768:]
    # The categorical at 5 bits (32 logits a pixel) keeps the test fast.
    n_bits = 8 if likelihood == "discretized_logistic" else 5
    model = VAE(VAEConfig(image_shape=(16, 16, 1), widths=(8, 16),
                          latent_dim=8, likelihood=likelihood, n_bits=n_bits,
                          seed=0))
    optimizer = tf_keras.optimizers.Adam(3e-3)

    @tf.function
    def train_step(batch):
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model.loss_terms(batch).bits_per_dim)
      grads = tape.gradient(loss, model.trainable_variables)
      optimizer.apply_gradients(zip(grads, model.trainable_variables))
      return loss

    def held_out_bits_per_dim():
      return float(tf.reduce_mean(model.data_init(held_out)))

    before = held_out_bits_per_dim()
    losses = [float(train_step(train[i:i + 64]))
              for i in itertools.islice(itertools.cycle(range(0, 768, 64)), 40)]
    after = held_out_bits_per_dim()
    self.assertTrue(np.all(np.isfinite(losses)))
    self.assertLess(np.mean(losses[-5:]), losses[0] - 1.)
    self.assertLess(after, before - 1.)


class VAESeedTest(tf.test.TestCase):

  def test_same_seed_same_weights(self):
    config = tiny_config(image_shape=(4, 4, 1), widths=(3, 5), seed=7)
    first, second = VAE(config), VAE(config)
    other = VAE(config.replace(seed=8))
    for a, b, c in zip(first.variables, second.variables, other.variables):
      self.assertAllEqual(a, b)
      if "kernel" in a.name:
        self.assertNotAllClose(a, c)

  def test_discrete_log_prob_is_deterministic_given_a_seed(self):
    model = perturbed_model(tiny_config())
    images = all_images()[::9]
    default = model.discrete_log_prob(images)
    self.assertAllEqual(default.log_prob, model.discrete_log_prob(images).log_prob)
    seeded = model.discrete_log_prob(images, num_samples=30, seed=[3, 4])
    again = model.discrete_log_prob(images, num_samples=30, seed=[3, 4])
    chunked = model.discrete_log_prob(images, num_samples=30, seed=[3, 4],
                                      samples_per_chunk=7)
    other = model.discrete_log_prob(images, num_samples=30, seed=[3, 5])
    self.assertAllEqual(seeded.log_prob, again.log_prob)
    self.assertAllEqual(seeded.stderr, again.stderr)
    self.assertAllClose(seeded.log_prob, chunked.log_prob, rtol=1e-6)
    self.assertAllClose(seeded.stderr, chunked.stderr, rtol=1e-5)
    self.assertNotAllClose(seeded.log_prob, other.log_prob)

  def test_elbo_terms_seeded_or_fresh(self):
    model = perturbed_model(tiny_config())
    images = all_images()[::9]
    first = model.elbo_terms(images, seed=1)["reconstruction"]
    self.assertAllEqual(first, model.elbo_terms(images, seed=1)["reconstruction"])
    self.assertNotAllClose(model.elbo_terms(images)["reconstruction"],
                           model.elbo_terms(images)["reconstruction"])

  def test_batch_shape_is_kept(self):
    model = perturbed_model(tiny_config())
    images = all_images()[:6]
    flat = model.discrete_log_prob(images, seed=2)
    nested = model.discrete_log_prob(images.reshape([2, 3, 2, 2, 1]), seed=2)
    self.assertAllClose(nested.log_prob, tf.reshape(flat.log_prob, [2, 3]))
    self.assertAllClose(nested.stderr, tf.reshape(flat.stderr, [2, 3]))
    single = model.elbo_terms(images[0], seed=1)
    self.assertEqual(single["elbo"].shape, [])
    self.assertEqual(model.encode(images.reshape([2, 3, 2, 2, 1]))[0].shape,
                     [2, 3, 2])


class VAESampleTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(*LIKELIHOODS)
  def test_shape_range_and_bin_centres(self, likelihood):
    config = tiny_config(image_shape=(4, 4, 3), widths=(3, 5), n_bits=3,
                         likelihood=likelihood)
    model = VAE(config)
    x = model.sample(5, seed=[1, 2])
    self.assertEqual(x.shape, [5, 4, 4, 3])
    self.assertEqual(x.dtype, tf.float32)
    self.assertAllGreaterEqual(x, -0.5)
    self.assertAllLess(x, 0.5)
    bins = (x.numpy() + 0.5) * 8 - 0.5
    self.assertAllClose(bins, np.round(bins), atol=1e-5)
    images = preprocessing.to_uint8(x, n_bits=3)
    self.assertAllEqual(images.numpy() // 32, np.round(bins))
    self.assertAllEqual(x, model.sample(5, seed=[1, 2]))
    self.assertNotAllClose(x, model.sample(5, seed=[1, 3]))

  def test_bad_counts(self):
    model = VAE(tiny_config())
    with self.assertRaisesRegex(ValueError, "num_samples must be >= 0"):
      model.sample(-1)
    with self.assertRaisesRegex(TypeError, "integer"):
      model.sample(2.5)
    with self.assertRaisesRegex(ValueError, "num_samples must be >= 1"):
      model.discrete_log_prob(all_images()[:2], num_samples=0)


class VAEInputTest(tf.test.TestCase):

  def test_float_images_raise_type_error_naming_the_fix(self):
    model = VAE(tiny_config())
    x = preprocessing.dequantize(all_images()[:2], n_bits=2, dequantization="center")
    for method in (model.loss_terms, model.discrete_log_prob, model.data_init,
                   model.elbo_terms, model.bits_per_dim):
      with self.assertRaisesRegex(TypeError, r"uint8.*to_uint8\(x, n_bits\)"):
        method(x)
    with self.assertRaisesRegex(TypeError, "uint8"):
      model.loss_terms(all_images()[:2].astype(np.int32))

  def test_wrong_shape_raises_value_error(self):
    model = VAE(tiny_config())
    with self.assertRaisesRegex(ValueError, r"\[\.\.\., 2, 2, 1\]"):
      model.loss_terms(np.zeros([3, 4, 4, 1], np.uint8))
    with self.assertRaisesRegex(ValueError, "channel"):
      model.discrete_log_prob(np.zeros([3, 2, 2], np.uint8))

  def test_config_rejects_sizes_the_strides_cannot_halve(self):
    with self.assertRaisesRegex(ValueError, "divisible by 4"):
      tiny_config(image_shape=(6, 6, 1), widths=(3, 5))


def flow_config(**overrides):
  """`tiny_config` with the flow posterior (2 couplings) and `latent_dim=2`."""
  values = dict(latent_dim=2, posterior="flow", posterior_flow_steps=2)
  values.update(overrides)
  return tiny_config(**values)


def log_standard_normal(z):
  return np.sum(-0.5 * np.square(z) - 0.5 * np.log(2. * np.pi), axis=-1)


class VAEFlowPosteriorTest(tf.test.TestCase):
  """`--vae_posterior=flow`: q(z | x) through `vae_posterior.FlowPosterior`."""

  def test_zero_initialized_couplings_give_the_gaussian_posterior_exactly(self):
    gaussian = perturbed_model(tiny_config(latent_dim=3), seed=4)
    flow = VAE(flow_config(latent_dim=3, posterior_flow_steps=3))
    shared = {v.name: v for v in gaussian.trainable_variables}
    copied = 0
    for variable in flow.trainable_variables:
      if variable.name in shared:
        variable.assign(shared[variable.name])
        copied += 1
    self.assertEqual(copied, len(shared))          # encoder and decoder
    images = all_images()[::9]
    for a, b in zip(gaussian.posterior_sample(images, 5, seed=1),
                    flow.posterior_sample(images, 5, seed=1)):
      self.assertAllEqual(a, b)
    expected = gaussian.discrete_log_prob(images, num_samples=20)
    estimate = flow.discrete_log_prob(images, num_samples=20)
    self.assertAllEqual(estimate.log_prob, expected.log_prob)
    self.assertAllEqual(estimate.stderr, expected.stderr)
    self.assertAllEqual(flow.sample(3, seed=2), gaussian.sample(3, seed=2))
    # The ELBO's reconstruction is the same; its KL is the flow's Monte
    # Carlo estimate mean_s log q(z_s) - log p(z_s) of the same KL.
    terms = flow.elbo_terms(images, num_samples=4000, seed=2)
    gaussian_terms = gaussian.elbo_terms(images, num_samples=4000, seed=2)
    self.assertAllEqual(terms["reconstruction"],
                        gaussian_terms["reconstruction"])
    z, log_q = flow.posterior_sample(images, 4000, seed=2)
    rate = log_q.numpy() - log_standard_normal(z.numpy())      # [S, B]
    self.assertAllClose(terms["kl"], rate.mean(0), rtol=1e-5, atol=1e-5)
    sem = rate.std(0, ddof=1) / np.sqrt(4000)
    error = np.abs(rate.mean(0) - gaussian_terms["kl"].numpy())
    self.assertTrue(np.all(error < 5. * sem + 1e-4), error / sem)
    self.assertGreater(float(tf.reduce_max(gaussian_terms["kl"])), 0.3)

  def test_summary_statistics_of_the_flow_posterior(self):
    model = perturbed_model(flow_config(latent_dim=3, posterior_flow_steps=3),
                            seed=4)
    for variable in model.posterior_flow.trainable_variables:
      variable.assign_add(0.3 * tf.random.stateless_normal(
          variable.shape, seed=[7, 0], dtype=variable.dtype))
    images = all_images()[::20]
    statistics = model.summary_statistics(images, num_samples=4000, seed=1)
    z, log_q = model.posterior_sample(images, 4000, seed=2)
    log_q, log_prior = log_q.numpy(), log_standard_normal(z.numpy())
    for name, draws in (("posterior_entropy", -log_q),
                        ("rate", log_q - log_prior)):
      sem = draws.std(0) / np.sqrt(4000)
      error = np.abs(draws.mean(0) - statistics[name].numpy())
      # Two independent Monte Carlo means.
      self.assertTrue(np.all(error < 5. * np.sqrt(2.) * sem + 1e-4),
                      (name, error / sem))
    # The couplings change the entropy: it is not the base Gaussian's.
    loc, log_scale = model.encode(images)
    base = tfp.distributions.MultivariateNormalDiag(
        loc, tf.exp(log_scale)).entropy().numpy()
    self.assertGreater(np.max(np.abs(base - statistics["posterior_entropy"])),
                       0.05)

  def test_importance_sampled_probabilities_of_all_images_sum_to_one(self):
    # A wrong log q (a missing or mis-signed log-det) biases every weight by
    # the same factor in expectation: the probabilities would not sum to 1.
    model = perturbed_model(flow_config(), seed=4)
    estimate = model.discrete_log_prob(all_images(), num_samples=2000, seed=5)
    probs = np.exp(estimate.log_prob.numpy().astype(np.float64))
    total_stderr = np.sqrt(np.sum((probs * estimate.stderr.numpy()) ** 2))
    self.assertLess(total_stderr, 0.02)
    self.assertLess(abs(probs.sum() - 1.), 4. * total_stderr + 1e-4)
    entropy = -np.sum(probs * np.log(probs))
    self.assertLess(entropy, np.log(256.) - 0.5)

  def test_the_iwae_estimate_is_above_the_elbo_on_average(self):
    model = perturbed_model(flow_config(), seed=4)
    images = all_images()[::4]                                # 64 images
    elbo = model.elbo_terms(images, num_samples=2000, seed=1)["elbo"].numpy()
    self.assertTrue(np.all(np.isfinite(elbo)))
    means = {}
    for k, repetitions in ((1, 60), (100, 6)):
      estimate = tf.function(lambda seed, k=k: model.discrete_log_prob(
          images, num_samples=k, seed=seed).log_prob)
      values = np.stack([estimate(tf.constant([k, r], tf.int64)).numpy()
                         for r in range(repetitions)])      # [R, B]
      self.assertTrue(np.all(np.isfinite(values)))
      per_repetition = values.mean(1)
      means[k] = (per_repetition.mean(),
                  per_repetition.std(ddof=1) / np.sqrt(repetitions))
    # K = 1 is the ELBO in expectation (both use the flow's log q); K = 100
    # is well above it.
    self.assertLess(abs(means[1][0] - elbo.mean()), 4. * means[1][1] + 0.01)
    self.assertGreater(means[100][0] - 3. * means[100][1], elbo.mean() + 0.05)

  def test_every_trainable_variable_gets_a_gradient(self):
    model = perturbed_model(flow_config(image_shape=(4, 4, 3), widths=(3, 5),
                                        latent_dim=4, train_samples=2))
    images = np.random.default_rng(0).integers(0, 256, [6, 4, 4, 3]).astype(
        np.uint8)
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(model.loss_terms(images).bits_per_dim)
    grads = tape.gradient(loss, model.trainable_variables)
    # The Gaussian VAE's 14, the context layer's 2 and 3 x 2 per coupling.
    self.assertLen(grads, 14 + 2 + 2 * 6)
    for variable, grad in zip(model.trainable_variables, grads):
      self.assertIsNotNone(grad, variable.name)
      self.assertTrue(np.all(np.isfinite(grad)), variable.name)
      self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0., variable.name)

  def test_loss_falls_on_toy_images(self):
    images = toy_data.toy_images(320, seed=0)                 # [320, 8, 8, 1]
    train, held_out = images[:256], images[256:]
    model = VAE(VAEConfig(image_shape=(8, 8, 1), widths=(8, 16), latent_dim=4,
                          posterior="flow", posterior_flow_steps=2, seed=0))
    optimizer = tf_keras.optimizers.Adam(3e-3)

    @tf.function
    def train_step(batch):
      with tf.GradientTape() as tape:
        terms = model.loss_terms(batch)
        loss = tf.reduce_mean(terms.bits_per_dim)
      grads = tape.gradient(loss, model.trainable_variables)
      optimizer.apply_gradients(zip(grads, model.trainable_variables))
      return loss, tf.reduce_mean(terms.parts["kl"])

    before = float(tf.reduce_mean(model.data_init(held_out)))
    steps = [train_step(train[i:i + 64]) for i in
             itertools.islice(itertools.cycle(range(0, 256, 64)), 40)]
    losses = np.array([float(loss) for loss, _ in steps])
    rates = np.array([float(rate) for _, rate in steps])
    after = float(tf.reduce_mean(model.data_init(held_out)))
    self.assertTrue(np.all(np.isfinite(losses)) and np.all(np.isfinite(rates)))
    self.assertLess(np.mean(losses[-5:]), losses[0] - 0.5)
    self.assertLess(after, before - 0.5)
    # The couplings left the identity.
    moved = [float(tf.reduce_max(tf.abs(network.output.kernel)))
             for network in model.posterior_flow.networks]
    self.assertAllGreater(moved, 0.)

  def test_checkpoint_round_trip(self):
    config = flow_config(image_shape=(4, 4, 1), widths=(3, 5))
    model = perturbed_model(config)
    path = tf.train.Checkpoint(model=model).save(
        os.path.join(self.get_temp_dir(), "ckpt"))
    restored = VAE(config.replace(seed=9))
    tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
    images = np.arange(32, dtype=np.uint8).reshape([2, 4, 4, 1]) * 8
    self.assertAllEqual(model.discrete_log_prob(images).log_prob,
                        restored.discrete_log_prob(images).log_prob)

  def test_traces_with_an_unknown_batch_size_and_keeps_the_batch_shape(self):
    model = perturbed_model(flow_config())
    images = all_images()[:6]

    @tf.function(input_signature=[tf.TensorSpec([None, 2, 2, 1], tf.uint8)])
    def evaluate(batch):
      return model.discrete_log_prob(batch, num_samples=20,
                                     samples_per_chunk=6).log_prob

    self.assertAllClose(evaluate(images), model.discrete_log_prob(
        images, num_samples=20).log_prob, rtol=1e-5)
    nested = model.discrete_log_prob(images.reshape([2, 3, 2, 2, 1]), seed=2)
    self.assertAllClose(nested.log_prob, tf.reshape(
        model.discrete_log_prob(images, seed=2).log_prob, [2, 3]))
    z, log_q = model.posterior_sample(images.reshape([2, 3, 2, 2, 1]), 4)
    self.assertEqual(z.shape, [4, 2, 3, 2])
    self.assertEqual(log_q.shape, [4, 2, 3])

  def test_config(self):
    config = configs.TrainConfig(
        model=flow_config(posterior_flow_steps=3, n_bits=8))
    payload = json.loads(json.dumps(configs.to_dict(config)))
    self.assertEqual(configs.from_dict(payload), config)
    # A config.json written before the option: the Gaussian posterior.
    for name in ("posterior", "posterior_flow_steps"):
      del payload["config"]["model"][name]
    model = configs.from_dict(payload).model
    self.assertEqual((model.posterior, model.posterior_flow_steps),
                     ("gaussian", 4))
    self.assertIn("flow posterior (3 couplings)",
                  models.describe(config.model))
    self.assertNotIn("flow", models.describe(tiny_config()))
    with self.assertRaisesRegex(ValueError, r"latent_dim >= 2; got 1.*"
                                r"--vae_latent_dim=2"):
      flow_config(latent_dim=1)
    with self.assertRaisesRegex(ValueError, "posterior='iaf' is not one of"):
      tiny_config(posterior="iaf")


if __name__ == "__main__":
  tf.test.main()


def test_an_images_estimate_does_not_depend_on_its_batch():
  """The IWAE draws are keyed by the image: alone, in a batch, in another
  order, the same image gets the same estimate (and two images differ)."""
  model = VAE(VAEConfig(image_shape=(8, 8, 1), widths=(4,), latent_dim=3,
                        eval_samples=16))
  rng = np.random.default_rng(5)
  images = rng.integers(0, 256, (6, 8, 8, 1)).astype(np.uint8)
  together = model.discrete_log_prob(images).log_prob.numpy()
  reversed_ = model.discrete_log_prob(images[::-1]).log_prob.numpy()[::-1]
  alone = np.array([model.discrete_log_prob(images[i:i + 1]).log_prob.numpy()[0]
                    for i in range(len(images))])
  np.testing.assert_allclose(reversed_, together, rtol=1e-6)
  np.testing.assert_allclose(alone, together, rtol=1e-6)
  # The same image twice in one batch: the same draws, the same estimate.
  twice = model.discrete_log_prob(images[[0, 0]]).log_prob.numpy()
  assert twice[0] == twice[1]
  # Another seed: other draws.
  other = model.discrete_log_prob(images, seed=(1, 2)).log_prob.numpy()
  assert not np.allclose(other, together)


@pytest.mark.parametrize("posterior", ["gaussian", "flow"])
def test_log_weights_are_the_terms_of_the_iwae_estimate(posterior):
  """`log_weights` draws as `discrete_log_prob` (same seed and K): its
  log-mean-exp is the IWAE estimate; the encoder's own posterior passed
  explicitly changes nothing; `differentiable_log_prob` is their mean."""
  model = perturbed_model(tiny_config(posterior=posterior, latent_dim=2))
  images = all_images()[::17]                                     # [16, ...]
  weights = model.log_weights(images, num_samples=30, seed=(3, 4))
  assert weights.shape == (30, 16)
  iwae = model.discrete_log_prob(images, num_samples=30, seed=(3, 4))
  np.testing.assert_allclose(
      tfp.math.reduce_logmeanexp(weights, axis=0), iwae.log_prob, rtol=1e-5)
  explicit = model.log_weights(images, num_samples=30, seed=(3, 4),
                               posterior=model.encode(images))
  np.testing.assert_allclose(explicit, weights, rtol=1e-6)
  # Another posterior: other weights; batch shapes are kept.
  loc, log_scale = model.encode(images)
  moved = model.log_weights(images, 30, (3, 4), posterior=(loc + 1., log_scale))
  assert not np.allclose(moved, weights)
  nested = model.log_weights(images.reshape(4, 4, 2, 2, 1), 30, (3, 4))
  np.testing.assert_allclose(nested, np.reshape(weights, [30, 4, 4]),
                             rtol=1e-6)
  np.testing.assert_allclose(
      density_model.differentiable_log_prob(model, images, 30, (3, 4)),
      np.mean(weights, axis=0), rtol=1e-6)


def test_differentiable_log_prob_of_the_other_families_is_log_p():
  model = glow_ood.Glow(toy_data.tiny_glow_config())
  images = toy_data.toy_images(4, seed=0)
  model.initialize(model.preprocess(images))
  np.testing.assert_allclose(
      density_model.differentiable_log_prob(model, images),
      model.discrete_log_prob(images).log_prob)
