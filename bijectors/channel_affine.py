"""Per-channel affine bijector with trainable location and log-scale."""

import tensorflow.compat.v2 as tf

from bijectors import _checks
from bijectors import _shapes
from bijectors import fused_bijector

__all__ = ["ChannelAffine"]


class ChannelAffine(_checks.ChannelChecks, fused_bijector.FusedBijector):
  """Per-channel `y = (x - loc) * exp(-log_scale)` on NHWC events.

  Forward is the normalizing direction (data -> latent). With `x` of shape
  `[..., H, W, C]`, `loc` and `log_scale` of shape `[C]`:

    forward:  y = (x - loc) * exp(-log_scale)
    inverse:  x = y * exp(log_scale) + loc
    fldj(x) = -H * W * sum_c log_scale[c]          (shape: batch shape of x)

  An event with another channel count than `C` (known statically) raises
  `ValueError` when the call is traced; under `validate_args`, unknown
  channel counts are asserted at run time.

  Both parameters start at zero (the identity). Used as Glow's learned top
  prior (`learn_top` in openai/glow: a per-channel Gaussian with mean `loc` and
  standard deviation `exp(log_scale)` is the density of `x` when `y` is
  standard normal) and as the base of `ActNorm`.

  Args:
    num_channels: Python `int`, `C`.
    dtype: dtype of the variables and of the events. Default value: `float32`.
    validate_args: Python `bool`. Default value: `False`.
    name: Python `str`. Default value: `"channel_affine"`.
  """

  # How replicas' assignments combine under a `tf.distribute` strategy.
  _AGGREGATION = tf.VariableAggregation.NONE

  def __init__(self, num_channels, dtype=tf.float32, validate_args=False,
               name="channel_affine"):
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._num_channels = int(num_channels)
      self._loc = tf.Variable(tf.zeros([num_channels], dtype), name="loc",
                              aggregation=self._AGGREGATION)
      self._log_scale = tf.Variable(
          tf.zeros([num_channels], dtype), name="log_scale",
          aggregation=self._AGGREGATION)
      super().__init__(
          forward_min_event_ndims=3,
          is_constant_jacobian=True,
          validate_args=validate_args,
          dtype=dtype,
          parameters=parameters,
          name=name)

  @property
  def num_channels(self):
    return self._num_channels

  @property
  def loc(self):
    return self._loc

  @property
  def log_scale(self):
    return self._log_scale


  def _loc_and_log_scale(self, x):
    """Hook for `ActNorm`'s data-dependent initialization. Returns `[C]`, `[C]`."""
    del x
    return tf.convert_to_tensor(self._loc), tf.convert_to_tensor(self._log_scale)

  def _log_det(self, x, log_scale):
    """`-H*W*sum(log_scale)` broadcast to the batch shape of `x`."""
    ldj = -_shapes.num_spatial_positions(x) * tf.reduce_sum(log_scale)
    return tf.fill(tf.shape(x)[:-3], ldj)

  def _forward_and_log_det(self, x):
    loc, log_scale = self._loc_and_log_scale(x)
    return (x - loc) * tf.exp(-log_scale), self._log_det(x, log_scale)

  def _inverse_and_log_det(self, y):
    loc = tf.convert_to_tensor(self._loc)
    log_scale = tf.convert_to_tensor(self._log_scale)
    return y * tf.exp(log_scale) + loc, -self._log_det(y, log_scale)
