"""One writer per run folder: a lock file that names its holder.

    with run_lock.hold("runs/x", fix="pass another --workdir"):
      ...   # no other process writes runs/x meanwhile

`hold(folder)` takes `<folder>/writer.lock` (`LOCK_FILE`) for the block, or
raises `RunFolderBusyError`, one line naming the holder (program, pid, host,
start, heartbeat) and what to do. The file holds the holder's record (JSON:
host, pid, program, command, start time); its mtime is the holder's
heartbeat, touched every `HEARTBEAT_SECONDS`. It is removed when the block
ends; a process killed inside the block leaves it behind, stale.

The rule, in order:
  1. The OS lock, `fcntl.flock(LOCK_EX | LOCK_NB)` on the file, decides
     first: the kernel (on NFS v4 / NLM, CephFS, GPFS: the file server)
     releases it when its process dies, however it dies. A lock held there
     is live: refused.
  2. With the OS lock taken, a record left in the file is stale and taken
     over, with one line naming its process, unless it names a process on
     another host whose heartbeat is younger than `STALE_SECONDS`: a file
     system whose locks stay on one host (FUSE mounts such as gcsfuse, NFS
     mounted with `local_lock`, Lustre with `localflock`) cannot show that
     process's lock, so it is refused too. A holder killed on another host
     is taken over `STALE_SECONDS` after its last heartbeat (the hosts'
     clocks are assumed to agree to within seconds).
  3. Where the file system refuses locks (`ENOLCK`, `EOPNOTSUPP`), the record
     alone: a process of this host that is not alive is stale, one of
     another host by its heartbeat; two programs starting in the same
     instant can then both get in.
The file is removed while still locked, and a process that locked a file
checks that it is still the one at the path (else it locks the new one), so
a release never lets two holders in. A folder that `hold` had to create is
removed again on release if nothing else was written into it (a refused
start leaves no trace). Holds are re-entrant within one process.
Pure Python: no TensorFlow.
"""

import contextlib
import dataclasses
import datetime
import json
import os
import shlex
import socket
import sys
import threading
import time
from typing import Optional

try:
  import fcntl
except ImportError:   # not POSIX: the record alone (rule 3)
  fcntl = None

__all__ = ["LOCK_FILE", "HEARTBEAT_SECONDS", "STALE_SECONDS",
           "RunFolderBusyError", "Holder", "read_holder", "hold", "hold_all"]

LOCK_FILE = "writer.lock"
HEARTBEAT_SECONDS = 30.
# A record of another host whose heartbeat is older is stale (4 missed beats).
STALE_SECONDS = 120.
# How long a reader waits for a record being written (a holder that has just
# locked the file).
_RECORD_WAIT_SECONDS = 1.


class RunFolderBusyError(ValueError):
  """Another live process writes the folder (a `ValueError`, like every
  folder a program cannot use, so the launchers print it as one line).

  Attributes:
    holder: the `Holder` of the lock, or `None` if its record is unreadable.
  """

  def __init__(self, message, holder):
    super().__init__(message)
    self.holder = holder


@dataclasses.dataclass(frozen=True)
class Holder:
  """The record of a lock's holder, and the age of its heartbeat in seconds."""
  host: str
  pid: int
  program: str
  command: str
  started: str
  heartbeat_age: Optional[float] = None

  def describe(self):
    """`"launch/train.py (pid 12, host h, started 2025-01-02 03:04:05)"`."""
    return (f"{self.program} (pid {self.pid} on host {self.host}, started "
            f"{self.started})")


def _age(seconds):
  seconds = max(0., seconds)
  if seconds < 120:
    return f"{seconds:.0f} s"
  if seconds < 7200:
    return f"{seconds / 60:.0f} min"
  if seconds < 172800:
    return f"{seconds / 3600:.0f} h"
  return f"{seconds / 86400:.0f} days"


def _program():
  """How the running program is named: `launch/train.py`, `pytest`, `python`."""
  argv0 = (sys.argv or [""])[0]
  if argv0 in ("", "-", "-c", "-m"):
    return "python"
  if argv0.endswith(".py"):
    parent = os.path.basename(os.path.dirname(os.path.abspath(argv0)))
    return f"{parent}/{os.path.basename(argv0)}"
  return os.path.basename(argv0) or "python"


def _own_record():
  return {"host": socket.gethostname(), "pid": os.getpid(),
          "program": _program(), "command": shlex.join(sys.argv or []),
          "started": datetime.datetime.now().astimezone().strftime(
              "%Y-%m-%d %H:%M:%S %Z").strip()}


def _parse(raw, mtime):
  try:
    values = json.loads(raw.decode("utf-8"))
    return Holder(host=str(values["host"]), pid=int(values["pid"]),
                  program=str(values.get("program", "?")),
                  command=str(values.get("command", "")),
                  started=str(values.get("started", "?")),
                  heartbeat_age=time.time() - mtime)
  except (ValueError, KeyError, TypeError, AttributeError):
    return None


def _read(path, wait=_RECORD_WAIT_SECONDS):
  """The `Holder` in the lock file `path`; `None` if it is missing or not a
  record after `wait` seconds (a holder that is writing it)."""
  deadline = time.monotonic() + wait
  while True:
    try:
      with open(path, "rb") as f:
        raw = f.read()
        mtime = os.fstat(f.fileno()).st_mtime
    except FileNotFoundError:
      return None
    holder = _parse(raw, mtime) if raw.strip() else None
    if holder is not None or time.monotonic() >= deadline:
      return holder
    time.sleep(0.05)


def read_holder(folder):
  """The `Holder` recorded in `<folder>/writer.lock`, or `None` (no file, or
  no record in it). Says nothing about whether it is live: `hold` decides."""
  return _read(os.path.join(folder, LOCK_FILE), wait=0.)


def _alive(pid):
  """Whether process `pid` of this host exists."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:   # another user's
    return True
  return True


def _first_missing(path):
  """The top folder of `path` that does not exist yet (`None` if it exists)."""
  path, missing = os.path.abspath(path), None
  while not os.path.lexists(path):
    missing, parent = path, os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return missing


def _remove_empty(folder, top):
  """Removes `folder` and its parents up to `top` while they are empty."""
  folder = os.path.abspath(folder)
  while True:
    try:
      os.rmdir(folder)
    except OSError:
      return
    if folder == top:
      return
    folder = os.path.dirname(folder)


class _Lock:
  """A held `writer.lock`: its descriptor, the heartbeat thread, the release."""

  def __init__(self, folder, fix):
    self.folder = os.path.abspath(folder)
    self.path = os.path.join(self.folder, LOCK_FILE)
    self.created = _first_missing(self.folder)
    self.fd, self.os_locked = None, False
    self.owned = False   # the file holds our record (ours to remove)
    self._stop = threading.Event()
    self._thread = None
    try:
      os.makedirs(self.folder, exist_ok=True)
      self._open_and_lock(fix)
      self._take_over_or_refuse(fix)
    except BaseException:
      self._close()
      raise

  def _open_and_lock(self, fix):
    for _ in range(20):
      try:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT |
                          getattr(os, "O_CLOEXEC", 0), 0o644)
      except PermissionError as e:
        if not os.path.exists(self.path):
          raise   # a folder this user cannot write: the caller's to refuse
        holder = _read(self.path, wait=0.)
        raise RunFolderBusyError(
            f"{self.folder} has a lock file {self.path} this user cannot "
            f"open ({e.strerror})" + (f", held by {holder.describe()}"
                                      if holder else "")
            + f": {fix}.", holder) from e
      if fcntl is None:
        return
      try:
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        holder = _read(self.path)
        os.close(self.fd)
        self.fd = None
        raise RunFolderBusyError(_busy_message(self.folder, holder, fix),
                                 holder) from None
      except OSError:   # ENOLCK, EOPNOTSUPP, ...: no locks here (rule 3)
        return
      try:
        current = os.stat(self.path)
      except FileNotFoundError:
        current = None
      if current is not None and os.path.samestat(os.fstat(self.fd), current):
        self.os_locked = True
        return
      # The holder removed the file between our open and our lock: the file
      # at the path now is the lock.
      os.close(self.fd)
      self.fd = None
    raise RunFolderBusyError(
        f"{self.path} keeps being replaced while this program locks it: "
        f"{fix}.", None)

  def _take_over_or_refuse(self, fix):
    holder = _read(self.path, wait=0. if self.os_locked else
                   _RECORD_WAIT_SECONDS)
    ours = holder is not None and (holder.host, holder.pid) == (
        socket.gethostname(), os.getpid())
    if holder is not None and not ours:
      if holder.host != socket.gethostname():
        if (holder.heartbeat_age or 0.) < STALE_SECONDS:
          raise RunFolderBusyError(_busy_message(self.folder, holder, fix),
                                   holder)
        reason = (f"its heartbeat stopped {_age(holder.heartbeat_age)} ago "
                  f"(a record from another host is stale after "
                  f"{_age(STALE_SECONDS)})")
      elif self.os_locked:
        reason = "that process no longer holds it (it was killed?)"
      elif _alive(holder.pid):
        raise RunFolderBusyError(_busy_message(self.folder, holder, fix),
                                 holder)
      else:
        reason = "that process is no longer alive"
      print(f"Took over the lock {self.path} left by {holder.describe()}: "
            f"{reason}.", flush=True)
    data = json.dumps(_own_record()).encode("utf-8")
    os.pwrite(self.fd, data, 0)
    os.ftruncate(self.fd, len(data))
    os.fsync(self.fd)
    self.owned = True
    self._thread = threading.Thread(target=self._beat, daemon=True,
                                    name=f"heartbeat of {self.path}")
    self._thread.start()

  def _beat(self):
    while not self._stop.wait(HEARTBEAT_SECONDS):
      with contextlib.suppress(OSError):
        os.utime(self.fd if os.utime in os.supports_fd else self.path)

  def _close(self):
    self._stop.set()
    if self._thread is not None:
      self._thread.join()
    if self.fd is not None:
      with contextlib.suppress(OSError):
        if self.owned and os.path.samestat(os.fstat(self.fd),
                                           os.stat(self.path)):
          os.remove(self.path)   # while still locked
      os.close(self.fd)
      self.fd = None
    if self.created is not None:
      _remove_empty(self.folder, self.created)

  release = _close


def _busy_message(folder, holder, fix):
  if holder is None:
    return (f"{folder} is in use: another process holds "
            f"{os.path.join(folder, LOCK_FILE)} (its record is not readable); "
            f"one writer per run folder: wait for it to end, or {fix}.")
  details = f"pid {holder.pid} on host {holder.host}, started {holder.started}"
  if holder.heartbeat_age is not None:
    details += f", heartbeat {_age(holder.heartbeat_age)} ago"
  elsewhere = ("" if holder.host == socket.gethostname() else
               f"; if it is gone, its lock is stale {_age(STALE_SECONDS)} "
               "after its last heartbeat")
  return (f"{folder} is in use by {holder.program} ({details}); one writer "
          f"per run folder: wait for it to end or stop it (`kill "
          f"{holder.pid}` on {holder.host}{elsewhere}), or {fix}.")


# Folders this process holds: `{absolute path: [_Lock, depth]}`.
_HELD = {}
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def hold(folder, fix="use another folder"):
  """Holds `<folder>/writer.lock` for the block (see the module's rule).

  Args:
    folder: the folder this program writes (made if missing; removed again
      on release if it is then empty).
    fix: what else the user can do, ending the refusal's line, e.g.
      `"pass another --workdir"`.

  Raises:
    RunFolderBusyError: another live process holds it; one line naming the
      holder (program, pid, host, start, heartbeat) and what to do.
    OSError: the folder or the lock file cannot be made (not writable).
  """
  key = os.path.abspath(folder)
  with _HELD_GUARD:
    if key in _HELD:
      _HELD[key][1] += 1
    else:
      _HELD[key] = [_Lock(key, fix), 1]
  try:
    yield
  finally:
    with _HELD_GUARD:
      _HELD[key][1] -= 1
      if not _HELD[key][1]:
        _HELD.pop(key)[0].release()


@contextlib.contextmanager
def hold_all(folders, fix="use another folder"):
  """`hold` of each of `folders` (duplicates once) for the block."""
  with contextlib.ExitStack() as stack:
    for folder in dict.fromkeys(os.path.abspath(f) for f in folders):
      stack.enter_context(hold(folder, fix))
    yield
