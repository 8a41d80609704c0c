"""A RealNVP on vectors, built from our NHWC bijectors, and its log-likelihood terms.

A vector `x` of shape `[N, D]` is viewed as an NHWC event `[N, 1, 1, D]`
(`to_events`), so `bijectors.AffineCoupling` and `bijectors.ChannelPermute`
apply unchanged. The flow (forward = data -> latent) is

  f = coupling_K o reverse o ... o reverse o coupling_1,

each coupling `y_a = x_a`, `y_b = x_b * scale(s) + t` with `(t, s) = MLP(x_a)`
on `x_a = x[..., :D/2]`, and `reverse` the channel reversal of RealNVP, so
that consecutive couplings transform the two halves in turn.
"""

import numpy as np
import tensorflow.compat.v2 as tf
import tensorflow_probability as tfp

import bijectors
from glow_ood.configs.two_moons import SCALES

tfb = tfp.bijectors

__all__ = ["CouplingMLP", "build_realnvp", "to_events", "from_events",
           "log_likelihood_terms", "jacobian_spectral_norms"]


class CouplingMLP(tf.Module):
  """`h = W_out relu(... relu(W_1 x + b_1) ...) + b_out`, on the channels of NHWC.

  Maps `[N, H, W, C_in]` to `[N, H, W, C_out]` (dense over the last axis).
  Hidden kernels are He-normal (`N(0, 2 / fan_in)`), biases zero; the output
  layer is zero, so a coupling layer using this network starts as the
  identity. With `max_log_scale = c`, the log-scale channels `h[..., 1::2]`
  (`AffineCoupling`'s interleaving) become `c * tanh(h / c)`: `|s| < c`, the
  tanh bound of RealNVP's scale (Dinh et al. 2017, Sec. 4.1), which keeps
  `exp(s)` finite; the shift channels `h[..., 0::2]` are left as they are.

  Args:
    in_features: Python `int`, `C_in`.
    out_features: Python `int`, `C_out`.
    hidden_width: Python `int`. Default value: `64`.
    num_hidden_layers: Python `int >= 1`. Default value: `2`.
    max_log_scale: Python `float > 0` or `None`. Default value: `None` (no
      bound).
    seed: Python `int`, for the hidden kernels. Default value: `0`.
    dtype: Default value: `float32`.
    name: Python `str`. Default value: `"coupling_mlp"`.
  """

  def __init__(self, in_features, out_features, hidden_width=64,
               num_hidden_layers=2, max_log_scale=None, seed=0,
               dtype=tf.float32, name="coupling_mlp"):
    super().__init__(name=name)
    if num_hidden_layers < 1:
      raise ValueError(f"num_hidden_layers must be >= 1; got "
                       f"{num_hidden_layers}.")
    if max_log_scale is not None and not max_log_scale > 0:
      raise ValueError(f"max_log_scale must be > 0 or None; got "
                       f"{max_log_scale}.")
    if max_log_scale is not None and out_features % 2:
      raise ValueError(
          f"max_log_scale needs interleaved (shift, log-scale) outputs, an "
          f"even out_features; got {out_features}.")
    self.out_features = int(out_features)
    self.max_log_scale = max_log_scale
    widths = [int(in_features)] + [int(hidden_width)] * int(num_hidden_layers)
    with self.name_scope:
      self.kernels, self.biases = [], []
      for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        self.kernels.append(tf.Variable(
            tf.random.stateless_normal(
                [fan_in, fan_out], seed=[seed, i], dtype=dtype,
                stddev=np.sqrt(2. / fan_in)),
            name=f"kernel{i}"))
        self.biases.append(tf.Variable(tf.zeros([fan_out], dtype),
                                       name=f"bias{i}"))
      self.output_kernel = tf.Variable(
          tf.zeros([widths[-1], self.out_features], dtype), name="output_kernel")
      self.output_bias = tf.Variable(tf.zeros([self.out_features], dtype),
                                     name="output_bias")

  def __call__(self, x):
    h = tf.reshape(x, [-1, x.shape[-1]])  # [N H W, C_in]
    for kernel, bias in zip(self.kernels, self.biases):
      h = tf.nn.relu(tf.matmul(h, kernel) + bias)
    h = tf.matmul(h, self.output_kernel) + self.output_bias  # [N H W, C_out]
    if self.max_log_scale is not None:
      c = tf.cast(self.max_log_scale, h.dtype)
      is_log_scale = tf.range(self.out_features) % 2 == 1
      h = tf.where(is_log_scale, c * tf.tanh(h / c), h)
    return tf.reshape(h, tf.concat([tf.shape(x)[:-1], [self.out_features]], 0))


def build_realnvp(num_dims, scale="exp", num_couplings=4, hidden_width=64,
                  num_hidden_layers=2, max_log_scale=3., seed=0):
  """The vector RealNVP `f: [N, 1, 1, D] -> [N, 1, 1, D]` as a `tfb.Chain`.

  `num_couplings` `AffineCoupling` layers (each with a `CouplingMLP` from
  `D/2` to `2 * D/2` features, the interleaved shift and log-scale
  pre-activations), with `ChannelPermute.reverse(D)` between consecutive
  couplings. Log-det of the whole flow: the sum of the couplings' `sum(s)`
  (`"exp"`) or `sum(log sigmoid(s + 2)) <= 0` (`"sigmoid"`); the permutations
  add 0.

  For `"exp"` the log-scales are bounded, `|s| < max_log_scale`
  (`CouplingMLP`): without a bound, training on copied moons (where the
  likelihood is unbounded) reached an infinite loss within 1000 Adam steps at
  `D = 20`. `"sigmoid"` needs none (its scale is in `(0, 1)`), and a bound
  would cap `sigmoid(s + 2)` away from 1, pushing the log-det down
  artificially; it is not applied.

  Args:
    num_dims: Python `int`, `D >= 2`.
    scale: `"exp"` or `"sigmoid"` (see `bijectors.AffineCoupling`).
      Default value: `"exp"`.
    num_couplings: Python `int >= 1`. Default value: `4`.
    hidden_width: Python `int`. Default value: `64`.
    num_hidden_layers: Python `int`. Default value: `2`.
    max_log_scale: Python `float` or `None`, the `"exp"` log-scale bound.
      Default value: `3.` (a factor of at most `e^3 ~ 20` per coupling).
    seed: Python `int`; coupling `k` uses `seed + k`. Default value: `0`.

  Returns:
    `tfb.Chain`, forward = data -> latent, event rank 3.
  """
  if scale not in SCALES:
    raise ValueError(f"Unknown coupling scale {scale!r}; choose one of "
                     f"{SCALES}.")
  if num_dims < 2:
    raise ValueError(f"num_dims must be >= 2 for a coupling layer; got "
                     f"{num_dims}.")
  if num_couplings < 1:
    raise ValueError(f"num_couplings must be >= 1; got {num_couplings}.")
  num_masked = num_dims // 2
  num_transformed = num_dims - num_masked
  layers = []  # in application order (data -> latent)
  for k in range(num_couplings):
    if k:
      layers.append(bijectors.ChannelPermute.reverse(num_dims))
    net = CouplingMLP(num_masked, 2 * num_transformed, hidden_width=hidden_width,
                      num_hidden_layers=num_hidden_layers,
                      max_log_scale=max_log_scale if scale == "exp" else None,
                      seed=seed + k, name=f"coupling_mlp_{k}")
    layers.append(bijectors.AffineCoupling(
        num_dims, scale=scale, shift_and_log_scale_fn=net,
        num_masked=num_masked, name=f"affine_coupling_{k}"))
  return tfb.Chain(layers[::-1], name=f"realnvp_{scale}")


def to_events(x):
  """`[N, D]` vectors as `[N, 1, 1, D]` NHWC events."""
  x = tf.convert_to_tensor(x)
  return x[:, tf.newaxis, tf.newaxis, :]


def from_events(z):
  """`[N, 1, 1, D]` events back to `[N, D]` vectors."""
  return tf.reshape(z, [tf.shape(z)[0], z.shape[-1]])


def log_likelihood_terms(flow, x):
  """The two change-of-variables terms of `log p(x)`, per example.

    log p(x) = log N(f(x); 0, I_D) + log|det df/dx|,
    log N(z; 0, I_D) = -|z|^2 / 2 - D/2 log(2 pi).

  Args:
    flow: bijector on `[N, 1, 1, D]` events, e.g. `build_realnvp(...)`.
    x: `[N, D]` float tensor.

  Returns:
    `(log_prob_z, log_det)`, both `[N]`.
  """
  events = to_events(x)
  z = from_events(flow.forward(events))  # [N, D]
  log_det = flow.forward_log_det_jacobian(events, event_ndims=3)  # [N]
  num_dims = tf.cast(tf.shape(z)[-1], z.dtype)
  log_prob_z = (-0.5 * tf.reduce_sum(tf.square(z), axis=-1)
                - 0.5 * num_dims * tf.cast(np.log(2. * np.pi), z.dtype))
  log_det = tf.broadcast_to(log_det, tf.shape(log_prob_z))
  return log_prob_z, log_det


def jacobian_spectral_norms(flow, x, batch_size=256):
  """Largest singular value of `df/dx` at each row of `x`: `[N]`.

  `J(x) = df/dx` (`[D, D]`) by `tf.GradientTape.batch_jacobian`, then
  `sigma_max(J(x))` by `tf.linalg.svd`. Since `|det J| = prod_i sigma_i(J)
  <= sigma_max(J)^D`, every point satisfies `log|det J(x)| <= D log
  sigma_max(J(x))`; the maximum over points is an empirical (lower) estimate
  of the Lipschitz constant `L = sup_x sigma_max(J(x))` of Eq. 8.

  Args:
    flow: bijector on `[N, 1, 1, D]` events.
    x: `[N, D]` float array.
    batch_size: Python `int`, rows per Jacobian call (memory: `B * D^2`).
      Default value: `256`.

  Returns:
    `[N]` numpy array.
  """
  x = np.asarray(x, np.float32)
  if x.ndim != 2:
    raise ValueError(f"x must have shape [N, D]; got {x.shape}.")

  @tf.function(input_signature=[tf.TensorSpec([None, x.shape[1]], x.dtype)])
  def spectral_norms(x_batch):
    with tf.GradientTape() as tape:
      tape.watch(x_batch)
      z = from_events(flow.forward(to_events(x_batch)))
    jacobian = tape.batch_jacobian(z, x_batch)  # [B, D, D]
    return tf.linalg.svd(jacobian, compute_uv=False)[:, 0]  # descending

  return np.concatenate([
      spectral_norms(tf.constant(x[start:start + batch_size])).numpy()
      for start in range(0, len(x), batch_size)])
