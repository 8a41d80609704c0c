"""Tests of `benchmarks.profile_ops`: op times summed per type, from a trace made by hand and a real one."""

import pytest
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from benchmarks import profile_ops


def _xspace():
  """A trace: 3 s of MatMul in 2 ops and 0.5 s of Conv2D on the executor
  threads, plus what must not count (bookkeeping, other threads, devices)."""
  xspace = xplane_pb2.XSpace()
  host = xspace.planes.add(name="/host:CPU")
  for key, name in ((1, "dense/MatMul:MatMul"), (2, "conv:Conv2D"),
                    (3, "ExecutorState::Process"), (4, "a plain name")):
    host.event_metadata[key].name = name
  compute = host.lines.add(name="tf_Compute/7")
  for key, seconds in ((1, 2.), (1, 1.), (2, .5), (3, 9.), (4, 9.)):
    compute.events.add(metadata_id=key, duration_ps=int(seconds * 1e12))
  other = host.lines.add(name="tf_data_private_threadpool")
  other.events.add(metadata_id=1, duration_ps=int(9e12))
  device = xspace.planes.add(name="/device:GPU:0")
  device.event_metadata[1].name = "x:MatMul"
  device.lines.add(name="tf_Compute/1").events.add(metadata_id=1,
                                                    duration_ps=int(9e12))
  return xspace


def test_op_times_sum_the_executor_threads_per_op_type():
  assert profile_ops._op_times(_xspace()) == {  # pylint: disable=protected-access
      "MatMul": (3., 2), "Conv2D": (.5, 1)}


def test_format_rows_lists_the_top_and_sums_the_rest():
  rows = [("MatMul", 1.5e-3, .75, 2), ("Conv2D", 5e-4, .25, 1)]
  assert profile_ops.format_rows(rows, 1) == [
      f"    {'op type':40s} {'ms/call':>9s} {'share':>6s} {'ops/call':>8s}",
      f"    {'MatMul':40s}       1.5  75.0%        2",
      f"    {'(all other op types)':40s} {'':9s}  25.0%"]
  assert len(profile_ops.format_rows(rows, 5)) == 3   # nothing left over


def test_a_real_profile_finds_the_matmuls():
  a = tf.random.stateless_normal([256, 256], [1, 2])
  step = tf.function(lambda: tf.matmul(tf.matmul(a, a), a))
  step()
  rows, wall = profile_ops.profile_ops(step, calls=2)
  assert wall > 0
  # Two matmuls per call (oneDNN may run them as `_MklMatMul`).
  assert sum(count for op, _, _, count in rows if "MatMul" in op) == 2, rows
  assert sum(share for _, _, share, _ in rows) == pytest.approx(1.)
