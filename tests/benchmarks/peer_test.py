"""Tests of `benchmarks.peer_timing` (the parts of `benchmarks/peer.py`): the alternation, the summary and our timing worker (the PyTorch side needs the peer's own virtualenv and is not run here).

`benchmarks/peer.py` itself defines absl flags that launch/ programs define
too, so it is not imported in the test process.
"""

import os
import sys

import pytest

from benchmarks import peer_timing as peer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Clock:
  """A worker whose calls take fixed seconds; records the order of requests."""

  def __init__(self, name, seconds, log):
    self.name, self._seconds, self._log = name, seconds, log

  def seconds(self, mode, calls):
    self._log.append((self.name, mode, calls))
    return self._seconds[mode] * calls


def test_sides_alternate_who_goes_first_and_rates_are_images_per_second():
  log = []
  workers = {"ours": _Clock("ours", {"train": .5, "log_prob": .1}, log),
             "peer": _Clock("peer", {"train": 1., "log_prob": .1}, log)}
  rates = peer.alternate(workers, rounds=2, calls=3, batch=4)
  assert log == [("ours", "train", 3), ("peer", "train", 3),
                 ("ours", "log_prob", 3), ("peer", "log_prob", 3),
                 ("peer", "train", 3), ("ours", "train", 3),
                 ("peer", "log_prob", 3), ("ours", "log_prob", 3)]
  assert rates["train"]["ours"] == pytest.approx([8., 8.])   # 4 / 0.5
  assert rates["train"]["peer"] == pytest.approx([4., 4.])
  lines = peer.summary_lines(rates)
  assert "ours / peer 2.00x (rounds 2.00x .. 2.00x)" in lines[0]
  assert "ours / peer 1.00x" in lines[1]


def test_a_worker_that_dies_is_reported_by_name():
  with pytest.raises(RuntimeError, match="The peer worker exited \\(3\\)"):
    peer.Worker("peer", [sys.executable, "-c", "import sys; sys.exit(3)"])


def test_our_worker_serves_timings():
  worker = peer.Worker("ours", [
      sys.executable, os.path.join(REPO, "benchmarks", "glow_worker.py"),
      "--num_levels=2", "--num_steps_per_level=1", "--hidden_width=8",
      "--batch_size=2", "--image_size=8", "--channels=1"])
  try:
    assert worker.banner.startswith("ready tensorflow ")
    assert worker.seconds("train", 2) > 0
    assert worker.seconds("log_prob", 1) > 0
  finally:
    worker.close()


def test_worker_commands_carry_the_architecture():
  arch = peer.Architecture(num_levels=2, num_steps_per_level=8, hidden_width=64,
                           batch_size=32, image_size=32, channels=3)
  commands = peer.commands(arch, "bfloat16", "/venv/bin/python",
                           "/src/glow-pytorch")
  assert commands["peer"][0] == "/venv/bin/python"
  assert "--levels=2" in commands["peer"] and "--width=64" in commands["peer"]
  assert "--precision=bfloat16" in commands["peer"]
  assert "--peer_repo=/src/glow-pytorch" in commands["peer"]
  assert "--num_levels=2" in commands["ours"]
  assert "--mixed_precision=bfloat16" in commands["ours"]


def test_no_test_imports_a_benchmark_program_that_defines_flags():
  # A program's absl flags would clash with launch/'s in the same process.
  import sys as sys_lib  # pylint: disable=g-import-not-at-top,reimported
  for name in ("benchmarks.peer", "benchmarks.throughput",
               "benchmarks.architecture_flags"):
    assert name not in sys_lib.modules, name
