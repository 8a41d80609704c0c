"""Tests of `glow_ood.models.vae_posterior`: the flow posterior's exact log q(z | x).

`FlowPosterior` alone, on small latents (L = 4 or 5) in float64: its log q
against two independent change-of-variables computations (TFP's
`TransformedDistribution`, which inverts the flow, and the determinant of
the autodiff Jacobian dz/deps), the identity at initialization, and the
conditioning on the context.
"""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from glow_ood.models import vae_posterior

tfd = tfp.distributions

FEATURES = 6
WIDTH = 8


def make_posterior(latent_dim, num_steps, perturb=0.1, seed=0):
  """A float64 `FlowPosterior`, every weight (the zero output layers too) moved by N(0, perturb^2)."""
  posterior = vae_posterior.FlowPosterior(
      latent_dim, FEATURES, num_steps, WIDTH, tf.constant([seed, 1], tf.int64),
      dtype=tf.float64)
  rng = np.random.default_rng(seed)
  for variable in posterior.trainable_variables:
    variable.assign_add(rng.normal(0., perturb, variable.shape))
  return posterior


def inputs(batch, latent_dim, num_samples=3, seed=1):
  """`(loc [B, L], log_scale [B, L], features [B, F], eps [S, B, L])`, float64."""
  rng = np.random.default_rng(seed)
  return (tf.constant(rng.normal(0., 1., [batch, latent_dim])),
          tf.constant(rng.normal(-0.5, 0.3, [batch, latent_dim])),
          tf.constant(rng.normal(0., 1., [batch, FEATURES])),
          tf.constant(rng.normal(0., 1., [num_samples, batch, latent_dim])))


STEPS = (("one_step", 4, 1), ("two_steps_odd_latent", 5, 2),
         ("three_steps", 4, 3), ("four_steps_odd_latent", 5, 4))


class FlowPosteriorTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(*STEPS)
  def test_log_prob_is_that_of_the_transformed_distribution(
      self, latent_dim, num_steps):
    posterior = make_posterior(latent_dim, num_steps)
    loc, log_scale, features, eps = inputs(7, latent_dim)
    z, log_q = posterior(loc, log_scale, features, eps)
    self.assertEqual(z.shape, [3, 7, latent_dim])
    self.assertEqual(log_q.shape, [3, 7])
    # The same q as TFP composes it: base Gaussian (per sample and image) on
    # [1, 1, L] events, the flow's Chain; log_prob inverts z (a new tensor,
    # so no cached forward pass is reused) and adds the inverse log-det.
    tile = lambda t: tf.reshape(tf.broadcast_to(t, [3, *t.shape]),
                                [-1, 1, 1, t.shape[-1]])
    base = tfd.Independent(tfd.Normal(tile(loc), tf.exp(tile(log_scale))),
                           reinterpreted_batch_ndims=3)
    context = tf.reshape(tile(posterior.contexts(features)), [-1, WIDTH])
    q = tfd.TransformedDistribution(base, posterior.bijector(context))
    expected = q.log_prob(tf.constant(tf.reshape(z, [-1, 1, 1, latent_dim])
                                      .numpy()))
    self.assertAllClose(log_q, tf.reshape(expected, [3, 7]), rtol=1e-10,
                        atol=1e-10)
    # Not trivially the base density: the perturbed flow has a volume term.
    z_0, base_log_q = vae_posterior.gaussian_sample(loc, log_scale, eps)
    self.assertGreater(float(tf.reduce_max(tf.abs(log_q - base_log_q))), 0.1)
    self.assertGreater(float(tf.reduce_max(tf.abs(z - z_0))), 0.1)

  @parameterized.named_parameters(*STEPS)
  def test_log_prob_is_the_change_of_variables_of_the_autodiff_jacobian(
      self, latent_dim, num_steps):
    posterior = make_posterior(latent_dim, num_steps, seed=2)
    loc, log_scale, features, eps = inputs(5, latent_dim, num_samples=1,
                                           seed=3)
    eps = eps[0]                                               # [B, L]
    with tf.GradientTape() as tape:
      tape.watch(eps)
      z, log_q = posterior(loc, log_scale, features, eps[tf.newaxis])
      z = z[0]
    jacobian = tape.batch_jacobian(z, eps)                     # [B, L, L] dz/deps
    _, log_abs_det = np.linalg.slogdet(jacobian.numpy())
    log_normal = np.sum(-0.5 * eps.numpy() ** 2 - 0.5 * np.log(2. * np.pi), -1)
    # q(z) = N(eps; 0, I) / |det dz/deps|.
    self.assertAllClose(log_q[0], log_normal - log_abs_det, rtol=1e-10,
                        atol=1e-10)

  @parameterized.named_parameters(*STEPS)
  def test_at_initialization_it_is_the_gaussian_posterior_exactly(
      self, latent_dim, num_steps):
    posterior = vae_posterior.FlowPosterior(
        latent_dim, FEATURES, num_steps, WIDTH, tf.constant([4, 5], tf.int64),
        dtype=tf.float64)
    loc, log_scale, features, eps = inputs(6, latent_dim)
    z, log_q = posterior(loc, log_scale, features, eps)
    gaussian_z, gaussian_log_q = vae_posterior.gaussian_sample(
        loc, log_scale, eps)
    self.assertAllEqual(z, gaussian_z)              # even reversals: no permutation
    self.assertAllEqual(log_q, gaussian_log_q)

  def test_each_image_is_transformed_with_its_own_context(self):
    posterior = make_posterior(4, 2)
    loc, log_scale, features, eps = inputs(5, 4)
    z, log_q = posterior(loc, log_scale, features, eps)
    order = [3, 0, 4, 1, 2]
    gather = lambda t, axis: tf.gather(t, order, axis=axis)
    z_permuted, log_q_permuted = posterior(
        gather(loc, 0), gather(log_scale, 0), gather(features, 0),
        gather(eps, 1))
    self.assertAllClose(z_permuted, gather(z, 1), rtol=1e-12)
    self.assertAllClose(log_q_permuted, gather(log_q, 1), rtol=1e-12)
    # The same z_0 under another image's features goes elsewhere.
    other_z, _ = posterior(loc, log_scale, gather(features, 0), eps)
    self.assertNotAllClose(other_z, z)

  def test_trainable_variables_and_names(self):
    posterior = vae_posterior.FlowPosterior(
        4, FEATURES, 3, WIDTH, tf.constant([0, 0], tf.int64))
    # The context layer, and three layers per coupling: kernels and biases.
    self.assertLen(posterior.trainable_variables, 2 + 3 * 3 * 2)
    names = {v.name for v in posterior.trainable_variables}
    self.assertIn("posterior_flow/coupling_2/output/kernel:0", names)
    self.assertIn("posterior_flow/context/kernel:0", names)

  def test_a_one_dimensional_latent_is_refused(self):
    with self.assertRaisesRegex(ValueError, "latent_dim >= 2; got 1"):
      vae_posterior.FlowPosterior(1, FEATURES, 2, WIDTH,
                                  tf.constant([0, 0], tf.int64))


if __name__ == "__main__":
  tf.test.main()
