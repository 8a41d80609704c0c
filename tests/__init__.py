"""Tests of glow-ood, mirroring the tree: tests/bijectors, tests/glow_ood/<package>, tests/launch."""

import os

# The repository root (the launchers run from here).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def launcher_error_line(result, script):
  """The one `<script>: error: ...` line of a failed launcher run.

  Asserts what every launcher promises on a user error: exit code != 0, no
  traceback, exactly one line naming the problem (`result` from
  `subprocess.run` or `tests.launch.in_process.run`).
  """
  assert result.returncode != 0, result.stdout[-2000:]
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  lines = [line for line in result.stderr.splitlines()
           if line.startswith(f"{script}: error:")]
  assert len(lines) == 1, result.stderr[-3000:]
  return lines[0]
