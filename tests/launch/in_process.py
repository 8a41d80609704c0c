"""Runs a launcher in this process, as `python launch/<program>.py ...` would, but faster.

A subprocess pays for importing TensorFlow every time; the error paths of the
launchers (bad flags, missing data, a changed run) need no fresh process, so
their tests call `run` instead, and each launcher keeps one real subprocess
test. The launcher's flags are defined on absl's global `FLAGS` while it runs
and removed afterwards, so launchers can run one after another.
"""

import contextlib
import io
import os
import runpy
import subprocess
import sys

from absl import flags

from tests import REPO


def run(script, *args, cwd=REPO):
  """`subprocess.CompletedProcess`-like result of `launch/<script>` with `args`, run in `cwd`.

  `returncode` is the exit code (`sys.exit("message")` counts as 1 with the
  message on stderr, as the interpreter would print it).
  """
  path = os.path.join(REPO, script)
  before = set(flags.FLAGS)
  stdout, stderr = io.StringIO(), io.StringIO()
  old_argv, old_cwd = sys.argv, os.getcwd()
  sys.argv = [path, *map(str, args)]
  os.chdir(cwd)
  code = 0
  try:
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
      try:
        runpy.run_path(path, run_name="__main__")
      except SystemExit as exit_:
        if isinstance(exit_.code, str):
          print(exit_.code, file=sys.stderr)
          code = 1
        else:
          code = exit_.code or 0
  finally:
    sys.argv = old_argv
    os.chdir(old_cwd)
    for name in set(flags.FLAGS) - before:
      delattr(flags.FLAGS, name)
    flags.FLAGS.unparse_flags()
  return subprocess.CompletedProcess([path, *args], code, stdout.getvalue(),
                                     stderr.getvalue())
