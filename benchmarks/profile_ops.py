"""Where a compiled function's wall time goes: TensorFlow's profiler, per op type.

    trace = profile(lambda: step(x), calls=3)
    rows = wall_shares(trace)          # op types, idle and host time: sum = wall
    print("\n".join(format_rows(rows, top=12)))

Runs `fn` under `tf.profiler.experimental` and reads the trace it writes
(`*.xplane.pb`, the host plane `/host:CPU`). Every TensorFlow op execution is
an event named `<op name>:<op type>` on one of the executor's threads
(`tf_Compute/...`), with a start and a duration.

Ops run concurrently on the inter-op threads, so summed op time can exceed
the wall time. `wall_shares` therefore splits the wall time itself: over
each interval in which `k` ops run, each gets `1/k` of it; intervals with no
op running inside the profiled span are "no op running" (the host: Python,
dispatch, the sync at the end of a call). The rows sum to the measured wall
time, so a share says what removing that op type's work would save at most.
"""

import collections
import dataclasses
import glob
import os
import shutil
import tempfile
import time

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

__all__ = ["Event", "Trace", "events", "event_shares", "profile",
           "wall_shares", "format_rows", "IDLE"]

IDLE = "(no op running: host, dispatch, sync)"


@dataclasses.dataclass(frozen=True)
class Event:
  """One op execution: `[start, end)` in seconds from an arbitrary origin."""
  name: str
  op_type: str
  start: float
  end: float


@dataclasses.dataclass(frozen=True)
class Trace:
  """The op events of `calls` calls and the measured wall seconds per call."""
  events: tuple
  calls: int
  wall: float


def events(xspace):
  """The executor threads' op events of an `XSpace`, as `Event`s.

  Executor bookkeeping (`ExecutorState::Process`, names without `:`) and
  threads other than `tf_Compute*` (tf.data, devices) are left out.
  """
  out = []
  for plane in xspace.planes:
    if plane.name != "/host:CPU":
      continue
    metadata = plane.event_metadata
    for line in plane.lines:
      if not line.name.startswith("tf_Compute"):
        continue
      origin = line.timestamp_ns * 1e-9
      for event in line.events:
        name = metadata[event.metadata_id].name
        if ":" not in name or "::" in name:   # executor bookkeeping
          continue
        op_name, op_type = name.rsplit(":", 1)
        start = origin + event.offset_ps * 1e-12
        out.append(Event(op_name, op_type, start,
                         start + event.duration_ps * 1e-12))
  return sorted(out, key=lambda e: e.start)


def _finish(out):
  """Waits for `out`'s tensors on the host, as a training loop's read would."""
  for t in tf.nest.flatten(out):
    if hasattr(t, "numpy"):
      t.numpy()


def profile(fn, calls, warmup=2):
  """Profiles `calls` calls of `fn` after `warmup` unprofiled ones; a `Trace`.

  The warm-up calls trace and compile `fn`, so the profile holds only
  steady-state calls.
  """
  for _ in range(warmup):
    _finish(fn())
  folder = tempfile.mkdtemp(prefix="glow_ood_profile_")
  try:
    tf.profiler.experimental.start(folder)
    start = time.perf_counter()
    for _ in range(calls):
      _finish(fn())
    wall = (time.perf_counter() - start) / calls
    tf.profiler.experimental.stop()
    paths = glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True)
    xspace = xplane_pb2.XSpace()
    if paths:
      with open(paths[0], "rb") as f:
        xspace.ParseFromString(f.read())
  finally:
    shutil.rmtree(folder, ignore_errors=True)
  return Trace(tuple(events(xspace)), calls, wall)


def event_shares(trace_events):
  """Each event's share of the wall time: `[seconds]`, in the events' order.

  Over each interval in which `k` events run, each gets `1/k` of it, so the
  shares sum to the time during which any op ran.
  """
  boundaries = []
  for index, e in enumerate(trace_events):
    boundaries.append((e.start, 1, index))
    boundaries.append((e.end, -1, index))
  boundaries.sort(key=lambda b: (b[0], b[1]))
  running = set()
  shares = [0.] * len(trace_events)
  last = None
  for moment, change, index in boundaries:
    if last is not None and moment > last and running:
      piece = (moment - last) / len(running)
      for active in running:
        shares[active] += piece
    if change > 0:
      running.add(index)
    else:
      running.discard(index)
    last = moment
  return shares


def _attribute(trace_events):
  """`{op type: seconds}` of wall time, each interval split among its ops."""
  shares = collections.defaultdict(float)
  for event, seconds in zip(trace_events, event_shares(trace_events)):
    shares[event.op_type] += seconds
  return shares


def wall_shares(trace):
  """Rows `(op type, wall seconds per call, share of the wall, ops per call)`.

  Largest first; the `IDLE` row holds the measured wall time no op covered.
  The seconds sum to `trace.wall` (up to the profiler's start-up, which
  lands in `IDLE`).
  """
  shares = _attribute(trace.events)
  counts = collections.Counter(e.op_type for e in trace.events)
  total = trace.wall * trace.calls
  covered = sum(shares.values())
  shares[IDLE] = max(total - covered, 0.)
  total = max(total, covered) or 1.
  return [(op, seconds / trace.calls, seconds / total,
           counts.get(op, 0) // trace.calls)
          for op, seconds in sorted(shares.items(), key=lambda kv: -kv[1])]


def format_rows(rows, top):
  """The `top` rows as text lines, then the rest summed."""
  lines = [f"    {'op type':40s} {'ms/call':>9s} {'of wall':>7s} "
           f"{'ops/call':>8s}"]
  for op, seconds, share, count in rows[:top]:
    lines.append(f"    {op[:40]:40s} {seconds * 1e3:9.1f} {share * 100:6.1f}% "
                 f"{count:8d}")
  rest = rows[top:]
  if rest:
    lines.append(f"    {'(all other op types)':40s} "
                 f"{sum(r[1] for r in rest) * 1e3:9.1f} "
                 f"{sum(r[2] for r in rest) * 100:6.1f}% "
                 f"{sum(r[3] for r in rest):8d}")
  return lines
