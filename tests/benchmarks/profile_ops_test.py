"""Tests of `benchmarks.profile_ops`: op events from a trace made by hand, the wall split among concurrent ops, and a real profile."""

import pytest
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from benchmarks import profile_ops


def _xspace():
  """Two executor threads: MatMul [0, 2) s and [2, 3) s on one; Conv2D
  [1, 1.5) s on the other (concurrent with the first MatMul); plus what must
  not count (bookkeeping, plain names, other threads, devices)."""
  xspace = xplane_pb2.XSpace()
  host = xspace.planes.add(name="/host:CPU")
  for key, name in ((1, "dense/MatMul:MatMul"), (2, "conv:Conv2D"),
                    (3, "ExecutorState::Process"), (4, "a plain name")):
    host.event_metadata[key].name = name
  first = host.lines.add(name="tf_Compute/7", timestamp_ns=1000)
  for key, start, seconds in ((1, 0., 2.), (1, 2., 1.), (3, 0., 9.),
                              (4, 0., 9.)):
    first.events.add(metadata_id=key, offset_ps=int(start * 1e12),
                     duration_ps=int(seconds * 1e12))
  second = host.lines.add(name="tf_Compute/8", timestamp_ns=1000)
  second.events.add(metadata_id=2, offset_ps=int(1e12),
                    duration_ps=int(.5e12))
  other = host.lines.add(name="tf_data_private_threadpool")
  other.events.add(metadata_id=1, duration_ps=int(9e12))
  device = xspace.planes.add(name="/device:GPU:0")
  device.event_metadata[1].name = "x:MatMul"
  device.lines.add(name="tf_Compute/1").events.add(metadata_id=1,
                                                    duration_ps=int(9e12))
  return xspace


def test_events_are_the_executor_threads_ops_with_their_times():
  events = profile_ops.events(_xspace())
  assert [(e.name, e.op_type) for e in events] == [
      ("dense/MatMul", "MatMul"), ("conv", "Conv2D"), ("dense/MatMul", "MatMul")]
  assert [round(e.end - e.start, 6) for e in events] == [2., .5, 1.]
  assert events[1].start - events[0].start == pytest.approx(1.)


def test_concurrent_ops_split_the_wall_and_the_rest_is_host_time():
  # 3 s of ops in a 4 s wall: [0,1) MatMul alone, [1,1.5) MatMul and Conv2D
  # (0.25 s each), [1.5,3) MatMul alone; 1 s with no op running.
  trace = profile_ops.Trace(tuple(profile_ops.events(_xspace())), calls=1,
                            wall=4.)
  rows = profile_ops.wall_shares(trace)
  seconds = {op: s for op, s, _, _ in rows}
  assert seconds == pytest.approx({"MatMul": 2.75, "Conv2D": .25,
                                   profile_ops.IDLE: 1.})
  assert sum(share for _, _, share, _ in rows) == pytest.approx(1.)
  assert [op for op, *_ in rows][0] == "MatMul"
  assert {op: n for op, _, _, n in rows}["MatMul"] == 2
  # Two calls in the trace: everything per call.
  halved = profile_ops.wall_shares(profile_ops.Trace(trace.events, 2, 2.))
  assert {op: s for op, s, _, _ in halved}["MatMul"] == pytest.approx(1.375)


def test_each_events_share_of_the_wall():
  events = profile_ops.events(_xspace())
  # MatMul [0, 2) shares [1, 1.5) with Conv2D: 1 + 0.25 + 0.5.
  assert profile_ops.event_shares(events) == pytest.approx([1.75, .25, 1.])


def test_format_rows_lists_the_top_and_sums_the_rest():
  rows = [("MatMul", 1.5e-3, .75, 2), ("Conv2D", 5e-4, .25, 1)]
  assert profile_ops.format_rows(rows, 1) == [
      f"    {'op type':40s} {'ms/call':>9s} {'of wall':>7s} {'ops/call':>8s}",
      f"    {'MatMul':40s}       1.5   75.0%        2",
      f"    {'(all other op types)':40s}       0.5   25.0%        1"]
  assert len(profile_ops.format_rows(rows, 5)) == 3   # nothing left over


def test_a_real_profile_finds_the_matmuls_and_sums_to_the_wall():
  a = tf.random.stateless_normal([256, 256], [1, 2])
  step = tf.function(lambda: tf.matmul(tf.matmul(a, a), a))
  trace = profile_ops.profile(step, calls=2)
  assert trace.wall > 0 and trace.calls == 2
  rows = profile_ops.wall_shares(trace)
  # Two matmuls per call (oneDNN may run them as `_MklMatMul`).
  assert sum(count for op, _, _, count in rows if "MatMul" in op) == 2, rows
  assert sum(share for _, _, share, _ in rows) == pytest.approx(1.)
  assert sum(s for _, s, _, _ in rows) == pytest.approx(trace.wall, rel=1e-6)
