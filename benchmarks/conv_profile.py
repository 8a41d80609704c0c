"""Achieved GFLOP/s of each convolution shape inside a profiled step.

    trace = profile_ops.profile(lambda: step(x), calls=3)
    rows = conv_rows(trace, step.get_concrete_function(x).graph)
    print("\n".join(format_rows(rows, batch_peak=peak)))

The profile names each executed op (`profile_ops.Event.name`); the traced
graph of the same function gives that op's tensors. oneDNN fuses a
convolution with its bias and ReLU and the fused op takes the name of the
last op it absorbed (`.../Relu`), so each event's op is followed back through
its inputs to the `Conv2D`, `Conv2DBackpropFilter` or `Conv2DBackpropInput`
it computes. Its shape `(h, w, k, c_in, c_out)` (output height and width,
kernel size, channels; NHWC, stride 1) and kind give its FLOPs:
`2 n h w k^2 c_in c_out` for a batch of `n` images, the same for all three
kinds (the forward, the kernel's gradient and the input's gradient each do
one multiply-add per kernel weight per output pixel).

Two times per row: the events' own durations, and their share of the wall
(`profile_ops.event_shares`: ops that run at once split the interval). The
rate is of the wall share: what the shape delivers to the step. Two ops
running at once (a layer's kernel and input gradients often do) share the
cores, so each one's own duration is longer than it would be alone; the
wall share counts that time once.
"""

import collections

from benchmarks import profile_ops

__all__ = ["KINDS", "conv_of", "conv_rows", "format_rows"]

KINDS = {"Conv2D": "fwd", "Conv2DBackpropFilter": "dW",
         "Conv2DBackpropInput": "dX"}
_MAX_HOPS = 4   # Relu <- BiasAdd <- (Mul) <- Conv2D


def _dims(tensor):
  shape = tensor.shape
  return None if shape.rank is None else tuple(shape.as_list())


def conv_of(op):
  """`(kind, (n, h, w, k, c_in, c_out))` of the convolution behind `op`, or None.

  Follows inputs breadth-first up to a few ops back (a fused op's name is the
  last op it absorbed). Shapes must be fully known in the graph.
  """
  frontier, seen = [op], set()
  for _ in range(_MAX_HOPS):
    nxt = []
    for candidate in frontier:
      if candidate.name in seen:
        continue
      seen.add(candidate.name)
      kind = KINDS.get(candidate.type)
      if kind:
        return kind, _conv_shape(candidate, kind)
      nxt.extend(t.op for t in candidate.inputs)
    frontier = nxt
  return None


def _conv_shape(op, kind):
  """`(n, h, w, k, c_in, c_out)` of a convolution op of `kind`."""
  if kind == "fwd":    # input, filter -> output
    kernel, out = op.inputs[1], op.outputs[0]
  elif kind == "dW":   # input, filter_sizes, out_backprop -> filter gradient
    kernel, out = op.outputs[0], op.inputs[2]
  else:                # input_sizes, filter, out_backprop -> input gradient
    kernel, out = op.inputs[1], op.inputs[2]
  kernel_dims, out_dims = _dims(kernel), _dims(out)
  if not kernel_dims or not out_dims or None in out_dims + kernel_dims:
    return None
  n, height, width, _ = out_dims
  k, _, c_in, c_out = kernel_dims
  return (n, height, width, k, c_in, c_out)


def _flops(shape):
  n, height, width, k, c_in, c_out = shape
  return 2 * n * height * width * k * k * c_in * c_out


def conv_rows(trace, graph):
  """Rows `(shape, kind, ops per call, own ms per call, wall ms per call,
  GFLOP/s)`, most wall time first.

  `shape` is `(h, w, k, c_in, c_out)`, or None for convolution events whose
  op is not in `graph` (nested functions) or whose shape is unknown; their
  GFLOP/s is None. GFLOP/s is of the wall share.
  """
  ops = {op.name: op for op in graph.get_operations()}
  totals = collections.defaultdict(lambda: [0, 0., 0., 0])   # n, own, wall, flops
  shares = profile_ops.event_shares(trace.events)
  for event, wall in zip(trace.events, shares):
    if "Conv2D" not in event.op_type:
      continue
    found = conv_of(ops[event.name]) if event.name in ops else None
    if found is None or found[1] is None:
      key = (None, "?")
      flops = 0
    else:
      kind, shape = found
      key = (shape[1:], kind)
      flops = _flops(shape)
    entry = totals[key]
    entry[0] += 1
    entry[1] += event.end - event.start
    entry[2] += wall
    entry[3] += flops
  rows = []
  for (shape, kind), (count, own, wall, flops) in totals.items():
    rate = flops / wall / 1e9 if shape and wall else None
    rows.append((shape, kind, count // trace.calls, 1e3 * own / trace.calls,
                 1e3 * wall / trace.calls, rate))
  return sorted(rows, key=lambda r: -r[4])


def format_rows(rows, peak=None):
  """Text lines of `conv_rows`, with each rate's percent of `peak` GFLOP/s."""
  lines = [f"    {'conv (h w k cin->cout)':26s} {'kind':>4s} {'ops':>4s} "
           f"{'own ms':>8s} {'wall ms':>8s} {'GFLOP/s':>8s}"]
  for shape, kind, count, own, ms, rate in rows:
    if shape:
      height, width, k, c_in, c_out = shape
      label = f"{height}x{width} {k}x{k} {c_in} -> {c_out}"
    else:
      label = "(shape not in the graph)"
    text = f"    {label:26s} {kind:>4s} {count:4d} {own:8.2f} {ms:8.2f} "
    if rate is None:
      text += f"{'-':>8s}"
    else:
      text += f"{rate:8.1f}"
      if peak:
        text += f" ({100 * rate / peak:.0f}%)"
    lines.append(text)
  return lines
