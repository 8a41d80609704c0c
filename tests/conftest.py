"""Test-session setup shared by every test under `tests/`.

Runs before any test module imports TensorFlow:
  * `TF_USE_LEGACY_KERAS=1`, so `tf.keras` is tf-keras (the Keras TFP tracks;
    Keras-3 layers inside a `tf.Module` are invisible to `trainable_variables`);
  * `TF_CPP_MIN_LOG_LEVEL=2`, to quiet TensorFlow's C++ start-up logging;
  * `TF_ENABLE_ONEDNN_OPTS=1`, the kernels `glow_ood` turns on (see
    `glow_ood.environment.use_onednn`);
  * the repository root on `sys.path`, so `import bijectors` / `import
    glow_ood` work without installing the package;
  * two logical CPU devices, so distributed tests can run a two-replica
    `tf.distribute.MirroredStrategy` on one CPU;
  * under pytest-xdist (`-n auto`, the README's command), one intra-op thread
    per worker when there are as many workers as cores, so the workers do not
    fight over the cores (the launchers' subprocesses keep TensorFlow's
    defaults).
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")   # as the library sets it

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
  sys.path.insert(0, _REPO_ROOT)

# pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf

NUM_LOGICAL_CPUS = 2


def _configure_logical_cpus(num_devices):
  """Splits the CPU into `num_devices` logical devices (before any TF op)."""
  cpus = tf.config.list_physical_devices("CPU")
  try:
    tf.config.set_logical_device_configuration(
        cpus[0],
        [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])
  except RuntimeError:
    # The runtime was already initialized (e.g. by a plugin that ran a TF op):
    # virtual devices can no longer be configured. Distributed tests check
    # `tf.config.list_logical_devices("CPU")` and skip if there are too few.
    pass


_configure_logical_cpus(NUM_LOGICAL_CPUS)


def _share_the_cores_between_workers():
  workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
  if workers > 1 and workers >= (os.cpu_count() or 1):
    tf.config.threading.set_intra_op_parallelism_threads(1)


_share_the_cores_between_workers()


def pytest_collection_modifyitems(config, items):
  """Drops `tf.test.TestCase.test_session`: a context manager, not a test.

  pytest would otherwise collect it in every `tf.test.TestCase` class and
  report it as skipped ("Not a test."), hiding real skips among them.
  """
  kept = [item for item in items if item.name != "test_session"]
  dropped = [item for item in items if item.name == "test_session"]
  if dropped:
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept
