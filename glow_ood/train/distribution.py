"""`tf.distribute` strategies by name, and what a worker of a cluster may do.

Under `multi_worker_mirrored` every host runs the same program with its own
`TF_CONFIG`; the chief (task `chief`, else `worker` 0) alone writes the run
folder, the other workers save their checkpoint shards to a private
temporary folder and remove it, as the TensorFlow multi-worker guide
prescribes.
"""

import json
import os

import tensorflow.compat.v2 as tf

from glow_ood.configs.train import STRATEGIES
from glow_ood.train import lost_workers

__all__ = ["STRATEGIES", "make_strategy", "check_global_batch", "check_devices",
           "is_chief", "is_chief_task", "barrier", "max_over_workers",
           "task_name"]

def make_strategy(name, devices=(), worker_timeout_seconds=None):
  """Returns the strategy `name` over `devices` (default: the strategy's own choice).

  Args:
    name: `"mirrored"` (all local GPUs, else the CPU), `"one_device"` (the first
      of `devices`, else GPU:0 or CPU:0) or `"multi_worker_mirrored"` (reads
      `TF_CONFIG`; a single worker without it).
    devices: sequence of device names, e.g. `("/cpu:0", "/cpu:1")`.
    worker_timeout_seconds: `multi_worker_mirrored` only: the heartbeat
      timeout after which a silent worker counts as lost
      (`glow_ood.train.lost_workers.configure_heartbeats`). Default value:
      `None`, TensorFlow's (10 s).
  """
  devices = list(devices)
  if devices and name != "multi_worker_mirrored":
    # (Listing devices starts TensorFlow's runtime, which a multi-worker
    # strategy must configure first.)
    check_devices(devices)
  if name == "mirrored":
    return tf.distribute.MirroredStrategy(devices=devices or None)
  if name == "one_device":
    if len(devices) > 1:
      raise ValueError(f"one_device takes one device; got {devices}. Use "
                       "mirrored for several.")
    if not devices:
      devices = ["/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"]
    return tf.distribute.OneDeviceStrategy(devices[0])
  if name == "multi_worker_mirrored":
    if devices:
      raise ValueError("multi_worker_mirrored takes its devices from TF_CONFIG; "
                       "leave --devices empty.")
    _check_tf_config()
    if worker_timeout_seconds is not None:
      lost_workers.configure_heartbeats(worker_timeout_seconds)
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ValueError(f"Unknown strategy {name!r}; choose one of {STRATEGIES}.")


def check_global_batch(batch_size, strategy, what="batch_size"):
  """Raises if `batch_size` does not divide by the number of replicas."""
  replicas = strategy.num_replicas_in_sync
  if batch_size % replicas:
    raise ValueError(
        f"{what}={batch_size} (global) is not divisible by the "
        f"{replicas} replicas of the strategy; use a multiple of {replicas}.")
  return batch_size // replicas


def check_devices(devices):
  """Raises `ValueError` unless every name in `devices` is a device of this machine."""
  available = tf.config.list_logical_devices()
  known = {(d.device_type, tf.DeviceSpec.from_string(d.name).device_index)
           for d in available}
  for device in devices:
    try:
      spec = tf.DeviceSpec.from_string(device)
    except ValueError as e:
      raise ValueError(f"--devices: {device!r} is not a device name ({e}); "
                       "use names like /cpu:0 or /gpu:1.") from e
    if (spec.device_type or "", spec.device_index or 0) not in known:
      names = ", ".join(d.name.replace("/device:", "/").lower()
                        for d in available)
      raise ValueError(f"--devices: {device!r} does not exist on this machine "
                       f"(it has {names}); name existing devices, or leave "
                       "--devices empty for the strategy's default.")


def _check_tf_config():
  """A present `TF_CONFIG` must be JSON naming a cluster and this task in it."""
  text = os.environ.get("TF_CONFIG")
  if not text:
    return
  try:
    config = json.loads(text)
    task = config.get("task", {})
    members = config["cluster"][task["type"]]
    members[int(task["index"])]  # pylint: disable=pointless-statement
  except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
    raise ValueError(
        f"TF_CONFIG is not a cluster this task belongs to ({type(e).__name__}: "
        f"{e}); set it to e.g. '{{\"cluster\": {{\"worker\": "
        "[\"host0:12345\", \"host1:12345\"]}, \"task\": {\"type\": "
        "\"worker\", \"index\": 0}}' (see README: running on a cluster).") from e


def task_name(strategy):
  """`"worker 1"`-style name of this process in its cluster (`"chief"` alone)."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return "chief"
  return f"{resolver.task_type} {resolver.task_id}"


def is_chief(strategy):
  """Whether this process writes the run folder: the only process of a
  one-host strategy, else task `chief`, or `worker` 0 of a cluster without one."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  if resolver.task_type == "chief":
    return True
  jobs = resolver.cluster_spec().as_dict()
  return ("chief" not in jobs and resolver.task_type == "worker" and
          int(resolver.task_id) == 0)


def is_chief_task(strategy_name):
  """`is_chief` before the strategy exists, from `TF_CONFIG` alone: whether
  this process will write the run folder of a `strategy_name` run (a
  malformed `TF_CONFIG` counts as the chief; `make_strategy` refuses it)."""
  if strategy_name != "multi_worker_mirrored":
    return True
  try:
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task, jobs = config.get("task") or {}, config.get("cluster") or {}
    if not task.get("type"):
      return True
    return task["type"] == "chief" or (
        "chief" not in jobs and task["type"] == "worker" and
        int(task.get("index", 0)) == 0)
  except (ValueError, TypeError, AttributeError, KeyError):
    return True


def barrier(strategy):
  """Returns when every worker got here (a one-number all-reduce); a no-op on one host."""
  if getattr(strategy, "cluster_resolver", None) is None:
    return
  ones = strategy.run(lambda: tf.constant(1., tf.float32))
  strategy.reduce(tf.distribute.ReduceOp.SUM, ones, axis=None)


def max_over_workers(strategy, value):
  """The largest of every worker's Python `int` `value` (a one-number
  all-gather, so every worker must call it at the same point); `value` itself
  on one host."""
  if getattr(strategy, "cluster_resolver", None) is None:
    return int(value)
  # An all-gather, then the max here: `tf.distribute.ReduceOp` has no MAX
  # (only SUM and MEAN). float32, which every collective implementation
  # handles (small ints are exact in it).
  values = strategy.run(lambda: tf.constant([float(value)], tf.float32))
  return int(round(float(tf.reduce_max(strategy.gather(values, axis=0)))))
