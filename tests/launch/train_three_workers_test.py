"""Three workers on loopback, one of them lost: both survivors name it, and a restart of all three finishes.

The two-worker test (tests/launch/train_multi_worker_test.py) has one
survivor; a cluster of more has several, each of which must find the lost
task by itself (its own collective fails, or the coordination service aborts
it) and tell it from the survivors, which are still there when it asks. So:
three workers of the smoke flagfile (`--strategy=multi_worker_mirrored`),
worker 2 kills itself (SIGKILL) after step 4 (`glow_ood.train.faults`). Both
survivors exit with code 69 within the bound below, each with one line
naming worker 2 and its address (and not each other), the newest checkpoint
(ckpt-3) and its command; the chief's training.json records the stop. The
line's command, started again on all three, resumes at step 3 and finishes.
The exact equality with a one-process run is the two-worker test's.
"""

import json
import shlex

import pytest

from glow_ood.train import lost_workers
from tests.launch import loopback_cluster
from tests.launch.train_multi_worker_test import CHECKPOINT_EVERY
from tests.launch.train_multi_worker_test import FLAGS as TWO_WORKER_FLAGS
from tests.launch.train_multi_worker_test import KILL_AFTER
from tests.launch.train_multi_worker_test import RESUME_STEP
from tests.launch.train_multi_worker_test import TRAIN_STEPS
from tests.launch.train_multi_worker_test import assert_complete_chief_folder
from tests.launch.train_multi_worker_test import lost_line
from tests.launch.train_test import needs_data

COUNT, VICTIM = 3, 2
TIMEOUT = 5   # --worker_timeout_seconds
# The smoke flagfile's batch of 16 does not divide by 3 replicas; no samples.
FLAGS = (*TWO_WORKER_FLAGS, "--batch_size=12", "--num_samples=0",
         f"--worker_timeout_seconds={TIMEOUT}")
# The stated bound (glow_ood.train.lost_workers): a survivor stops at once
# after its next collective with the dead worker fails, at the latest after
# the heartbeat timeout plus the probe; 20 s more for a loaded machine.
BOUND = TIMEOUT + min(TIMEOUT, lost_workers.PROBE_SECONDS) + 20


@needs_data
def test_three_workers_lose_one_both_survivors_stop_and_all_resume(tmp_path):
  workdir, temp_dir = tmp_path / "run", tmp_path / "tmp"
  temp_dir.mkdir()
  workers, addresses = loopback_cluster.start(
      [*FLAGS, f"--workdir={workdir}"], temp_dir, count=COUNT,
      faults={VICTIM: f"{KILL_AFTER}:SIGKILL"})
  chief_pids = [workers[0].pid]
  seconds, outputs = loopback_cluster.lose(workers, victim=VICTIM)
  assert outputs[VICTIM][0] == -9, outputs[VICTIM][2][-3000:]
  newest = workdir / "checkpoints" / f"ckpt-{RESUME_STEP}"
  commands = []
  for index in (0, 1):
    line = lost_line(outputs[index])
    assert (line["task"], line["address"]) == (f"worker {VICTIM}",
                                               addresses[VICTIM])
    assert line["me"] == f"worker {index}" and line["stop"] is None
    assert line["why"] == ("the process is gone (its address refuses "
                           "connections)")
    assert (line["checkpoint"], int(line["step"])) == (str(newest),
                                                       RESUME_STEP)
    assert f"step {KILL_AFTER}/{TRAIN_STEPS}" in outputs[index][1]
    commands.append(shlex.split(line["command"]))
  assert seconds < BOUND, seconds
  assert commands[0] == commands[1]
  # The chief recorded the stop, and nothing else: no results.
  record = json.loads((workdir / "training.json").read_text())
  assert (record["stop_reason"], record["step"], record["checkpoint"]) == (
      "worker_lost", KILL_AFTER, str(newest))
  assert not (workdir / "results.json").exists()
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == [
      "checkpoint", f"ckpt-{CHECKPOINT_EVERY}.data-00000-of-00001",
      f"ckpt-{CHECKPOINT_EVERY}.index"]

  # The line's command on all three again: each resumes at step 3; the
  # run finishes.
  assert commands[0][:2] == ["python", "launch/train.py"]
  workers, _ = loopback_cluster.start(commands[0][2:], temp_dir, count=COUNT)
  chief_pids.append(workers[0].pid)
  outputs = loopback_cluster.finish(workers)
  for code, stdout, stderr in outputs:
    assert code == 0, stderr[-3000:]
    assert f"Resumed from {newest} at step {RESUME_STEP}." in stdout
  assert "with 3 replica(s), global batch 12" in outputs[0][1]
  assert f"step {TRAIN_STEPS}/{TRAIN_STEPS}" in outputs[0][1]
  assert_complete_chief_folder(workdir, temp_dir, chief_pids)
  record = json.loads((workdir / "training.json").read_text())
  assert (record["stop_reason"], record["step"]) == ("train_steps",
                                                     TRAIN_STEPS)


# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
