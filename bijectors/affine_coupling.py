"""Glow / RealNVP / NICE coupling layer on the channels of NHWC events."""

import tensorflow.compat.v2 as tf

from bijectors import _checks
from bijectors import _shapes
from bijectors import coupling_network
from bijectors import fused_bijector

__all__ = ["AffineCoupling", "SCALES"]

SCALES = ("exp", "sigmoid", "additive")


class AffineCoupling(_checks.ChannelChecks, fused_bijector.FusedBijector):
  """Coupling layer: `y_a = x_a`, `y_b = x_b * scale(x_a) + t(x_a)`.

  Forward is the normalizing direction (data -> latent). The channels of
  `x` (`[..., H, W, C]`) split into `x_a = x[..., :num_masked]` (passed
  through) and `x_b = x[..., num_masked:]` (transformed), and the network
  maps `x_a` to `h` of shape `[..., H, W, n_out]`:

  | `scale`      | `n_out`  | forward `y_b`                  | fldj(x)                       |
  |--------------|----------|--------------------------------|-------------------------------|
  | `"exp"`      | `2 C_b`  | `x_b * exp(s) + t`             | `sum(s)`                      |
  | `"sigmoid"`  | `2 C_b`  | `x_b * sigmoid(s + 2) + t`     | `sum(log sigmoid(s + 2)) <= 0`|
  | `"additive"` | `C_b`    | `x_b + t`                      | `0` (NICE, constant volume)   |

  with `t = h[..., 0::2]`, `s = h[..., 1::2]` for the affine scales (openai/glow's
  interleaving) and `t = h` for the additive one; `C_b = C - num_masked`, sums
  over the `H * W * C_b` transformed dimensions. `"sigmoid"` is what
  openai/glow's code uses ("affine" coupling there); `"exp"` is what the Glow
  paper writes. The inverse is `x_b = (y_b - t) / scale`.

  An event with another channel count than `C` (known statically) raises
  `ValueError` when the call is traced; under `validate_args`, unknown
  channel counts are asserted at run time.

  Args:
    num_channels: Python `int`, `C`.
    scale: one of `"exp"`, `"sigmoid"`, `"additive"`. Default value: `"sigmoid"`.
    shift_and_log_scale_fn: callable `x_a [N, H, W, C_a] -> h [N, H, W, n_out]`.
      A `tf.Module` (or tf-keras layer) has its variables tracked by this
      bijector. Default value: `None`, openai/glow's `GlowCouplingNetwork`
      with `hidden_width` channels (its output is zero at initialization, so
      the layer starts as the identity).
    hidden_width: Python `int`, width of the default network.
      Default value: `512`.
    num_masked: Python `int`, `C_a`. Default value: `C // 2`.
    seed: Python `int` or `None`, for the default network's initial kernels.
    dtype: Default value: `float32`.
    compute_dtype: dtype of the default network's convolutions (mixed
      precision, e.g. `tf.bfloat16`); the coupling's own arithmetic and
      log-det stay in `dtype`. Default value: `None` (`dtype`).
    recompute: Python `bool`, recompute the default network's activations in
      the backward pass instead of keeping them (gradient checkpointing).
      Default value: `False`.
    edge_padding: Python `bool`, the default network's 3x3 convolutions also
      see openai/glow's pad channel (1 on the zero-padded border, 0 on the
      image; see `GlowCouplingNetwork`). Default value: `False`.
    validate_args: Python `bool`. Default value: `False`.
    name: Python `str`. Default value: `"affine_coupling"`.

  #### References
  [1]: Dinh, Krueger & Bengio. NICE. ICLR 2015 workshop. https://arxiv.org/abs/1410.8516
  [2]: Dinh, Sohl-Dickstein & Bengio. Density estimation using Real NVP.
       ICLR 2017. https://arxiv.org/abs/1605.08803
  [3]: Kingma & Dhariwal. Glow. NeurIPS 2018. https://arxiv.org/abs/1807.03039
  """

  def __init__(self, num_channels, scale="sigmoid", shift_and_log_scale_fn=None,
               hidden_width=512, num_masked=None, seed=None, dtype=tf.float32,
               compute_dtype=None, recompute=False, edge_padding=False,
               validate_args=False, name="affine_coupling"):
    parameters = dict(locals())
    if scale not in SCALES:
      raise ValueError(
          f"Unknown coupling scale {scale!r}; choose one of {SCALES}.")
    num_channels = int(num_channels)
    num_masked = num_channels // 2 if num_masked is None else int(num_masked)
    if not 0 < num_masked < num_channels:
      raise ValueError(
          f"num_masked must be in [1, {num_channels - 1}] for {num_channels} "
          f"channels; got {num_masked}. Coupling needs at least 2 channels: "
          "squeeze the input first.")
    _reject_keras3(shift_and_log_scale_fn)
    with tf.name_scope(name) as name:
      self._num_channels = num_channels
      self._num_masked = num_masked
      self._scale = scale
      num_out = self.num_transformed * (1 if scale == "additive" else 2)
      if shift_and_log_scale_fn is None:
        shift_and_log_scale_fn = coupling_network.GlowCouplingNetwork(
            num_masked, num_out, hidden_width=hidden_width, seed=seed,
            dtype=dtype, compute_dtype=compute_dtype, recompute=recompute,
            edge_padding=edge_padding)
      self._num_out = num_out
      self._shift_and_log_scale_fn = shift_and_log_scale_fn
      super().__init__(
          forward_min_event_ndims=3,
          is_constant_jacobian=False,
          validate_args=validate_args,
          dtype=dtype,
          parameters=parameters,
          name=name)

  @property
  def num_channels(self):
    return self._num_channels

  @property
  def scale(self):
    return self._scale

  @property
  def num_masked(self):
    return self._num_masked

  @property
  def num_transformed(self):
    return self._num_channels - self._num_masked

  @property
  def shift_and_log_scale_fn(self):
    return self._shift_and_log_scale_fn


  def _shift_and_scale_terms(self, x_a):
    """Returns `(t, s)` for `x_a` (`[..., H, W, C_a]`); `s` is `None` if additive.

    A network with a `split_outputs(x, num_parts)` method (ours) returns the
    interleaved shift and log-scale channels as two contiguous tensors, which
    saves two strided copies (and their gradients) per call.
    """
    images, batch_shape = _shapes.as_image_batch(x_a)
    split = getattr(self._shift_and_log_scale_fn, "split_outputs", None)
    if split is not None and self._scale != "additive":
      parts = split(images, 2)
      self._check_network_output(sum(p.shape[-1] or 0 for p in parts)
                                 if all(p.shape[-1] is not None for p in parts)
                                 else None)
      return tuple(_shapes.restore_batch(p, batch_shape, x_a.shape)
                   for p in parts)
    h = self._shift_and_log_scale_fn(images)
    self._check_network_output(h.shape[-1])
    h = _shapes.restore_batch(h, batch_shape, x_a.shape)
    if self._scale == "additive":
      return h, None
    return h[..., 0::2], h[..., 1::2]

  def _check_network_output(self, channels):
    if channels is not None and channels != self._num_out:
      raise ValueError(
          f"The coupling network returned {channels} channels; the "
          f"{self._scale!r} coupling of {self._num_channels} channels needs "
          f"{self._num_out} (shift{'' if self._scale == 'additive' else ' and log-scale'}"
          f" for {self.num_transformed} channels).")

  def _log_scale(self, s):
    if self._scale == "exp":
      return s
    return tf.math.log_sigmoid(s + 2.)

  def _forward_and_log_det(self, x):
    x_a, x_b = _shapes.split_channels(x, self._num_masked)
    shift, s = self._shift_and_scale_terms(x_a)
    if s is None:
      return (tf.concat([x_a, x_b + shift], axis=-1),
              tf.zeros(tf.shape(x)[:-3], x.dtype))
    log_scale = self._log_scale(s)
    y_b = x_b * tf.exp(log_scale) + shift
    return (tf.concat([x_a, y_b], axis=-1),
            tf.reduce_sum(log_scale, axis=[-3, -2, -1]))

  def _inverse_and_log_det(self, y):
    y_a, y_b = _shapes.split_channels(y, self._num_masked)
    shift, s = self._shift_and_scale_terms(y_a)
    if s is None:
      return (tf.concat([y_a, y_b - shift], axis=-1),
              tf.zeros(tf.shape(y)[:-3], y.dtype))
    log_scale = self._log_scale(s)
    x_b = (y_b - shift) * tf.exp(-log_scale)
    return (tf.concat([y_a, x_b], axis=-1),
            -tf.reduce_sum(log_scale, axis=[-3, -2, -1]))


def _reject_keras3(fn):
  """Keras-3 layers inside a `tf.Module` are invisible to `trainable_variables`."""
  # Check the whole MRO: a user's subclass of a Keras-3 layer lives in the
  # user's module.
  modules = [cls.__module__ or "" for cls in type(fn).__mro__]
  if any(m == "keras" or m.startswith("keras.") for m in modules):
    raise TypeError(
        "shift_and_log_scale_fn is a Keras 3 object; its variables would not "
        "be tracked by this bijector and would never train. Build it with "
        "tf_keras (set TF_USE_LEGACY_KERAS=1 before importing TensorFlow) or "
        "as a tf.Module.")
