"""`Dense`: the fully connected layer of the VAE and of its flow posterior."""

import math

import tensorflow.compat.v2 as tf

__all__ = ["Dense"]


class Dense(tf.Module):
  """`y = x @ kernel + bias`; `x [N, n_in] -> [N, n_out]`.

  The kernel is He-uniform, `U(-sqrt(6 / n_in), sqrt(6 / n_in))` drawn from
  the stateless `seed`, or zero (`seed=None`: a layer whose output is zero at
  initialization, e.g. the last layer of a coupling network, so that the
  coupling starts as the identity). The bias starts at zero.

  Args:
    n_in: Python `int`, input features.
    n_out: Python `int`, output features.
    seed: stateless seed `[2]` of the kernel, or `None` for a zero kernel.
    dtype: the variables' dtype.
    name: Python `str`, the module's name (its variables' scope).
  """

  def __init__(self, n_in, n_out, seed, dtype, name):
    super().__init__(name=name)
    limit = math.sqrt(6. / n_in)
    with self.name_scope:
      if seed is None:
        kernel = tf.zeros([n_in, n_out], dtype)
      else:
        kernel = tf.random.stateless_uniform(
            [n_in, n_out], seed=seed, minval=-limit, maxval=limit, dtype=dtype)
      self.kernel = tf.Variable(kernel, name="kernel")
      self.bias = tf.Variable(tf.zeros([n_out], dtype), name="bias")

  def __call__(self, x):
    return tf.matmul(x, self.kernel) + self.bias
