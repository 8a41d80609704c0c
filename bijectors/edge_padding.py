"""openai/glow's "edge" input channel of a SAME-padded convolution.

openai/glow (`tfops.add_edge_padding`) pads the input `x` (`[N, H, W, C]`)
of each k x k SAME convolution of its coupling network itself, appends one
channel `e` that is 1 on the padded border and 0 on the image, and convolves
the `[N, H + 2a, W + 2b, C + 1]` result VALID (`a = (k_h - 1) // 2`,
`b = (k_w - 1) // 2`), so the network can tell the padding's zeros from
zeros of the image. With the kernel split as `[k_x, k_e]` along its input
channels, that convolution is

    conv_valid([pad(x), e], [k_x, k_e]) = conv_same(x, k_x) + conv_valid(e, k_e),

and the second term does not depend on `x`: a `[1, H, W, C_out]` map that
is nonzero only within `a` rows / `b` columns of the border. It is computed
once per call from `k_e` (`edge_term`) and broadcast over the batch, so the
width-channel activations are never padded or copied.
"""

import tensorflow.compat.v2 as tf

__all__ = ["padding_sizes", "edge_mask", "edge_term"]


def padding_sizes(kernel_size):
  """`(a, b)`: rows and columns SAME padding adds on each side for a `(k_h, k_w)` kernel.

  Raises `ValueError` for even sizes (asymmetric padding).
  """
  rows, cols = int(kernel_size[0]), int(kernel_size[1])
  if rows % 2 == 0 or cols % 2 == 0:
    raise ValueError(
        f"Edge padding needs odd kernel sizes (the SAME padding is then "
        f"symmetric); got {rows}x{cols}. Use e.g. 3x3 kernels.")
  return (rows - 1) // 2, (cols - 1) // 2


def edge_mask(height, width, kernel_size, dtype=tf.float32):
  """openai/glow's pad channel `e`: `[1, H + 2a, W + 2b, 1]`, 1 on the border, 0 inside.

  Args:
    height: `H`, Python `int` or scalar `int32` tensor.
    width: `W`, Python `int` or scalar `int32` tensor.
    kernel_size: `(k_h, k_w)`, odd Python `int`s; `a = (k_h - 1) // 2` rows
      and `b = (k_w - 1) // 2` columns are padded on each side (SAME).
    dtype: Default value: `float32`.
  """
  a, b = padding_sizes(kernel_size)
  return tf.pad(tf.zeros([1, height, width, 1], dtype),
                [[0, 0], [a, a], [b, b], [0, 0]], constant_values=1)


def edge_term(edge_kernel, height, width):
  """`conv_valid(edge_mask, edge_kernel)`: the pad channel's share of the convolution.

  Args:
    edge_kernel: `[k_h, k_w, 1, C_out]`, the kernel's slice for the pad channel.
    height: `H` of the convolved images (Python `int` or `int32` tensor).
    width: `W`.

  Returns:
    `[1, H, W, C_out]` in `edge_kernel`'s dtype, to add to `conv_same(x, k_x)`.
  """
  mask = edge_mask(height, width, edge_kernel.shape[:2], edge_kernel.dtype)
  return tf.nn.conv2d(mask, edge_kernel, strides=1, padding="VALID")
