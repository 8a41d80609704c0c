"""Tests of `benchmarks.sections`: the report's arithmetic, memory readings and child processes."""

import sys

import numpy as np

from benchmarks import sections


def test_scaling_rows_cost_against_the_first_value_and_what_flops_predict():
  # Twice the FLOPs at half the images/s: cost 2x, as the FLOPs predict;
  # 3 * FLOPs * images/s: 3 * 1e6 * 400 = 1.2 GFLOP/s = 10% of a 12 GFLOP/s peak.
  table = {("hidden_width", 8): (400., 1e6), ("hidden_width", 16): (200., 2e6),
           ("batch_size", 4): (100., 5e5), ("batch_size", 8): (400., 5e5)}
  lines = sections.scaling([("hidden_width", [8, 16]), ("batch_size", [4, 8])],
                           lambda name, value: table[(name, value)],
                           {"conv": 12.})
  assert len(lines) == 5
  assert lines[1].split() == ["hidden_width=8", "400.00", "1.2", "(10.0%)",
                              "1.00x", "1.00x"]
  assert lines[2].split() == ["hidden_width=16", "200.00", "1.2", "(10.0%)",
                              "2.00x", "2.00x"]
  # A larger batch: the same FLOPs per image at 4x the rate costs 0.25x.
  assert lines[4].split()[-2:] == ["0.25x", "1.00x"]
  no_peak = sections.scaling([("batch_size", [4])],
                             lambda name, value: table[(name, value)], None)
  assert "%" not in no_peak[1]


def test_memory_line_reads_what_the_child_printed():
  child = [sys.executable, "-c",
           f"print('noise'); print('{sections.MEMORY_TAG} 2048 1024 0.5 3.0')"]
  assert sections.memory_line(child, False) == (
      "  recompute_couplings=False  peak   2.00 GB (model built and "
      "initialized:  1.00 GB)    0.50 s/step  (within the 4 GB target)")
  big = [sys.executable, "-c", f"print('{sections.MEMORY_TAG} 5120 1024 2 3')"]
  assert sections.memory_line(big, True).endswith("(above the 4 GB target)")
  failing = [sys.executable, "-c", "import sys; sys.exit('out of memory')"]
  assert sections.memory_line(failing, True) == (
      "  recompute_couplings=True: failed (out of memory)")


def test_resident_memory_grows_by_what_is_allocated():
  before = sections.resident_mb()
  block = np.ones(100 * 2 ** 20 // 8)   # 100 MB, every page touched
  after = sections.resident_mb()
  assert 90 < after - before < 200, (before, after)
  assert sections.peak_mb() >= after
  del block
