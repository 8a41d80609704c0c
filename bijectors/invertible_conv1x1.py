"""Glow's invertible 1x1 convolution, plain or LU-decomposed."""

import numpy as np
import tensorflow.compat.v2 as tf

from bijectors import _checks
from bijectors import _shapes
from bijectors import fused_bijector

__all__ = ["InvertibleConv1x1"]


def _random_rotation(num_channels, seed):
  """A `[C, C]` orthogonal matrix: Q of the QR decomposition of a Gaussian matrix."""
  rng = np.random.default_rng(seed)
  q, _ = np.linalg.qr(rng.standard_normal((num_channels, num_channels)))
  return q


def _log_abs_det(matrix):
  """`log|det W|` as `sum(log diag(chol(W^T W)))`.

  Equal to `tf.linalg.slogdet(W)[1]`, but XLA compiles Cholesky and not
  `LogMatrixDeterminant`, so this also runs under `jit_compile=True`.
  """
  gram = tf.matmul(matrix, matrix, transpose_a=True)
  return tf.reduce_sum(tf.math.log(tf.linalg.diag_part(tf.linalg.cholesky(gram))))


class InvertibleConv1x1(_checks.ChannelChecks, fused_bijector.FusedBijector):
  """Invertible 1x1 convolution: `y[h, w] = W @ x[h, w]` at every pixel.

  Forward is the normalizing direction (data -> latent), as in openai/glow.
  With `x` of shape `[..., H, W, C]` and `W` of shape `[C, C]`:

    forward:  y[..., h, w, :] = W @ x[..., h, w, :]
    inverse:  x[..., h, w, :] = W^{-1} @ y[..., h, w, :]
    fldj(x) = H * W * log|det W|

  Parameterizations (`lu_decomposed`):
    * `False`: `W` is one trainable `[C, C]` variable; `log|det W|` is
      computed from a Cholesky factor of `W^T W` (O(C^3), XLA-compatible).
    * `True` (default): `W = P @ L @ (U + diag(sign_s * exp(log_s)))` with a
      fixed permutation `P`, unit lower-triangular `L`, strictly upper
      triangular `U`, fixed signs `sign_s` and trainable `log_s`, so
      `log|det W| = sum(log_s)` (O(C)).
  Both start from the same random rotation (`|det W| = 1`), drawn with `seed`.

  An event with another channel count than `C` (known statically) raises
  `ValueError` when the call is traced (a `[C, C]` kernel applied to other
  channels would mix values of neighbouring pixels); under `validate_args`,
  unknown channel counts are asserted at run time.

  Args:
    num_channels: Python `int`, `C`.
    lu_decomposed: Python `bool`. Default value: `True`.
    seed: Python `int` or `None`, for the initial rotation. Default value:
      `None` (a fresh random rotation).
    dtype: dtype of the variables and events. Default value: `float32`.
    validate_args: Python `bool`. Default value: `False`.
    name: Python `str`. Default value: `"invertible_conv1x1"`.

  #### References
  [1]: Kingma & Dhariwal. Glow: Generative Flow with Invertible 1x1
       Convolutions. NeurIPS 2018. https://arxiv.org/abs/1807.03039
  """

  def __init__(self, num_channels, lu_decomposed=True, seed=None,
               dtype=tf.float32, validate_args=False,
               name="invertible_conv1x1"):
    parameters = dict(locals())
    with tf.name_scope(name) as name:
      self._num_channels = int(num_channels)
      self._lu_decomposed = bool(lu_decomposed)
      rotation = _random_rotation(self._num_channels, seed)
      if self._lu_decomposed:
        with tf.init_scope():
          lu, perm = tf.linalg.lu(tf.constant(rotation, tf.float64))
          # tf.linalg.lu: rotation[perm] = L @ U, so rotation = P @ L @ U with
          # P = I[:, argsort(perm)] = the transpose of I[perm].
          permutation = np.eye(self._num_channels)[perm.numpy()].T
          lu = lu.numpy()
        diag = np.diag(lu)
        self._permutation = tf.Variable(
            tf.constant(permutation, dtype), trainable=False,
            name="permutation")
        self._sign_s = tf.Variable(
            tf.constant(np.sign(diag), dtype), trainable=False, name="sign_s")
        self._log_s = tf.Variable(
            tf.constant(np.log(np.abs(diag)), dtype), name="log_s")
        self._lower = tf.Variable(
            tf.constant(np.tril(lu, -1), dtype), name="lower")
        self._upper = tf.Variable(
            tf.constant(np.triu(lu, 1), dtype), name="upper")
      else:
        self._kernel = tf.Variable(tf.constant(rotation, dtype), name="kernel")
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
  def lu_decomposed(self):
    return self._lu_decomposed

  def kernel_and_log_abs_det(self):
    """Returns `W` (`[C, C]`, output channel first) and `log|det W|` (scalar)."""
    if not self._lu_decomposed:
      kernel = tf.convert_to_tensor(self._kernel)
      return kernel, _log_abs_det(kernel)
    eye = tf.eye(self._num_channels, dtype=self.dtype)
    lower = tf.linalg.band_part(self._lower, -1, 0) - tf.linalg.band_part(
        self._lower, 0, 0) + eye
    upper = tf.linalg.band_part(self._upper, 0, -1) - tf.linalg.band_part(
        self._upper, 0, 0)
    upper += tf.linalg.diag(self._sign_s * tf.exp(self._log_s))
    kernel = tf.matmul(self._permutation, tf.matmul(lower, upper))
    return kernel, tf.reduce_sum(self._log_s)


  def _apply(self, kernel, x):
    # [..., H, W, C] x [C_out, C_in] -> [..., H, W, C_out], as one matmul
    # (an einsum's gradient is several times slower on CPU).
    y = tf.matmul(tf.reshape(x, [-1, self._num_channels]), kernel,
                  transpose_b=True)
    return tf.ensure_shape(tf.reshape(y, tf.shape(x)), x.shape)

  def _log_det(self, x, log_abs_det):
    ldj = _shapes.num_spatial_positions(x) * log_abs_det
    return tf.fill(tf.shape(x)[:-3], ldj)

  def _forward_and_log_det(self, x):
    kernel, log_abs_det = self.kernel_and_log_abs_det()
    return self._apply(kernel, x), self._log_det(x, log_abs_det)

  def _inverse_and_log_det(self, y):
    kernel, log_abs_det = self.kernel_and_log_abs_det()
    return (self._apply(tf.linalg.inv(kernel), y),
            -self._log_det(y, log_abs_det))
