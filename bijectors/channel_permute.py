"""Fixed channel permutations: reverse (RealNVP) and random shuffle (Glow ablation)."""

import numpy as np
import tensorflow.compat.v2 as tf
import tensorflow_probability as tfp

from bijectors import _checks

tfb = tfp.bijectors

__all__ = ["ChannelPermute"]


class ChannelPermute(tfb.Bijector):
  """`y[..., c] = x[..., permutation[c]]` on NHWC events; volume-preserving.

  The permutation is stored in a non-trainable `tf.Variable`, so a checkpoint
  restores it even when the layer was built with another seed. Use the
  constructors `ChannelPermute.reverse(C)` (RealNVP's reversal) and
  `ChannelPermute.shuffle(C, seed)` (the fixed random shuffle of the Glow
  paper's ablation).

    fldj(x) = 0.

  An event with another channel count than `C = len(permutation)` (known
  statically) raises `ValueError` when the call is traced (a gather would
  silently drop or repeat channels); under `validate_args`, unknown channel
  counts are asserted at run time.

  Args:
    permutation: 1-D integer array-like, a permutation of `0..C-1`.
    validate_args: Python `bool`. Default value: `False`.
    name: Python `str`. Default value: `"channel_permute"`.
  """

  def __init__(self, permutation, validate_args=False, name="channel_permute"):
    parameters = dict(locals())
    permutation = np.asarray(permutation)
    if (permutation.ndim != 1 or
        sorted(permutation.tolist()) != list(range(permutation.size))):
      raise ValueError(
          f"`permutation` must be a permutation of 0..C-1; got {permutation}.")
    with tf.name_scope(name) as name:
      self._num_channels = int(permutation.size)
      self._permutation = tf.Variable(
          permutation.astype(np.int32), trainable=False, name="permutation")
      super().__init__(
          forward_min_event_ndims=3,
          is_constant_jacobian=True,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @classmethod
  def reverse(cls, num_channels, **kwargs):
    """Reverses the channel order."""
    return cls(np.arange(num_channels)[::-1], name="reverse", **kwargs)

  @classmethod
  def shuffle(cls, num_channels, seed=None, **kwargs):
    """A fixed random permutation drawn with `seed`."""
    permutation = np.random.default_rng(seed).permutation(num_channels)
    return cls(permutation, name="shuffle", **kwargs)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  def _get_parameterization(self):
    # The permutation lives in a variable (a checkpoint may overwrite it), so
    # equal constructor arguments do not make equal bijectors; TFP's cache
    # must not share results between two instances (see `FusedBijector`).
    return id(self)

  @property
  def permutation(self):
    return self._permutation

  @property
  def num_channels(self):
    return self._num_channels

  def _checked_event(self, x, name):
    return _checks.checked_channels(
        f"ChannelPermute {self.name!r}", x, self._num_channels,
        self.validate_args,
        fix="a permutation of {channels} channels (e.g. "
            "ChannelPermute.reverse({channels}))", name=name)

  def _forward(self, x):
    x = self._checked_event(x, "x")
    return tf.gather(x, self._permutation, axis=-1)

  def _inverse(self, y):
    y = self._checked_event(y, "y")
    return tf.gather(y, tf.math.invert_permutation(self._permutation), axis=-1)

  def _forward_log_det_jacobian(self, x):
    self._checked_event(x, "x")
    return tf.zeros([], dtype=x.dtype)
