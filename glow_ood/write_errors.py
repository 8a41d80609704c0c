"""A write the disk refused (full, read-only, not permitted): one line naming the file and the errno.

    try:
      manager.save(checkpoint_number=7)
    except Exception as e:
      failed = write_errors.from_error(e, "runs/x/checkpoints/ckpt-7")
      if failed is None:
        raise                     # not the disk's doing
      raise failed from e

`str(WriteFailedError)` is the line a user reads, e.g.

    cannot write runs/x/checkpoints/ckpt-7: [Errno 28] No space left on
    device. Fix: free space on that disk, then rerun the same command; the
    run resumes from ckpt-6 (step 6).

(one line; `resuming(...)` adds the clause after the command, which only
the program that knows its checkpoints can say). The launchers print it as
`launch/<program>.py: error: <line>` and exit with `EXIT_CODE`.

Python's writes raise `OSError` with an `errno`. TensorFlow's file IO
(checkpoints, TensorBoard events, SavedModels) raises a `tf.errors.OpError`
without one; its message ends with the C library's text for the errno. Seen
with TF 2.21, a checkpoint saved onto a full 64 KB tmpfs and onto a
read-only bind mount:

    ResourceExhaustedError: {{function_node __wrapped__SaveV2_...}}
      .../ckpt-6_temp/part-00000-of-00001.data-00000-of-00001.tempstate88...;
      No space left on device [Op:SaveV2]
    PermissionDeniedError: {{...}} .../ckpt-4_temp; Read-only file system
      [Op:SaveV2]

`from_error` reads the errno back from that text (`os.strerror` of each of
`ERRNOS`) and the path from the word before it. Pure Python: no TensorFlow.
"""

import errno as errno_lib
import os
import re

__all__ = ["EXIT_CODE", "ERRNOS", "ENVIRONMENT_ERRNOS", "WriteFailedError",
           "from_error"]

# The exit code of a launcher whose write failed: EX_IOERR of sysexits.h
# ("an error occurred while doing I/O on some file"). Not 1 (a user error),
# not 75 (preempted: `glow_ood.train.preemption.EXIT_CODE`).
EXIT_CODE = 74

# Errnos of a write the file system refused, with what the user does.
_FIXES = {
    errno_lib.ENOSPC: "free space on that disk",
    errno_lib.EDQUOT: "free space or raise your disk quota there",
    errno_lib.EFBIG: "the file outgrew what that file system allows: free "
                     "space or move the folder to another file system",
    errno_lib.EROFS: "make that file system writable again (it is mounted "
                     "read-only) or move the folder to one that is",
    errno_lib.EACCES: "give this user write permission there",
    errno_lib.EPERM: "give this user write permission there",
    errno_lib.EIO: "check that disk (the kernel reported an I/O error)",
}
ERRNOS = tuple(_FIXES)
# The errnos that only a write meets (no read fails so): what a launcher
# turns into a `WriteFailedError` wherever it comes from.
ENVIRONMENT_ERRNOS = (errno_lib.ENOSPC, errno_lib.EDQUOT, errno_lib.EFBIG,
                      errno_lib.EROFS)


class WriteFailedError(OSError):
  """A write the file system refused; `str()` is the one line the user reads.

  Attributes:
    path: the file (or checkpoint prefix, or folder) that was being written,
      or `None` if the error did not name it.
    errno, strerror: as in `OSError`.
    resume: what rerunning the command does, e.g. `"the run resumes from
      ckpt-6 (step 6)"`, or `None`.
  """

  def __init__(self, path, errno, resume=None):
    path = None if path is None else os.fspath(path)
    super().__init__(errno, os.strerror(errno), path)
    self.path = path
    self.resume = resume

  def resuming(self, resume):
    """The same error, saying what rerunning does (`resume`)."""
    return WriteFailedError(self.path, self.errno, resume)

  def at(self, path):
    """The same error, naming `path` instead (e.g. the file a staged one becomes)."""
    return WriteFailedError(path, self.errno, self.resume)

  def __str__(self):
    fix = _FIXES.get(self.errno, "make that folder writable")
    what = (f"cannot write {self.path}" if self.path is not None else
            "a write failed (the file was not named)")
    return (f"{what}: [Errno {self.errno}] {self.strerror}. "
            f"Fix: {fix}, then rerun the same command"
            + (f"; {self.resume}" if self.resume else "") + ".")


def _tensorflow_errno(error):
  """`(errno, path)` from a `tf.errors.OpError`'s message, or `None`."""
  if getattr(error, "error_code", None) is None:   # not a tf.errors.OpError
    return None
  message = str(getattr(error, "message", "") or error)
  for number in ERRNOS:
    match = re.search(r"(\S*); " + re.escape(os.strerror(number)) + r"\b",
                      message)
    if match:
      return number, match.group(1)
  return None


def from_error(error, path=None, errnos=ERRNOS):
  """`error` as a `WriteFailedError`, or `None` if the disk did not refuse a write.

  Args:
    error: any exception. A `WriteFailedError` is returned as it is; an
      `OSError` whose errno is in `errnos`, or a TensorFlow error whose
      message ends with such an errno's text, is converted.
    path: what was being written, for the message. Default value: the
      error's own file name (for TensorFlow, the temporary file it named).
    errnos: the errnos that count. Default value: `ERRNOS`.
  """
  if isinstance(error, WriteFailedError):
    return error
  if isinstance(error, OSError):
    if error.errno not in errnos:
      return None
    found = (error.errno, error.filename)
  else:
    found = _tensorflow_errno(error)
    if found is None or found[0] not in errnos:
      return None
  number, named = found
  return WriteFailedError(path if path is not None else (named or None),
                          number)
