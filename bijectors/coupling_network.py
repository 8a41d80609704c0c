"""openai/glow's coupling network and its zero-initialized output convolution.

Plain `tf.Module`s holding `tf.Variable`s: their variables are tracked by the
bijectors that own them (Keras-3 layers inside a `tf.Module` are not).
"""

import tensorflow.compat.v2 as tf

from bijectors import _checks
from bijectors import actnorm as actnorm_lib

__all__ = ["GlowCouplingNetwork", "ZeroInitConv2d"]

# openai/glow initializes conv kernels from N(0, 0.05^2) and multiplies the
# zero-initialized convolutions' log-scale by 3.
_KERNEL_STDDEV = 0.05
_LOG_SCALE_FACTOR = 3.0


def _normal_kernel(shape, seed, dtype):
  if seed is None:
    return tf.random.normal(shape, stddev=_KERNEL_STDDEV, dtype=dtype)
  return tf.random.stateless_normal(
      shape, seed=[seed, 0], stddev=_KERNEL_STDDEV, dtype=dtype)


class ZeroInitConv2d(tf.Module):
  """`y = (conv(x, w) + b) * exp(3 * log_scale)`, all parameters zero at start.

  openai/glow's `conv2d_zeros`: the output is exactly zero at initialization,
  so a coupling layer or split prior built on it starts as the identity / a
  standard normal. Shapes: `x` `[N, H, W, C_in]` -> `[N, H, W, C_out]`, SAME
  padding.

  Args:
    in_channels: Python `int`.
    out_channels: Python `int`.
    kernel_size: Python `int`. Default value: `3`.
    dtype: Default value: `float32`.
    name: Python `str`. Default value: `"zero_init_conv2d"`.
  """

  def __init__(self, in_channels, out_channels, kernel_size=3,
               dtype=tf.float32, name="zero_init_conv2d"):
    super().__init__(name=name)
    with self.name_scope:
      self.kernel = tf.Variable(
          tf.zeros([kernel_size, kernel_size, in_channels, out_channels], dtype),
          name="kernel")
      self.bias = tf.Variable(tf.zeros([out_channels], dtype), name="bias")
      self.log_scale = tf.Variable(
          tf.zeros([out_channels], dtype), name="log_scale")

  def __call__(self, x):
    _check_network_input(type(self).__name__, x, self.kernel.shape[2])
    # (conv(x, k) + b) * e^{3 ls} = conv(x, k e^{3 ls}) + b e^{3 ls}: the
    # output scale is folded into the kernel and bias (one conv + bias op).
    scale = tf.exp(_LOG_SCALE_FACTOR * self.log_scale)
    y = tf.nn.conv2d(x, self.kernel * scale, strides=1, padding="SAME")
    return tf.nn.bias_add(y, self.bias * scale)


class GlowCouplingNetwork(tf.Module):
  """openai/glow's coupling network `f`: `[N, H, W, C_in] -> [N, H, W, C_out]`.

    conv3x3(C_in -> width, no bias) -> ActNorm -> ReLU
    -> conv1x1(width -> width, no bias) -> ActNorm -> ReLU
    -> ZeroInitConv2d 3x3 (width -> C_out)

  The ActNorm layers normalize activations with data-dependent initialization
  on the first call (see `ActNorm`). The output is zero at initialization.
  (openai/glow also appends an "edge" channel marking the zero padding; this
  network does not.)

  Args:
    in_channels: Python `int`, `C_in`.
    out_channels: Python `int`, `C_out`.
    hidden_width: Python `int`. Default value: `512`.
    seed: Python `int` or `None`, for the kernels' initial values.
    dtype: Default value: `float32`.
    name: Python `str`. Default value: `"glow_coupling_network"`.
  """

  def __init__(self, in_channels, out_channels, hidden_width=512, seed=None,
               dtype=tf.float32, name="glow_coupling_network"):
    super().__init__(name=name)
    self.in_channels = int(in_channels)
    self.out_channels = int(out_channels)
    with self.name_scope:
      self.kernel1 = tf.Variable(
          _normal_kernel([3, 3, in_channels, hidden_width], seed, dtype),
          name="kernel1")
      self.actnorm1 = actnorm_lib.ActNorm(hidden_width, dtype=dtype,
                                          name="actnorm1")
      self.kernel2 = tf.Variable(
          _normal_kernel([1, 1, hidden_width, hidden_width],
                         None if seed is None else seed + 1, dtype),
          name="kernel2")
      self.actnorm2 = actnorm_lib.ActNorm(hidden_width, dtype=dtype,
                                          name="actnorm2")
      self.output_conv = ZeroInitConv2d(hidden_width, out_channels, dtype=dtype,
                                        name="output_conv")

  def __call__(self, x):
    _check_network_input(type(self).__name__, x, self.in_channels)
    h = tf.nn.conv2d(x, self.kernel1, strides=1, padding="SAME")
    h = tf.nn.relu(self.actnorm1.forward(h))
    h = tf.nn.conv2d(h, self.kernel2, strides=1, padding="SAME")
    h = tf.nn.relu(self.actnorm2.forward(h))
    return self.output_conv(h)


def _check_network_input(owner, x, in_channels):
  """`ValueError` unless `x` is a static-rank-4 `[N, H, W, in_channels]` batch."""
  x_shape = getattr(x, "shape", None)
  if x_shape is None or x_shape.rank is None:
    return
  if x_shape.rank != 4:
    raise ValueError(
        f"{owner} takes image batches [N, H, W, C] (rank 4) but got x of shape "
        f"{_checks.format_shape(x_shape)}; reshape it to [N, H, W, C] first.")
  if x_shape[-1] is not None and x_shape[-1] != in_channels:
    raise ValueError(
        f"{owner} was built for {in_channels} input channels but got x of "
        f"shape {_checks.format_shape(x_shape)}; build it with in_channels="
        f"{x_shape[-1]}.")
