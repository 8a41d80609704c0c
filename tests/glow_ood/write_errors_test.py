"""Tests of `glow_ood.write_errors`: real refusals of the kernel and of TensorFlow, read back.

`/dev/full` answers every write with ENOSPC, as a full disk does, for
Python's writes and TensorFlow's file IO alike: the errors converted here
are the ones the system raises, not hand-made ones (but for EROFS, which
needs a read-only mount, built as the kernel reports it).
"""

import errno
import os

import pytest
import tensorflow as tf

from glow_ood import write_errors
from tests import disk_faults


def _python_write_to_dev_full():
  with pytest.raises(OSError) as info:
    with open(disk_faults.DEV_FULL, "w", encoding="utf-8") as f:
      f.write("{}")
  return info.value


def _tensorflow_write_to_dev_full():
  with pytest.raises(tf.errors.OpError) as info:
    tf.io.write_file(disk_faults.DEV_FULL, "x" * 10)
  return info.value


def test_a_full_disk_of_python_is_one_line_naming_the_file_and_the_errno():
  error = _python_write_to_dev_full()
  assert error.errno == errno.ENOSPC
  failed = write_errors.from_error(error, "runs/x/results.json")
  assert str(failed) == (
      "cannot write runs/x/results.json: [Errno 28] No space left on device. "
      "Fix: free space on that disk, then rerun the same command.")
  assert isinstance(failed, OSError) and failed.errno == errno.ENOSPC


def test_a_full_disk_of_tensorflow_gives_its_errno_and_path_back():
  error = _tensorflow_write_to_dev_full()
  assert not isinstance(error, OSError)   # TensorFlow's own error, no errno
  failed = write_errors.from_error(error)
  assert (failed.errno, failed.path) == (errno.ENOSPC, disk_faults.DEV_FULL)
  named = write_errors.from_error(error, "runs/x/checkpoints/ckpt-7")
  assert named.path == "runs/x/checkpoints/ckpt-7"


def test_tensorflow_read_only_message_as_seen_on_a_read_only_mount():
  error = tf.errors.PermissionDeniedError(None, None, (
      "{{function_node __wrapped__SaveV2_dtypes_3_device_/job:localhost/"
      "replica:0/task:0/device:CPU:0}} /mnt/ro/checkpoints/ckpt-4_temp; "
      "Read-only file system [Op:SaveV2]"))
  failed = write_errors.from_error(error)
  assert (failed.errno, failed.path) == (errno.EROFS,
                                         "/mnt/ro/checkpoints/ckpt-4_temp")
  assert "make that file system writable again" in str(failed)


def test_what_resumes_ends_the_line():
  failed = write_errors.from_error(_python_write_to_dev_full(),
                                   "runs/x/checkpoints/ckpt-7")
  line = str(failed.resuming("the run resumes from ckpt-6 (step 6)"))
  assert line == (
      "cannot write runs/x/checkpoints/ckpt-7: [Errno 28] No space left on "
      "device. Fix: free space on that disk, then rerun the same command; "
      "the run resumes from ckpt-6 (step 6).")
  assert "\n" not in line
  assert str(failed.at("elsewhere")).startswith("cannot write elsewhere: ")


@pytest.mark.parametrize("number", [errno.EROFS, errno.EACCES, errno.EDQUOT])
def test_every_errno_of_a_refused_write_has_its_fix(number):
  failed = write_errors.from_error(
      OSError(number, os.strerror(number), "f.tmp"), "f")
  assert f"[Errno {number}] {os.strerror(number)}. Fix: " in str(failed)
  assert failed.path == "f"


def test_other_errors_are_not_the_disks():
  assert write_errors.from_error(
      FileNotFoundError(errno.ENOENT, "No such file or directory", "x")) is None
  assert write_errors.from_error(ValueError("x; No space left on device")) is None
  assert write_errors.from_error(tf.errors.InvalidArgumentError(
      None, None, "shapes differ")) is None
  # A permission error may be a read: only where a write is known.
  denied = PermissionError(errno.EACCES, "Permission denied", "data.npz")
  assert write_errors.from_error(
      denied, errnos=write_errors.ENVIRONMENT_ERRNOS) is None
  assert write_errors.from_error(denied) is not None


def test_a_converted_error_is_kept_as_it_is():
  failed = write_errors.WriteFailedError("a", errno.ENOSPC, "resumes")
  assert write_errors.from_error(failed, "b") is failed
