"""What every launcher does first and last: environment, logging, one-line errors.

Import it before anything that imports TensorFlow:

    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from launch import bootstrap  # pylint: disable=g-bad-import-order

It keeps TFP on tf-keras (`TF_USE_LEGACY_KERAS=1`) and TensorFlow's C++
start-up lines quiet; `bootstrap.run(main, required=[...])` then runs an absl
program with TensorFlow's own INFO lines dropped from the terminal, and turns
the user errors of `USER_ERRORS` (bad flags, missing data or runs, a diverged
run) into one line `launch/<program>.py: error: <what and the fix>` and exit 1.
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN kernels also on AVX2-only CPUs (see glow_ood.environment.use_onednn).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# pylint: disable=g-import-not-at-top,wrong-import-position
import logging

from absl import app
from absl import flags
from absl import logging as absl_logging

__all__ = ["USER_ERRORS", "error_line", "run"]

# Errors that are the user's to fix (configuration, data, run folders), not
# bugs: printed as one line. `FloatingPointError` covers a diverged run.
USER_ERRORS = (ValueError, FileNotFoundError, FloatingPointError)


def error_line(program_file, error):
  """`"launch/<program>.py: error: <message on one line>"` for `sys.exit`."""
  text = " ".join(line.strip() for line in str(error).splitlines()
                  if line.strip())
  return f"launch/{os.path.basename(program_file)}: error: {text}"


class _QuietTensorFlowInfo(logging.Filter):
  """Drops TensorFlow's own INFO lines (e.g. one per checkpoint shard); ours stay."""

  def filter(self, record):
    return (record.levelno > logging.INFO or
            f"{os.sep}tensorflow{os.sep}" not in record.pathname)


def run(main, program_file, required=()):
  """`app.run(main)` with `required` flags, quiet TensorFlow, one-line user errors.

  Args:
    main: `main(argv)`; positional arguments are refused before it runs.
    program_file: the launcher's `__file__`, for the error line.
    required: names of flags that must be given.
  """
  def wrapped(argv):
    if len(argv) > 1:
      raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.get_logger().setLevel("ERROR")
    absl_logging.get_absl_logger().addFilter(_QuietTensorFlowInfo())
    try:
      return main(argv)
    except USER_ERRORS as e:
      sys.exit(error_line(program_file, e))

  if required:
    flags.mark_flags_as_required(list(required))
  app.run(wrapped)
