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
    defaults);
  * tests that need the shared data (`@tests.shared_data.needs(...)`) are
    skipped without it, and fail without it under `CI=true`;
  * two tiers: the default suite (under 10 minutes on 2 cores) and the
    end-to-end tier marked `@pytest.mark.slow` (launchers in subprocesses,
    several trained models, the README's commands, two workers), which
    runs with `-m slow` (`.ci/run` runs both). A default run deselects the
    slow tests and says how many, and how to run them.
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

import pytest

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


SLOW_COMMAND = "python -m pytest -q -n auto --dist loadfile -m slow tests"


def pytest_configure(config):
  config.addinivalue_line(
      "markers", "slow: the end-to-end tier, not in the default suite; run it "
      f"with `{SLOW_COMMAND}` (.ci/run runs both tiers).")
  config.addinivalue_line(
      "markers", "needs_data(*files): the test reads these files of the "
      "shared data (GLOW_OOD_DATA_DIR); skipped without them, failed under "
      "CI=true (tests/shared_data.py).")


def pytest_runtest_setup(item):
  from tests import shared_data  # pylint: disable=g-import-not-at-top
  for marker in item.iter_markers(name="needs_data"):
    shared_data.require(*marker.args)


def pytest_collection_modifyitems(config, items):
  """Drops `tf.test.TestCase.test_session`, and the slow tier unless `-m` selects.

  pytest would otherwise collect `test_session` in every `tf.test.TestCase`
  class and report it as skipped ("Not a test."), hiding real skips among
  them. Without a `-m` expression, tests marked `slow` are deselected.
  """
  dropped = [item for item in items if item.name == "test_session"]
  if not config.getoption("markexpr"):
    dropped += [item for item in items if item.get_closest_marker("slow")]
  if dropped:
    ids = {id(item) for item in dropped}
    config.hook.pytest_deselected(items=dropped)
    items[:] = [item for item in items if id(item) not in ids]


def pytest_terminal_summary(terminalreporter, config):
  # Under pytest-xdist the workers collect, so the controller knows no count;
  # the "deselected" total of the summary line includes them.
  if not config.getoption("markexpr"):
    terminalreporter.write_line(
        "The end-to-end tier (tests marked slow) is not in the default suite; "
        f"run it with: {SLOW_COMMAND}")
