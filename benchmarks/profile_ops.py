"""Where a compiled function's time goes: TensorFlow's profiler, summed per op type.

    rows, wall = profile_ops(lambda: step(x), calls=3)

Runs `fn` under `tf.profiler.experimental` and reads the trace it writes
(`*.xplane.pb`, the host plane `/host:CPU`). Every TensorFlow op execution is
an event named `<op name>:<op type>` on one of the executor's threads
(`tf_Compute/...`); the rows sum their durations per op type. Ops run
concurrently on the inter-op threads, so the shares are of the summed op
time, which can exceed the wall time.
"""

import collections
import glob
import os
import shutil
import tempfile
import time

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

__all__ = ["profile_ops", "format_rows"]


def _op_times(xspace):
  """`{op type: (total seconds, count)}` over the executor threads' op events."""
  totals = collections.defaultdict(lambda: [0., 0])
  for plane in xspace.planes:
    if plane.name != "/host:CPU":
      continue
    metadata = plane.event_metadata
    for line in plane.lines:
      if not line.name.startswith("tf_Compute"):
        continue
      for event in line.events:
        name = metadata[event.metadata_id].name
        if ":" not in name or "::" in name:   # executor bookkeeping
          continue
        entry = totals[name.rsplit(":", 1)[1]]
        entry[0] += event.duration_ps * 1e-12
        entry[1] += 1
  return {k: tuple(v) for k, v in totals.items()}


def profile_ops(fn, calls):
  """Profiles `calls` calls of `fn` (already traced); returns `(rows, wall seconds)`.

  `rows`: list of `(op type, seconds per call, share of the op time, ops
  per call)`, largest first.
  """
  folder = tempfile.mkdtemp(prefix="glow_ood_profile_")
  try:
    tf.profiler.experimental.start(folder)
    start = time.perf_counter()
    for _ in range(calls):
      out = fn()
    for t in tf.nest.flatten(out):
      if hasattr(t, "numpy"):
        t.numpy()
    wall = (time.perf_counter() - start) / calls
    tf.profiler.experimental.stop()
    paths = glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True)
    if not paths:
      return [], wall
    xspace = xplane_pb2.XSpace()
    with open(paths[0], "rb") as f:
      xspace.ParseFromString(f.read())
  finally:
    shutil.rmtree(folder, ignore_errors=True)
  times = _op_times(xspace)
  total = sum(t for t, _ in times.values()) or 1.
  rows = [(op, t / calls, t / total, n // calls)
          for op, (t, n) in sorted(times.items(), key=lambda kv: -kv[1][0])]
  return rows, wall


def format_rows(rows, top):
  """The `top` rows as text lines."""
  lines = [f"    {'op type':40s} {'ms/call':>9s} {'share':>6s} {'ops/call':>8s}"]
  for op, seconds, share, count in rows[:top]:
    lines.append(f"    {op:40s} {seconds * 1e3:9.1f} {share * 100:5.1f}% "
                 f"{count:8d}")
  rest = sum(share for _, _, share, _ in rows[top:])
  if rest:
    lines.append(f"    {'(all other op types)':40s} {'':9s} {rest * 100:5.1f}%")
  return lines
