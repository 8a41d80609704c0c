"""The convolution FLOPs of a Glow: the cost model of `benchmarks/throughput.py`.

    shapes = conv_shapes((32, 32, 3), 3, 8, 512, split_learned=True)
    # {(16, 16, 3, 6, 512): 8, (16, 16, 1, 512, 512): 8, ...}
    conv_flops((32, 32, 3), 3, 8, 512, split_learned=True)   # per image

A convolution `(h, w, k, c_in, c_out)` (NHWC, SAME padding, stride 1) costs
`2 h w k^2 c_in c_out` FLOPs per image (a multiply and an add per kernel
weight per output pixel). A forward pass of the model costs `F`, the sum
over its coupling networks and learned split priors; a backward pass `2F`
(gradients of the inputs and of the kernels), a training step `3F`. The
invertible 1x1 convolutions (`c x c` matmuls) are left out: they are a
fraction of a percent of the FLOPs. Plain Python: no TensorFlow.
"""

__all__ = ["conv_shapes", "shape_flops", "conv_flops"]


def conv_shapes(image_shape, num_levels, num_steps, width, split_learned,
                additive=False):
  """The convolutions of one forward pass, as `{(h, w, k, c_in, c_out): n}`.

  Every level squeezes (`h/2 x w/2 x 4c`), then runs `num_steps` coupling
  networks, each conv k=3 (`c/2 -> width`), conv k=1 (`width -> width`),
  conv k=3 (`width -> c_out`: a shift and a log-scale for each of the other
  `c - c/2` channels, or the shift alone if `additive`); every level but the
  last then factors out half its channels, through one conv k=3 of the kept
  half (a mean and a log-scale per factored channel) if `split_learned`.
  """
  height, wid, channels = image_shape
  shapes = {}
  def add(shape, count):
    shapes[shape] = shapes.get(shape, 0) + count
  for level in range(num_levels):
    height, wid, channels = height // 2, wid // 2, channels * 4
    c_in = channels // 2
    c_out = (1 if additive else 2) * (channels - c_in)
    add((height, wid, 3, c_in, width), num_steps)
    add((height, wid, 1, width, width), num_steps)
    add((height, wid, 3, width, c_out), num_steps)
    if level < num_levels - 1:
      kept = channels // 2
      if split_learned:
        add((height, wid, 3, kept, 2 * (channels - kept)), 1)
      channels = kept
  return shapes


def shape_flops(shape):
  """Forward FLOPs per image of one convolution `(h, w, k, c_in, c_out)`."""
  height, wid, k, c_in, c_out = shape
  return 2 * height * wid * k * k * c_in * c_out


def conv_flops(image_shape, num_levels, num_steps, width, split_learned,
               additive=False):
  """Forward-pass FLOPs per image of the coupling networks and split priors.

  Counted once per network; the GFLOP/s printed for tfb.Glow are therefore
  "useful" FLOPs (it evaluates each network twice without XLA).
  """
  shapes = conv_shapes(image_shape, num_levels, num_steps, width,
                       split_learned, additive)
  return sum(n * shape_flops(s) for s, n in shapes.items())
