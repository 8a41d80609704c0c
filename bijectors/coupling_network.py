"""openai/glow's coupling network and its zero-initialized output convolution.

Plain `tf.Module`s holding `tf.Variable`s: their variables are tracked by the
bijectors that own them (Keras-3 layers inside a `tf.Module` are not).
"""

import contextlib
import threading

import tensorflow.compat.v2 as tf

from bijectors import _checks
from bijectors import actnorm as actnorm_lib
from bijectors import edge_padding as edge_lib

__all__ = ["GlowCouplingNetwork", "ZeroInitConv2d", "full_precision"]

_PRECISION = threading.local()


@contextlib.contextmanager
def full_precision():
  """Within the block, networks built with a `compute_dtype` compute in their `dtype`.

  E.g. to evaluate a mixed-precision model in float32. It acts where the
  network's graph is built: on eager calls in the block and on functions
  traced in it (a function traced before keeps its precision).
  """
  previous = getattr(_PRECISION, "full", False)
  _PRECISION.full = True
  try:
    yield
  finally:
    _PRECISION.full = previous

# openai/glow initializes conv kernels from N(0, 0.05^2) and multiplies the
# zero-initialized convolutions' log-scale by 3.
_KERNEL_STDDEV = 0.05
_LOG_SCALE_FACTOR = 3.0


def _normal_kernel(shape, seed, dtype, stream=0):
  """N(0, 0.05^2) values; `stream` gives a seeded kernel its own random stream."""
  if seed is None:
    return tf.random.normal(shape, stddev=_KERNEL_STDDEV, dtype=dtype)
  return tf.random.stateless_normal(
      shape, seed=[seed, stream], stddev=_KERNEL_STDDEV, dtype=dtype)


def _height_width(x):
  """`(H, W)` of `[N, H, W, C]` images: Python `int`s where static."""
  shape = tf.shape(x)
  return tuple(x.shape[i] if x.shape[i] is not None else shape[i]
               for i in (1, 2))


def _blocks_of_interleaved(kernel, num_parts):
  """Reorders the output channels (last axis) of `kernel` so that channel
  `p::num_parts` of the original is the `p`-th contiguous block."""
  shape = kernel.shape.as_list()
  out = shape[-1]
  kernel = tf.reshape(kernel, shape[:-1] + [out // num_parts, num_parts])
  perm = list(range(len(shape) - 1)) + [len(shape), len(shape) - 1]
  return tf.reshape(tf.transpose(kernel, perm), shape)


def _conv2d(x, kernel):
  """SAME-padded stride-1 `conv2d(x, kernel)`; an empty batch gives empty output.

  oneDNN's convolution returns a wrongly shaped result for a batch of zero
  images, so a batch known to be empty is answered without it.
  """
  if x.shape.rank is not None and x.shape[0] == 0:
    return tf.zeros(tf.concat([tf.shape(x)[:-1], [kernel.shape[-1]]], 0),
                    x.dtype)
  return tf.nn.conv2d(x, kernel, strides=1, padding="SAME")


class ZeroInitConv2d(tf.Module):
  """`y = (conv(x, w) + b) * exp(3 * log_scale)`, all parameters zero at start.

  openai/glow's `conv2d_zeros`: the output is exactly zero at initialization,
  so a coupling layer or split prior built on it starts as the identity / a
  standard normal. Shapes: `x` `[N, H, W, C_in]` -> `[N, H, W, C_out]`, SAME
  padding.

  With `edge_padding` (openai/glow's `edge_bias`), the convolution also sees
  openai/glow's pad channel (1 on the zero-padded border, 0 on the image;
  `bijectors.edge_padding`) through its own zero-initialized kernel
  `edge_kernel` `[k, k, 1, C_out]`:
  `y = (conv(x, w) + conv_valid(e, w_e) + b) * exp(3 * log_scale)`.

  Args:
    in_channels: Python `int`.
    out_channels: Python `int`.
    kernel_size: Python `int`, odd with `edge_padding`. Default value: `3`.
    edge_padding: Python `bool`. Default value: `False`.
    dtype: Default value: `float32`.
    name: Python `str`. Default value: `"zero_init_conv2d"`.
  """

  def __init__(self, in_channels, out_channels, kernel_size=3,
               edge_padding=False, dtype=tf.float32, name="zero_init_conv2d"):
    super().__init__(name=name)
    with self.name_scope:
      self.kernel = tf.Variable(
          tf.zeros([kernel_size, kernel_size, in_channels, out_channels], dtype),
          name="kernel")
      self.bias = tf.Variable(tf.zeros([out_channels], dtype), name="bias")
      self.log_scale = tf.Variable(
          tf.zeros([out_channels], dtype), name="log_scale")
      self.edge_kernel = tf.Variable(
          tf.zeros([kernel_size, kernel_size, 1, out_channels], dtype),
          name="edge_kernel") if edge_padding else None
    if edge_padding:
      edge_lib.padding_sizes([kernel_size, kernel_size])   # odd sizes only

  @property
  def edge_padding(self):
    return self.edge_kernel is not None

  def _folded(self):
    """`(kernel, bias, edge_kernel)` with the output scale folded in:
    `(conv(x, k) + E(k_e) + b) e^{3 ls} = conv(x, k e^{3 ls}) + E(k_e e^{3 ls})
    + b e^{3 ls}` (`E` linear); `edge_kernel` is `None` without edge padding."""
    scale = tf.exp(_LOG_SCALE_FACTOR * self.log_scale)
    edge = None if self.edge_kernel is None else self.edge_kernel * scale
    return self.kernel * scale, self.bias * scale, edge

  def _output(self, x, kernel, bias, edge_kernel):
    y = tf.nn.bias_add(_conv2d(x, tf.cast(kernel, x.dtype)),
                       tf.cast(bias, x.dtype))
    if edge_kernel is None:
      return y
    return y + tf.cast(edge_lib.edge_term(edge_kernel, *_height_width(x)),
                       x.dtype)

  def __call__(self, x):
    _check_network_input(type(self).__name__, x, self.kernel.shape[2])
    return self._output(x, *self._folded())

  def split_outputs(self, x, num_parts):
    """`[y[..., p::num_parts] for p in range(num_parts)]` of `y = self(x)`, without strided copies.

    The kernel's and bias's output channels are reordered (a small
    transpose of the parameters) so that each part is a contiguous block
    of one convolution's output, split by `tf.split`.
    """
    _check_network_input(type(self).__name__, x, self.kernel.shape[2])
    out = int(self.kernel.shape[-1])
    if out % num_parts:
      raise ValueError(f"{out} output channels do not split into {num_parts} "
                       "interleaved parts.")
    folded = [None if p is None else _blocks_of_interleaved(p, num_parts)
              for p in self._folded()]
    return tf.split(self._output(x, *folded), num_parts, axis=-1)


class GlowCouplingNetwork(tf.Module):
  """openai/glow's coupling network `f`: `[N, H, W, C_in] -> [N, H, W, C_out]`.

    conv3x3(C_in -> width, no bias) -> ActNorm -> ReLU
    -> conv1x1(width -> width, no bias) -> ActNorm -> ReLU
    -> ZeroInitConv2d 3x3 (width -> C_out)

  The ActNorm layers normalize activations with data-dependent initialization
  on the first call (see `ActNorm`). The output is zero at initialization.

  Edge padding (`edge_padding`, openai/glow's `edge_bias`, on in its code):
  both 3x3 convolutions also see openai/glow's pad channel `e` (1 on the
  border their SAME padding adds, 0 on the image; `bijectors.edge_padding`),
  so the network can tell padding from zero-valued inputs. Each has a kernel
  for it, `edge_kernel1` `[3, 3, 1, width]` (N(0, 0.05^2) like `kernel1`)
  and `output_conv.edge_kernel` `[3, 3, 1, C_out]` (zeros); the 1x1
  convolution pads nothing and has none. Its share, `conv_valid(e, k_e)`
  (`[1, H, W, .]`, independent of `x`), is added to the convolution.

  Once both ActNorms are initialized (or inside `strategy.run`), each is
  folded into the convolution before it, which has no bias of its own:

    (conv(x, k) - loc) e^{-ls} = conv(x, k e^{-ls}) + (-loc e^{-ls}),

  so every layer is one convolution + bias (+ ReLU), which TensorFlow fuses
  into one kernel, instead of a convolution and two passes over the
  `width`-channel activations. The values are the same up to rounding.

  Mixed precision (`compute_dtype`): the variables stay in `dtype`; the
  convolutions run in `compute_dtype` (inputs, folded kernels and biases cast
  to it) and the output is cast back to `dtype`, so the coupling's affine
  arithmetic and log-det stay in `dtype`. ActNorm's data-dependent
  statistics are computed in `dtype`.

  Gradient checkpointing (`recompute`): the hidden activations are not kept
  for the backward pass but recomputed from the input (`tf.recompute_grad`),
  trading about one more forward pass of the network for their memory.

  Args:
    in_channels: Python `int`, `C_in`.
    out_channels: Python `int`, `C_out`.
    hidden_width: Python `int`. Default value: `512`.
    seed: Python `int` or `None`, for the kernels' initial values.
    dtype: Default value: `float32`.
    compute_dtype: dtype of the convolutions, e.g. `tf.bfloat16`.
      Default value: `None` (`dtype`).
    recompute: Python `bool`. Default value: `False`.
    edge_padding: Python `bool`. Default value: `False`.
    name: Python `str`. Default value: `"glow_coupling_network"`.
  """

  def __init__(self, in_channels, out_channels, hidden_width=512, seed=None,
               dtype=tf.float32, compute_dtype=None, recompute=False,
               edge_padding=False, name="glow_coupling_network"):
    super().__init__(name=name)
    self.in_channels = int(in_channels)
    self.out_channels = int(out_channels)
    self.dtype = tf.as_dtype(dtype)
    self._compute_dtype = tf.as_dtype(compute_dtype or dtype)
    self.recompute = bool(recompute)
    with self.name_scope:
      self.kernel1 = tf.Variable(
          _normal_kernel([3, 3, in_channels, hidden_width], seed, dtype),
          name="kernel1")
      # Its own random stream: kernel1 and kernel2 are the same with or
      # without edge padding.
      self.edge_kernel1 = tf.Variable(
          _normal_kernel([3, 3, 1, hidden_width], seed, dtype, stream=1),
          name="edge_kernel1") if edge_padding else None
      self.actnorm1 = actnorm_lib.ActNorm(hidden_width, dtype=dtype,
                                          name="actnorm1")
      self.kernel2 = tf.Variable(
          _normal_kernel([1, 1, hidden_width, hidden_width],
                         None if seed is None else seed + 1, dtype),
          name="kernel2")
      self.actnorm2 = actnorm_lib.ActNorm(hidden_width, dtype=dtype,
                                          name="actnorm2")
      self.output_conv = ZeroInitConv2d(hidden_width, out_channels,
                                        edge_padding=edge_padding, dtype=dtype,
                                        name="output_conv")

  @property
  def edge_padding(self):
    return self.edge_kernel1 is not None

  @property
  def compute_dtype(self):
    """The convolutions' dtype now: `dtype` inside `full_precision()`."""
    if getattr(_PRECISION, "full", False):
      return self.dtype
    return self._compute_dtype

  def _conv(self, x, kernel):
    x = tf.cast(x, self.compute_dtype)
    return _conv2d(x, tf.cast(kernel, self.compute_dtype))

  def _normalized(self, x, kernel, norm, edge_kernel=None):
    """ReLU(ActNorm(conv(x, kernel) + E(edge_kernel))), the ActNorm folded in
    where it is initialized; `E` is the pad channel's share (`edge_term`)."""
    if norm.uses_variables_as_they_are():
      scale = tf.exp(-norm.log_scale)
      bias = tf.cast(-norm.loc * scale, self.compute_dtype)
      h = tf.nn.bias_add(self._conv(x, kernel * scale), bias)
      if edge_kernel is not None:
        h += tf.cast(edge_lib.edge_term(edge_kernel * scale, *_height_width(x)),
                     self.compute_dtype)
      return tf.nn.relu(h)
    h = tf.cast(self._conv(x, kernel), self.dtype)   # statistics in dtype
    if edge_kernel is not None:
      h += edge_lib.edge_term(edge_kernel, *_height_width(x))
    return tf.cast(tf.nn.relu(norm.forward(h)), self.compute_dtype)

  def _hidden(self, x):
    h = self._normalized(x, self.kernel1, self.actnorm1, self.edge_kernel1)
    return self._normalized(h, self.kernel2, self.actnorm2)

  def _apply(self, x, output):
    _check_network_input(type(self).__name__, x, self.in_channels)
    folded = (self.actnorm1.uses_variables_as_they_are() and
              self.actnorm2.uses_variables_as_they_are())
    x = tf.cast(x, self.compute_dtype)
    if self.recompute and folded:
      result = tf.recompute_grad(lambda v: output(self._hidden(v)))(x)
    else:
      result = output(self._hidden(x))
    return tf.nest.map_structure(lambda t: tf.cast(t, self.dtype), result)

  def __call__(self, x):
    return self._apply(x, self.output_conv)

  def split_outputs(self, x, num_parts):
    """`[h[..., p::num_parts] for p in range(num_parts)]` of `h = self(x)`,
    computed without strided copies (`ZeroInitConv2d.split_outputs`)."""
    return self._apply(
        x, lambda h: self.output_conv.split_outputs(h, num_parts))


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
