"""`tf.distribute` strategies by name."""

import tensorflow.compat.v2 as tf

from glow_ood.configs.train import STRATEGIES

__all__ = ["STRATEGIES", "make_strategy", "check_global_batch"]

def make_strategy(name, devices=()):
  """Returns the strategy `name` over `devices` (default: the strategy's own choice).

  Args:
    name: `"mirrored"` (all local GPUs, else the CPU), `"one_device"` (the first
      of `devices`, else GPU:0 or CPU:0) or `"multi_worker_mirrored"` (reads
      `TF_CONFIG`; a single worker without it).
    devices: sequence of device names, e.g. `("/cpu:0", "/cpu:1")`.
  """
  devices = list(devices)
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
