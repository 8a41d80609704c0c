"""A benchmark's whole printed report, kept in a file with how it was made.

    with report_file.tee(path, argv=sys.argv):
      ...   # everything printed also goes to `path`

The file starts with a header: the command (`argv`, shell-quoted), the
commit (`git rev-parse HEAD`, "+dirty" with local changes), the machine as
`lscpu` names it with its SIMD flags and CPU count, and the UTC time; then
every line printed while the block runs. Numbers quoted from a run (README,
notes) cite the file. An existing file is never overwritten.
"""

import contextlib
import datetime
import os
import shlex
import sys

from absl import app

from glow_ood.experiments import records

__all__ = ["header", "tee", "run", "OutputExistsError"]


class OutputExistsError(FileExistsError):
  """The report file exists already."""


def portable_command(argv, run_dir="."):
  """`argv` with absolute paths (bare or as `--flag=<path>`) made relative to
  `run_dir`, the folder the program ran in (the repository root), so a kept
  report names no machine's folders."""
  def relative(arg):
    flag, sep, value = arg.rpartition("=")
    if os.path.isabs(value):
      return flag + sep + os.path.relpath(value, run_dir)
    return arg
  return [relative(arg) for arg in argv]


def header(argv, repo_dir="."):
  """The header lines: command (`portable_command`), commit, machine, time."""
  machine = records.machine_description()
  now = datetime.datetime.now(datetime.timezone.utc)
  command = portable_command(argv, repo_dir)
  if command and command[0].endswith(".py"):
    command.insert(0, "python")
  return [
      f"command: {shlex.join(command)}",
      f"commit: {records.git_commit(repo_dir)}",
      f"machine: {machine['model_name']}, {machine['cpus']} CPUs",
      f"simd flags: {' '.join(machine['simd_flags'])}",
      f"recorded: {now:%Y-%m-%d %H:%M} UTC",
      ""]


class _Tee:
  """A stream writing to both of two streams."""

  def __init__(self, first, second):
    self._streams = (first, second)

  def write(self, text):
    for stream in self._streams:
      stream.write(text)
    return len(text)

  def flush(self):
    for stream in self._streams:
      stream.flush()


@contextlib.contextmanager
def tee(path, argv, repo_dir="."):
  """Copies everything printed inside the block to `path` (after a header).

  Raises `OutputExistsError` (before anything runs) if `path` exists. An
  empty `path` copies nothing.
  """
  if not path:
    yield
    return
  if os.path.exists(path):
    raise OutputExistsError(
        f"--output={path} exists; choose a new file name (reports are "
        "never overwritten).")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "x", encoding="utf-8") as f:
    f.write("\n".join(header(argv, repo_dir)) + "\n")
    f.flush()
    stdout = sys.stdout
    sys.stdout = _Tee(stdout, f)
    try:
      yield
    finally:
      sys.stdout = stdout


def run(path, argv, report):
  """Calls `report()` inside `tee(path, argv)`; an existing `path` is a usage error.

  For an absl program's `main`: the refusal is one line and exit code 1,
  before anything is measured.
  """
  try:
    with tee(path, argv):
      report()
  except OutputExistsError as e:
    raise app.UsageError(str(e)) from None
