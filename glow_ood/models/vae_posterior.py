"""The VAE's approximate posterior q(z | x): a diagonal Gaussian, or one pushed through a flow.

With `z` in `R^L`, the encoder's `(mu, log sigma)` (each `[B, L]`) and
standard normals `eps` (`[S, B, L]`, `S` samples per image):

    Gaussian:  z = z_0 = mu + sigma * eps,
               log q(z | x) = log N(z_0; mu, diag sigma^2)
                            = sum_l (-eps_l^2 / 2 - log sigma_l - log(2 pi) / 2);
    flow:      z = f_x(z_0) = f_T o ... o f_1 (z_0),
               log q(z | x) = log N(z_0; mu, diag sigma^2) - log|det dz / dz_0|,

`f_x` a RealNVP flow (Dinh et al. 2017) of `T` affine couplings on `z`,
conditioned on the image through a context vector computed from the
encoder's features (as IAF, Kingma et al. 2016, conditions its flow on the
encoder's `h`). Both log-densities are exact (no estimate): the couplings'
Jacobians are triangular, `log|det dz/dz_0| = sum_t sum(s_t)`.

Why conditioned: with parameters shared by every image, `f` is one fixed
bijection and `KL(f # N(mu, sigma) || p) = KL(N(mu, sigma) || f^-1 # p)`:
the model would be a Gaussian-posterior VAE with a flow prior `f^-1 # p`
and decoder `g o f`, no richer family of posteriors. With the context each
image gets its own bijection, so q(z | x) can be skewed or curved where the
true posterior is.

#### References
[1]: Dinh, Sohl-Dickstein & Bengio. Density estimation using Real NVP.
     ICLR 2017. https://arxiv.org/abs/1605.08803
[2]: Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling. Improved
     Variational Inference with Inverse Autoregressive Flow. NeurIPS 2016.
     https://arxiv.org/abs/1606.04934
[3]: Rosca, Lakshminarayanan & Mohamed. Distribution Matching in Variational
     Inference. 2018. https://arxiv.org/abs/1802.06847
"""

import functools
import math

import tensorflow.compat.v2 as tf
import tensorflow_probability as tfp

import bijectors
from glow_ood.models import dense

tfb = tfp.bijectors

__all__ = ["gaussian_sample", "FlowPosterior"]

_HALF_LOG_2PI = 0.5 * math.log(2. * math.pi)


def gaussian_sample(loc, log_scale, eps):
  """`z = mu + sigma * eps` and `log N(z; mu, diag sigma^2)`.

  Args:
    loc: `mu`, `[B, L]`.
    log_scale: `log sigma`, `[B, L]`.
    eps: standard normals `[S, B, L]`.

  Returns:
    `(z [S, B, L], log_prob [S, B])`, `log_prob = sum_l (-eps_l^2 / 2 -
    log sigma_l - log(2 pi) / 2)` (the density of `z`, written in `eps`).
  """
  z = loc + tf.exp(log_scale) * eps
  log_prob = tf.reduce_sum(-0.5 * tf.square(eps) - log_scale - _HALF_LOG_2PI,
                           axis=-1)
  return z, log_prob


class _CouplingNetwork(tf.Module):
  """One coupling's shift and log-scale: `(z_a [N, 1, 1, A], c [N, M]) -> [N, 1, 1, 2 (L - A)]`.

      h   = relu(W_0 [z_a, c] + b_0),  h = relu(W_1 h + b_1),
      out = W_2 h + b_2,               W_2 = b_2 = 0 at initialization,

  interleaved as `bijectors.AffineCoupling` reads it: shift `out[..., 0::2]`,
  log-scale `out[..., 1::2]`. The zero output layer makes the coupling the
  identity at initialization.
  """

  def __init__(self, num_masked, num_transformed, context_dim, width, seed,
               dtype, name):
    super().__init__(name=name)
    self._num_masked = num_masked
    self._num_out = 2 * num_transformed
    fold = tf.random.experimental.stateless_fold_in
    with self.name_scope:
      self.hidden_0 = dense.Dense(num_masked + context_dim, width,
                                  fold(seed, 0), dtype, name="hidden_0")
      self.hidden_1 = dense.Dense(width, width, fold(seed, 1), dtype,
                                  name="hidden_1")
      self.output = dense.Dense(width, self._num_out, None, dtype,
                                name="output")

  def __call__(self, z_a, context):
    h = tf.concat([tf.reshape(z_a, [-1, self._num_masked]), context], axis=-1)
    h = tf.nn.relu(self.hidden_0(h))
    h = tf.nn.relu(self.hidden_1(h))
    return tf.reshape(self.output(h), [-1, 1, 1, self._num_out])


class FlowPosterior(tf.Module):
  """q(z | x): the encoder's Gaussian through `T` affine couplings conditioned on x.

  Sampling direction, with `z_0 = mu + sigma * eps` viewed as a `[1, 1, L]`
  NHWC event (so `bijectors.AffineCoupling` applies unchanged) and the
  context `c = relu(W_c features + b_c)` (`[B, M]`, `M = width`):

      z = f_x(z_0):  C_1, R, C_2, R, ..., C_T  (then one more R if T - 1 is odd)

  `C_t` the coupling `y_b = y_b' * exp(s_t) + t_t`, `y_a = y_a'` with `(t_t,
  s_t) = net_t(y_a', c)` (`_CouplingNetwork`, `A = L // 2` passed through,
  `L - A` transformed; `scale="exp"`, so `exp(0) = 1` and a zero network is
  the identity); `R` the reversal of the `L` coordinates
  (`bijectors.ChannelPermute.reverse`), which alternates which half each
  coupling transforms (RealNVP's alternating masks). An even number of
  reversals makes the total permutation the identity: with every coupling
  at its zero initialization `z = z_0` exactly, i.e. q is the Gaussian
  posterior, and z's coordinates keep the meaning the decoder gives them.

      log q(z | x) = log N(z_0; mu, diag sigma^2) - sum_t sum(s_t).

  Only the forward (sampling) direction is needed: the ELBO and the IWAE
  weights take `z` and `log q(z | x)` of the same draw. `bijector(c)` gives
  the flow as a `tfb.Chain` (with its inverse) for other uses.

  Args:
    latent_dim: Python `int`, `L >= 2`.
    features_dim: Python `int`, size of the encoder features the context is
      computed from.
    num_steps: Python `int`, `T >= 1` couplings.
    width: Python `int`, the context size `M` and the networks' hidden width.
    seed: stateless seed `[2]` of the initial weights.
    dtype: the variables' dtype. Default value: `tf.float32`.
    name: Python `str`. Default value: `"posterior_flow"`.
  """

  def __init__(self, latent_dim, features_dim, num_steps, width, seed,
               dtype=tf.float32, name="posterior_flow"):
    super().__init__(name=name)
    if latent_dim < 2:
      raise ValueError(f"FlowPosterior couples halves of z and needs "
                       f"latent_dim >= 2; got {latent_dim}.")
    self._latent_dim = int(latent_dim)
    self._num_masked = self._latent_dim // 2
    self._width = int(width)
    self._dtype = tf.as_dtype(dtype)
    fold = tf.random.experimental.stateless_fold_in
    with self.name_scope:
      self.context = dense.Dense(features_dim, width, fold(seed, 0),
                                 self._dtype, name="context")
      self.networks = [
          _CouplingNetwork(self._num_masked, latent_dim - self._num_masked,
                           width, width, fold(seed, t + 1), self._dtype,
                           name=f"coupling_{t}")
          for t in range(num_steps)]
      self.reverse = bijectors.ChannelPermute.reverse(latent_dim)

  @property
  def num_steps(self):
    return len(self.networks)

  def contexts(self, features):
    """`c = relu(W_c features + b_c)`: `[B, features_dim] -> [B, M]`."""
    return tf.nn.relu(self.context(features))

  def bijector(self, context):
    """The flow `f_x` as a `tfb.Chain` on events `[N, 1, 1, L]`, for contexts `[N, M]`.

    Its `forward` is the sampling direction `z_0 -> z`; row `n` of the
    events is transformed with `context[n]`. The couplings are built for
    this context (they hold no variables: the networks' are this module's).
    """
    steps = []
    for t, network in enumerate(self.networks):
      if t:
        steps.append(self.reverse)
      steps.append(bijectors.AffineCoupling(
          self._latent_dim, scale="exp",
          shift_and_log_scale_fn=functools.partial(network, context=context),
          num_masked=self._num_masked, dtype=self._dtype,
          name=f"coupling_{t}"))
    if (self.num_steps - 1) % 2:
      steps.append(self.reverse)
    return tfb.Chain(steps[::-1], name="posterior_flow")  # Chain applies last first

  def __call__(self, loc, log_scale, features, eps):
    """`z ~ q(z | x)` and `log q(z | x)` of the draws `eps`.

    Args:
      loc: `mu`, `[B, L]`.
      log_scale: `log sigma`, `[B, L]`.
      features: the encoder's features `[B, features_dim]`.
      eps: standard normals `[S, B, L]`.

    Returns:
      `(z [S, B, L], log_prob [S, B])`, `log_prob = log N(z_0; mu, diag
      sigma^2) - log|det dz / dz_0|` (exact).
    """
    z_0, base_log_prob = gaussian_sample(loc, log_scale, eps)
    shape = tf.shape(eps)
    context = self.contexts(features)
    context = tf.reshape(tf.broadcast_to(
        context, tf.concat([shape[:1], tf.shape(context)], 0)),
                         [-1, self._width])                       # [S B, M]
    flow = self.bijector(context)
    events = tf.reshape(z_0, [-1, 1, 1, self._latent_dim])       # [S B, 1, 1, L]
    z = flow.forward(events)
    log_det = flow.forward_log_det_jacobian(events, event_ndims=3)
    return (tf.reshape(z, shape),
            base_log_prob - tf.reshape(log_det, shape[:-1]))
