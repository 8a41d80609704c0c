"""Activation normalization (Glow) with data-dependent initialization."""

import tensorflow.compat.v2 as tf

from bijectors import channel_affine

__all__ = ["ActNorm"]

# openai/glow divides by `std + 1e-6` when it initializes the scale.
_STD_EPSILON = 1e-6


class ActNorm(channel_affine.ChannelAffine):
  """Glow's ActNorm: per-channel `y = (x - loc) * exp(-log_scale)`, data-initialized.

  Forward is the normalizing direction (data -> latent). With `x` of shape
  `[..., H, W, C]`:

    forward:  y = (x - loc) * exp(-log_scale)
    inverse:  x = y * exp(log_scale) + loc
    fldj(x) = -H * W * sum_c log_scale[c]

  Data-dependent initialization [1]: the first `forward` call while
  `initialized` is `False` sets, per channel over the batch and spatial axes,

    loc = mean(x),   log_scale = log(std(x) + 1e-6),

  so that this first output has zero mean and unit variance per channel, and
  then sets `initialized` to `True`. `initialize(x)` does the same explicitly
  (and re-initializes an initialized layer). `initialized` is a non-trainable
  `tf.Variable`, so checkpoints carry it and a restored layer is not
  re-initialized. The check is a `tf.cond`, so it works under `tf.function`
  and XLA. `inverse` never initializes.

  The `tf.cond` is only traced while the layer is not yet initialized: a
  call traced (or run eagerly) when `initialized` already holds `True`
  reads `loc` and `log_scale` directly (`initialized_at_trace_time`), so a
  training step traced after the initialization holds no per-layer
  `tf.cond` and lets a coupling network fold the layer into the adjacent
  convolution. Such a function never re-initializes (call `initialize(x)`).

  Distributed training: call the first `forward` (or `initialize`) on one
  global batch in cross-replica context (under `strategy.scope()`, outside
  `strategy.run`), so that every replica holds the same values. Inside
  `strategy.run` (replica context) the layer never initializes: it uses its
  variables as they are. The variables use `ONLY_FIRST_REPLICA` aggregation,
  so a replica-context assignment copies the first replica's value.
  (Inside `strategy.run` every forward re-assigns the variables, unchanged
  once initialized: a cross-replica write cannot sit inside the `tf.cond`.)

  Args:
    num_channels: Python `int`, `C`.
    dtype: dtype of the variables and events. Default value: `float32`.
    validate_args: Python `bool`. Default value: `False`.
    name: Python `str`. Default value: `"act_norm"`.

  #### References
  [1]: Kingma & Dhariwal. Glow: Generative Flow with Invertible 1x1
       Convolutions. NeurIPS 2018. https://arxiv.org/abs/1807.03039
  """

  _AGGREGATION = tf.VariableAggregation.ONLY_FIRST_REPLICA

  def __init__(self, num_channels, dtype=tf.float32, validate_args=False,
               name="act_norm"):
    with tf.name_scope(name):
      self._initialized = tf.Variable(
          False, trainable=False, name="initialized",
          aggregation=self._AGGREGATION)
    super().__init__(num_channels, dtype=dtype, validate_args=validate_args,
                     name=name)

  @property
  def initialized(self):
    """Non-trainable boolean `tf.Variable`: has the layer seen data yet?"""
    return self._initialized

  def _data_statistics(self, x):
    """Per-channel `(mean, log(std + eps))` of `x` over all but the last axis."""
    x = tf.stop_gradient(tf.convert_to_tensor(x, self.dtype))
    axes = list(range(len(x.shape) - 1))
    mean, variance = tf.nn.moments(x, axes=axes)
    return mean, tf.math.log(tf.sqrt(variance) + _STD_EPSILON)

  def initialize(self, x):
    """Sets `loc` and `log_scale` from `x` (`[..., H, W, C]`) and marks the layer initialized.

    Returns:
      The op (in graph mode) or `None` (eager). Safe in cross-replica context.
    """
    x = self._checked_event(tf.convert_to_tensor(x, self.dtype))
    loc, log_scale = self._data_statistics(x)
    self._loc.assign(loc)
    self._log_scale.assign(log_scale)
    self._initialized.assign(True)

  @staticmethod
  def can_initialize_here():
    """`False` in replica context (inside `strategy.run`), where layers never initialize.

    Inside `strategy.run` each replica sees only its part of the batch, so an
    initialization there would differ per replica; and an assignment there is
    a cross-replica sync point, which `tf.cond` and nested `tf.function`s
    reject. Initialize in cross-replica context first.
    """
    return not (tf.distribute.has_strategy() and
                not tf.distribute.in_cross_replica_context())

  def initialized_at_trace_time(self):
    """`True` if `initialized` holds `True` now, read outside any graph being traced.

    Python `bool`. `False` when the value cannot be read eagerly (TF1 graph
    mode), so the caller keeps the `tf.cond`.
    """
    with tf.init_scope():
      if not tf.executing_eagerly():
        return False
      return bool(tf.convert_to_tensor(self._initialized).numpy())

  def uses_variables_as_they_are(self):
    """`True` where a forward pass never initializes: in replica context,
    or once the layer is initialized (see the class docstring)."""
    return (not self.can_initialize_here()) or self.initialized_at_trace_time()

  def _loc_and_log_scale(self, x):
    def use_variables():
      return tf.identity(self._loc), tf.identity(self._log_scale)

    if self.uses_variables_as_they_are():
      return use_variables()

    def initialize_from_x():
      loc, log_scale = self._data_statistics(x)
      with tf.control_dependencies([
          self._loc.assign(loc), self._log_scale.assign(log_scale),
          self._initialized.assign(True)]):
        return tf.identity(loc), tf.identity(log_scale)

    return tf.cond(self._initialized, use_variables, initialize_from_x)
