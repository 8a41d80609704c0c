"""Polyak averaging of a model's weights: kept by training, read for evaluation."""

import contextlib

import tensorflow.compat.v2 as tf

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage(tf.Module):
  """`shadow <- decay * shadow + (1 - decay) * variable` after every update.

  openai/glow evaluates with Polyak-averaged weights. The shadows are
  variables of this module (checkpointed with it), created at construction as
  copies of `variables`: build it inside `strategy.scope()`, after the
  variables were initialized (it is re-synced after ActNorm's data-dependent
  initialization by `reset()`).

  Args:
    variables: the trainable variables to average.
    decay: Python `float` in (0, 1), e.g. 0.999.
  """

  def __init__(self, variables, decay, name="ema"):
    super().__init__(name=name)
    if not 0. < decay < 1.:
      raise ValueError(f"EMA decay must be in (0, 1); got {decay}.")
    self._variables = list(variables)
    self.decay = float(decay)
    with self.name_scope:
      self.shadows = [tf.Variable(v, trainable=False, name="shadow")
                      for v in self._variables]

  def reset(self):
    """Sets every shadow to its variable's current value."""
    return tf.group([s.assign(v) for s, v in zip(self.shadows, self._variables)])

  def update(self):
    return tf.group([
        s.assign(self.decay * s + (1. - self.decay) * tf.convert_to_tensor(v))
        for s, v in zip(self.shadows, self._variables)])

  @contextlib.contextmanager
  def averaged_weights(self):
    """Within the block the variables hold the averages (eager / cross-replica)."""
    backup = [tf.identity(v) for v in self._variables]
    for v, s in zip(self._variables, self.shadows):
      v.assign(s)
    try:
      yield
    finally:
      for v, b in zip(self._variables, backup):
        v.assign(b)
