"""The two-moons launcher (Appendix C, Figure 8) end to end: table, files, resume, errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests import REPO
from tests import launcher_error_line
from tests.launch import in_process

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow

TINY = ["--num_examples=64", "--num_eval_examples=48", "--num_couplings=2",
        "--hidden_width=8", "--train_steps=15", "--batch_size=32",
        "--learning_rate=0.01"]


def launch(output_dir, *extra):
  command = [sys.executable, "launch/two_moons.py",
             f"--output_dir={output_dir}", *TINY, *extra]
  return subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                        timeout=300, check=False)


def table_rows(stdout):
  """`[(D, scale, log p(z), bound, log det, bound, L, NLL)]` of the table."""
  rows = []
  for line in stdout.splitlines():
    parts = line.split()
    if len(parts) == 8 and parts[0].isdigit():
      rows.append((int(parts[0]), parts[1], *map(float, parts[2:])))
  return rows


def test_trains_prints_the_table_writes_files_and_resumes(tmp_path):
  output_dir = tmp_path / "two_moons"
  first = launch(output_dir, "--dims=2,4", "--scales=exp,sigmoid")
  assert first.returncode == 0, first.stderr[-3000:]
  assert "Trained 4 of 4 cells" in first.stdout
  assert first.stdout.count(" trained in ") == 4
  rows = table_rows(first.stdout)
  assert [(r[0], r[1]) for r in rows] == [(2, "exp"), (4, "exp"),
                                          (2, "sigmoid"), (4, "sigmoid")]
  for dims, scale, log_prob_z, z_bound, log_det, det_bound, lipschitz, nll in rows:
    assert np.isclose(z_bound, -dims / 2 * np.log(2 * np.pi), atol=0.006)
    assert log_prob_z <= z_bound and log_det <= det_bound + 0.01
    assert np.isclose(nll, -(log_prob_z + log_det), atol=0.02)
    if scale == "sigmoid":
      assert det_bound == 0.
    else:
      assert np.isclose(det_bound, dims * np.log(lipschitz), rtol=0.01,
                        atol=0.02)
  results = json.loads((output_dir / "results.json").read_text())
  assert len(results["cells"]) == 4
  assert results["config"]["train_steps"] == 15
  for name in ("limiting_bounds.png", "limiting_bounds.pdf"):
    assert (output_dir / name).stat().st_size > 1000

  # Same command plus one dim: the 4 finished cells are read back, 2 trained.
  second = in_process.run("launch/two_moons.py", f"--output_dir={output_dir}",
                          *TINY, "--dims=2,4,6", "--scales=exp,sigmoid")
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Trained 2 of 6 cells" in second.stdout
  assert second.stdout.count(" resumed from ") == 4
  assert second.stdout.count(" trained in ") == 2
  assert table_rows(second.stdout)[:2] == rows[:2]
  assert len(json.loads((output_dir / "results.json").read_text())["cells"]) == 6

  # Other model settings in the same folder: one clear line, nothing trained.
  third = in_process.run("launch/two_moons.py", f"--output_dir={output_dir}",
                         *TINY, "--dims=2", "--hidden_width=16")
  line = launcher_error_line(third, "launch/two_moons.py")
  assert "hidden_width=8 in the file, 16 now" in line


@pytest.mark.parametrize("flags, message", [
    (["--scales=exp,tanh"],
     "TwoMoonsConfig.scales='tanh' is not one of ('exp', 'sigmoid')"),
    (["--dims=2,5"], "dims must be even integers >= 2"),
    (["--dims=2,x"], "--dims must be a comma-separated list of integers"),
])
def test_bad_flags_fail_with_one_line_before_training(tmp_path, flags, message):
  output_dir = tmp_path / "bad"
  result = in_process.run("launch/two_moons.py", f"--output_dir={output_dir}",
                          *TINY, *flags)
  assert result.returncode == 1
  assert message in launcher_error_line(result, "launch/two_moons.py")
  assert not output_dir.exists()
