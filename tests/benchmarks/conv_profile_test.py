"""Tests of `benchmarks.conv_profile`: each convolution event of a real step traced back to its shape and kind, and its FLOPs."""

import pytest
import tensorflow as tf

from benchmarks import conv_profile
from benchmarks import profile_ops


def _step():
  """A training step of conv3x3 (4 -> 8) + bias + ReLU, then conv1x1 (8 -> 2),
  on a batch of 2 images of 6x5: the kinds of ops Glow's coupling runs."""
  x = tf.random.stateless_normal([2, 6, 5, 4], [0, 1])
  k1 = tf.Variable(tf.random.stateless_normal([3, 3, 4, 8], [0, 2]))
  b1 = tf.Variable(tf.zeros([8]))
  k2 = tf.Variable(tf.random.stateless_normal([1, 1, 8, 2], [0, 3]))

  @tf.function
  def step(images):
    with tf.GradientTape() as tape:
      tape.watch(images)
      h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(images, k1, 1, "SAME"), b1))
      loss = tf.reduce_sum(tf.nn.conv2d(h, k2, 1, "SAME") ** 2)
    grads = tape.gradient(loss, [images, k1, k2])
    return loss, grads
  return step, x


def test_each_conv_event_is_traced_to_its_shape_and_kind():
  step, x = _step()
  trace = profile_ops.profile(lambda: step(x), calls=2)
  rows = conv_profile.conv_rows(trace, step.get_concrete_function(x).graph)
  found = {(shape, kind): count for shape, kind, count, *_ in rows}
  # Forward of both; kernel gradients of both; input gradients of both (the
  # images are watched, so conv3x3 needs dX too).
  assert found == {((6, 5, 3, 4, 8), "fwd"): 1, ((6, 5, 1, 8, 2), "fwd"): 1,
                   ((6, 5, 3, 4, 8), "dW"): 1, ((6, 5, 1, 8, 2), "dW"): 1,
                   ((6, 5, 3, 4, 8), "dX"): 1, ((6, 5, 1, 8, 2), "dX"): 1}
  assert all(rate > 0 and own >= wall > 0 for *_, own, wall, rate in rows)


def test_rates_are_flops_over_the_events_share_of_the_wall():
  # 2 images x 6 x 5 pixels x 3 x 3 x 4 x 8 x 2 = 34,560 FLOPs in 1 ms and
  # again in 3 ms over 2 calls, the first alone, the second beside another
  # op for its first 2 ms: wall shares 1 + (1 + 1) = 3 ms; 69,120 FLOPs / 3
  # ms = 0.02304 GFLOP/s; 2 ms own and 1.5 ms of wall per call.
  _, x = _step()
  graph = tf.Graph()
  with graph.as_default():
    images = tf.compat.v1.placeholder(tf.float32, [2, 6, 5, 4])
    kernel = tf.compat.v1.placeholder(tf.float32, [3, 3, 4, 8])
    tf.nn.relu(tf.nn.conv2d(images, kernel, 1, "SAME"), name="fused")
  del x
  events = (profile_ops.Event("fused", "_MklNativeFusedConv2D", 0., 1e-3),
            profile_ops.Event("fused", "_MklNativeFusedConv2D", 1., 1.003),
            profile_ops.Event("other", "Mul", 1., 1.002),
            profile_ops.Event("elsewhere", "Conv2D", 2., 2.001))
  rows = conv_profile.conv_rows(profile_ops.Trace(events, 2, 1.), graph)
  assert rows[0][:5] == ((6, 5, 3, 4, 8), "fwd", 1, pytest.approx(2.),
                         pytest.approx(1.5))
  assert rows[0][5] == pytest.approx(0.02304)
  # An op the graph does not have (a nested function's) is counted, unnamed.
  assert rows[1][0] is None and rows[1][5] is None
  lines = conv_profile.format_rows(rows, peak=0.2304)
  assert lines[1].split() == ["6x5", "3x3", "4", "->", "8", "fwd", "1", "2.00",
                              "1.50", "0.0", "(10%)"]
  assert lines[2].split()[:4] == ["(shape", "not", "in", "the"]
