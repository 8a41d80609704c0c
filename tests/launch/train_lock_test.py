"""Two `launch/train.py` on one workdir: the second refuses naming the first, which completes untouched.

The first is a real subprocess on the smoke flagfile. Once it holds the
workdir (its record names its pid) it is paused (SIGSTOP), so the second
certainly meets a live holder however slow the machine; the second runs in
this process (`tests.launch.in_process`), then the first is resumed
(SIGCONT) and must finish as if nothing had happened.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from glow_ood.runs import lock as run_lock
from tests import REPO
from tests.launch.train_test import DATA_DIR
from tests.launch.train_test import launch_in_process
from tests.launch.train_test import needs_data
from tests.catalogue import harness

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow


def _wait_for_holder(workdir, process, timeout=300):
  deadline = time.time() + timeout
  while True:
    holder = run_lock.read_holder(str(workdir))
    if holder is not None and holder.pid == process.pid:
      return holder
    assert process.poll() is None, process.communicate()[1][-3000:]
    assert time.time() < deadline, "the first run never took the lock"
    time.sleep(0.05)


@needs_data
def test_a_second_train_on_a_live_workdir_refuses_and_the_first_completes(
    tmp_path):
  workdir = tmp_path / "run"
  first = subprocess.Popen(
      [sys.executable, "launch/train.py", "--flagfile=launch/flagfiles/smoke.cfg",
       f"--workdir={workdir}", f"--data_dir={DATA_DIR}"], cwd=REPO,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    holder = _wait_for_holder(workdir, first)
    assert holder.program == "launch/train.py"
    first.send_signal(signal.SIGSTOP)
    before = harness.snapshot(workdir)
    second = launch_in_process(workdir)
    line = harness.refused_launcher(
        second, "launch/train.py", f"{workdir} is in use by launch/train.py "
        f"(pid {first.pid} on host {holder.host}", "one writer per run folder",
        f"`kill {first.pid}`", "or train into another --workdir.")
    harness.assert_unchanged(before, workdir)   # the second wrote nothing
    assert "Training" not in second.stdout
  finally:
    first.send_signal(signal.SIGCONT)
  out, err = first.communicate(timeout=600)
  assert first.returncode == 0, err[-3000:]
  assert "step 6/6" in out and "out-of-distribution" in out
  assert json.loads((workdir / "results.json").read_text())["step"] == 6
  assert not (workdir / run_lock.LOCK_FILE).exists()
  print(line)
