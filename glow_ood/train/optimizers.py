"""Adamax (openai/glow's default) and Adam as plain `tf.Module`s.

Written out rather than taken from Keras so that an update can be computed,
checked for finiteness and then applied or skipped as a whole, in
cross-replica context under any `tf.distribute` strategy. Slots are created at
construction, so build the optimizer inside `strategy.scope()`.
"""

import tensorflow.compat.v2 as tf

from glow_ood.configs.train import OPTIMIZERS

__all__ = ["Adamax", "Adam", "OPTIMIZERS", "make_optimizer"]

class _Optimizer(tf.Module):
  """Shared state: the variables, their first moments and the update count."""

  def __init__(self, variables, beta_1, beta_2, epsilon, name):
    super().__init__(name=name)
    self._variables = list(variables)
    self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
    with self.name_scope:
      self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False,
                                    name="iterations")
      self.first_moments = [
          tf.Variable(tf.zeros_like(v), trainable=False, name="m")
          for v in self._variables]
      self.second_moments = [
          tf.Variable(tf.zeros_like(v), trainable=False, name="v")
          for v in self._variables]

  def _new_second_moments(self, grads):
    """List of the new second moments (Adamax: infinity norm; Adam: squares)."""
    raise NotImplementedError

  def _direction(self, m, v, t):
    """The update direction for one variable (multiplied by -lr)."""
    raise NotImplementedError

  def updates(self, grads, learning_rate):
    """The update as values, not yet applied.

    Args:
      grads: list of gradients, one per variable (same order, same shapes).
      learning_rate: scalar.

    Returns:
      `(new_variables, new_first_moments, new_second_moments)`: lists of
      `Tensor`s, what `assign` would write.
    """
    if len(grads) != len(self._variables):
      raise ValueError(f"{len(grads)} gradients for {len(self._variables)} "
                       "variables.")
    t = tf.cast(self.iterations + 1, tf.float32)
    new_m = [self.beta_1 * m + (1. - self.beta_1) * g
             for m, g in zip(self.first_moments, grads)]
    new_v = self._new_second_moments(grads)
    new_vars = [
        var - tf.cast(learning_rate, var.dtype) * self._direction(m, v, t)
        for var, m, v in zip(self._variables, new_m, new_v)]
    return new_vars, new_m, new_v

  def assign(self, new_variables, new_first, new_second):
    """Assigns values returned by `updates` and counts the iteration."""
    ops = [self.iterations.assign_add(1)]
    for var, value in zip(self._variables, new_variables):
      ops.append(var.assign(value))
    for slot, value in zip(self.first_moments, new_first):
      ops.append(slot.assign(value))
    for slot, value in zip(self.second_moments, new_second):
      ops.append(slot.assign(value))
    return tf.group(ops)


class Adamax(_Optimizer):
  """Adamax (Kingma & Ba 2015, Sec. 7.1), the optimizer of openai/glow.

    m_t = b1 m + (1 - b1) g;  u_t = max(b2 u, |g|)
    w  <- w - lr / (1 - b1^t) * m_t / (u_t + eps)
  """

  def __init__(self, variables, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
               name="adamax"):
    super().__init__(variables, beta_1, beta_2, epsilon, name)

  def _new_second_moments(self, grads):
    return [tf.maximum(self.beta_2 * u, tf.abs(g))
            for u, g in zip(self.second_moments, grads)]

  def _direction(self, m, u, t):
    return m / tf.cast(1. - self.beta_1 ** t, m.dtype) / (u + self.epsilon)


class Adam(_Optimizer):
  """Adam (Kingma & Ba 2015).

    m_t = b1 m + (1 - b1) g;  v_t = b2 v + (1 - b2) g^2
    w  <- w - lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m_t / (1 - b1^t),
                                                 v_hat = v_t / (1 - b2^t)
  """

  def __init__(self, variables, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
               name="adam"):
    super().__init__(variables, beta_1, beta_2, epsilon, name)

  def _new_second_moments(self, grads):
    return [self.beta_2 * v + (1. - self.beta_2) * tf.square(g)
            for v, g in zip(self.second_moments, grads)]

  def _direction(self, m, v, t):
    m_hat = m / tf.cast(1. - self.beta_1 ** t, m.dtype)
    v_hat = v / tf.cast(1. - self.beta_2 ** t, v.dtype)
    return m_hat / (tf.sqrt(v_hat) + self.epsilon)


def make_optimizer(name, variables, **kwargs):
  """`"adamax"` or `"adam"` over `variables` (build inside `strategy.scope()`)."""
  if name == "adamax":
    return Adamax(variables, **kwargs)
  if name == "adam":
    return Adam(variables, **kwargs)
  raise ValueError(f"Unknown optimizer {name!r}; choose one of {OPTIMIZERS}.")
