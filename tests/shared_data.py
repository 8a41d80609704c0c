"""The shared data some tests need: skipped without it on a laptop, FAILED without it in CI.

    @shared_data.needs("mnist_test.npz")          # a test, a class, `pytestmark`
    def test_on_real_mnist(): ...

    shared_data.require("fashion_mnist_test.npz")   # inside a test

The files are looked for in `glow_ood.data.default_data_dir()`
(`$GLOW_OOD_DATA_DIR`, else `../shared/data` beside the checkout, where CI
has them). When one is missing, the test is skipped with the reason, unless
`CI` is set (`CI=true`, as `.ci/run` and most CI services set it): then it
fails with the same reason, so a CI run that lost its data cannot pass by
skipping the tests that need it. The marker is `needs_data`, applied by
`tests/conftest.py` before the test runs.
"""

import os

import pytest

from glow_ood.data import sources

__all__ = ["data_dir", "in_ci", "missing", "require", "needs"]


def data_dir():
  """Where the shared data is looked for (read at each call)."""
  return sources.default_data_dir()


def in_ci():
  """Whether this is a CI run: `CI` set to `true`, `1` or `yes`."""
  return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(names):
  """The names of `names` that are not files in `data_dir()`."""
  return [name for name in names
          if not os.path.isfile(os.path.join(data_dir(), name))]


def require(*names):
  """Skips the running test (fails it under CI) unless every file of `names` is there."""
  absent = missing(names)
  if not absent:
    return
  reason = (f"needs the shared data: {', '.join(absent)} not in {data_dir()} "
            "(set GLOW_OOD_DATA_DIR to the folder of ../shared/data's files)")
  if in_ci():
    pytest.fail(f"{reason}; CI is set, so a missing data file fails the "
                "test instead of skipping it", pytrace=False)
  pytest.skip(reason)


def needs(*names):
  """The marker of a test that needs the files `names` (see `require`)."""
  return pytest.mark.needs_data(*names)
