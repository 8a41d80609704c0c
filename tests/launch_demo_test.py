"""The README's main command (launch/demo.py) runs on real data."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.normpath(os.environ.get(
    "GLOW_OOD_DATA_DIR", os.path.join(REPO, os.pardir, "shared", "data")))


@pytest.mark.skipif(
    not os.path.exists(os.path.join(DATA_DIR, "cifar10_lossless_test.npz")),
    reason=f"real data not found in {DATA_DIR} (set GLOW_OOD_DATA_DIR)")
def test_demo_prints_bits_per_dim_for_both_splits():
  result = subprocess.run(
      [sys.executable, "launch/demo.py", "--preset=cpu_tiny", "--num_images=32",
       "--batch_size=16", f"--data_dir={DATA_DIR}"],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  lines = [l for l in result.stdout.splitlines() if "bits/dim" in l]
  assert len(lines) == 2, result.stdout
  for line in lines:
    bpd = float(line.split(":")[1].split()[0])
    assert 4.0 < bpd < 12.0, line   # untrained Glow on CIFAR-10
