"""openai/glow's learned conditional Gaussian prior for factored-out channels."""

import tensorflow.compat.v2 as tf

from bijectors import _checks
from bijectors import _shapes
from bijectors import coupling_network
from bijectors import fused_bijector

__all__ = ["SplitPrior"]


class SplitPrior(_checks.ChannelChecks, fused_bijector.FusedBijector):
  """Standardizes the channels a multi-scale flow factors out, given the kept ones.

  Forward is the normalizing direction. With `x` of shape `[..., H, W, C]`,
  `x_a = x[..., :num_kept]` (kept, passed through) and `x_b` the rest
  (factored out), a zero-initialized 3x3 convolution of `x_a` gives the mean
  `mu = h[..., 0::2]` and log standard deviation `log_sigma = h[..., 1::2]` of
  a diagonal Gaussian prior on `x_b` (openai/glow's `split2d_prior`):

    forward:  y = concat(x_a, (x_b - mu(x_a)) * exp(-log_sigma(x_a)))
    inverse:  x = concat(y_a, y_b * exp(log_sigma(y_a)) + mu(y_a))
    fldj(x) = -sum(log_sigma(x_a))

  If `y_b` is standard normal, `x_b` has density
  `N(x_b; mu, sigma^2) = N(y_b; 0, 1) * exp(fldj)`. So `fldj` is part of the
  prior's log-density `log p(z)`, not of the flow's volume term: a
  `MultiScaleFlow` reports it with the latent terms. At initialization the
  prior is a standard normal (`mu = 0`, `sigma = 1`).

  An event with another channel count than `C` (known statically) raises
  `ValueError` when the call is traced; under `validate_args`, unknown
  channel counts are asserted at run time.

  Args:
    num_channels: Python `int`, `C`.
    num_kept: Python `int`. Default value: `C // 2` (openai/glow).
    dtype: Default value: `float32`.
    validate_args: Python `bool`. Default value: `False`.
    name: Python `str`. Default value: `"split_prior"`.
  """

  def __init__(self, num_channels, num_kept=None, dtype=tf.float32,
               validate_args=False, name="split_prior"):
    parameters = dict(locals())
    num_channels = int(num_channels)
    num_kept = num_channels // 2 if num_kept is None else int(num_kept)
    if not 0 < num_kept < num_channels:
      raise ValueError(
          f"num_kept must be in [1, {num_channels - 1}] for {num_channels} "
          f"channels; got {num_kept}.")
    with tf.name_scope(name) as name:
      self._num_channels = num_channels
      self._num_kept = num_kept
      self._network = coupling_network.ZeroInitConv2d(
          num_kept, 2 * (num_channels - num_kept), dtype=dtype, name="prior_conv")
      super().__init__(
          forward_min_event_ndims=3,
          validate_args=validate_args,
          dtype=dtype,
          parameters=parameters,
          name=name)


  @property
  def num_channels(self):
    return self._num_channels

  @property
  def num_kept(self):
    return self._num_kept

  def mean_and_log_scale(self, x_a):
    """`mu`, `log_sigma` (`[..., H, W, C - num_kept]`) of the prior given `x_a`."""
    images, batch_shape = _shapes.as_image_batch(x_a)
    mean, log_scale = self._network.split_outputs(images, 2)
    return (_shapes.restore_batch(mean, batch_shape, x_a.shape),
            _shapes.restore_batch(log_scale, batch_shape, x_a.shape))

  def _forward_and_log_det(self, x):
    x_a, x_b = _shapes.split_channels(x, self._num_kept)
    mean, log_scale = self.mean_and_log_scale(x_a)
    y_b = (x_b - mean) * tf.exp(-log_scale)
    return (tf.concat([x_a, y_b], axis=-1),
            -tf.reduce_sum(log_scale, axis=[-3, -2, -1]))

  def _inverse_and_log_det(self, y):
    y_a, y_b = _shapes.split_channels(y, self._num_kept)
    mean, log_scale = self.mean_and_log_scale(y_a)
    x_b = y_b * tf.exp(log_scale) + mean
    return (tf.concat([y_a, x_b], axis=-1),
            tf.reduce_sum(log_scale, axis=[-3, -2, -1]))
