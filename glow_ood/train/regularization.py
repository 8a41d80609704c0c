"""The L2 penalty of `TrainConfig.l2_weight` (Ren et al.'s background models).

Ren et al. (2019) regularize the background model of their likelihood ratio
with an L2 penalty on its weights, `lambda * sum_w ||w||^2`, added to the loss
in nats per image (their `reg_weight`, swept over {0, 10, 100}). The trainer's
loss is in bits per dimension, so the same penalty enters it divided by
`D log 2` (`D = H * W * C`):

    loss = mean_batch bits/dim + lambda * sum_w ||w||^2 / (D log 2).

The weights `w` are the trainable variables of rank >= 2: convolution
kernels, dense weights and Glow's 1x1-convolution matrices. Biases, ActNorm
parameters and weight-norm gains (rank 1) are not penalized. Under weight
normalization the penalized kernel is the direction `v` of `w = g v / ||v||`.
"""

import math

import tensorflow.compat.v2 as tf

__all__ = ["penalized_variables", "l2_penalty_bits_per_dim"]


def penalized_variables(variables):
  """The variables of `variables` with rank >= 2, in order."""
  return [v for v in variables if v.shape.rank is not None and v.shape.rank >= 2]


def l2_penalty_bits_per_dim(variables, l2_weight, num_dims):
  """`l2_weight * sum ||w||^2 / (num_dims * log 2)` over `penalized_variables`.

  Args:
    variables: sequence of `tf.Variable` (e.g. `model.trainable_variables`).
    l2_weight: Python `float` `lambda >= 0`, per image in nats.
    num_dims: Python `int` `D`, the model's `H * W * C`.

  Returns:
    float32 scalar `Tensor` (0 when `l2_weight` is 0 or nothing is penalized).
  """
  if l2_weight < 0:
    raise ValueError(f"l2_weight must be >= 0; got {l2_weight}.")
  weights = penalized_variables(variables)
  if not l2_weight or not weights:
    return tf.constant(0., tf.float32)
  total = tf.add_n([tf.reduce_sum(tf.square(tf.cast(w, tf.float32)))
                    for w in weights])
  return tf.constant(l2_weight / (num_dims * math.log(2.)), tf.float32) * total
