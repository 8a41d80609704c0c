"""Catalogue: a worker of a two-worker cluster lost (kill -9) or hung (SIGSTOP), through `launch/train.py`.

Each case resumes a copy of the catalogue's finished tiny run (ckpt-2, ckpt-4:
tests/catalogue/runs_test.py) on two loopback workers
(`--strategy=multi_worker_mirrored`), checkpointing every 2 steps, and one
worker (the chief, worker 0, or worker 1) sends itself SIGKILL or SIGSTOP
after step 7 (`glow_ood.train.faults`), once ckpt-6 is saved. What the
issue promises: the other worker exits with code
`glow_ood.train.lost_workers.EXIT_CODE` (69) within a bounded time (a dead
worker: at its next collective; a hung one: after `--worker_timeout_seconds`
without heartbeats, plus the probe), no traceback, one line naming the lost
task and its address, why (gone, or not answering: hung), the newest
checkpoint (ckpt-6) and the command; the checkpoints before are
byte-identical; a surviving chief's training.json records the stop
(`worker_lost`, the line, step 7, ckpt-6), a lost chief leaves the
previous one. Then, as the line says, the same commands on both workers
resume at step 6 and finish (after a kill; a hung worker, once killed as the
line says, leaves the same folder).
The exact comparison with a one-process run: tests/launch/train_multi_worker_test.py.
"""

import json
import shlex

import pytest

from glow_ood.train import lost_workers
from tests.catalogue import harness
from tests.catalogue.runs_test import TRAIN
from tests.catalogue.runs_test import Context
from tests.catalogue.runs_test import finished  # pylint: disable=unused-import
from tests.launch import loopback_cluster
from tests.launch.train_multi_worker_test import lost_line

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow

STEPS = 10
FAULT_AFTER, NEWEST = 7, 6    # the fault after step 7; ckpt-6 is the newest
TIMEOUT = 5                   # --worker_timeout_seconds
GONE = "the process is gone (its address refuses connections)"
HUNG = (f"it does not answer within {min(TIMEOUT, lost_workers.PROBE_SECONDS):g}"
        " s (hung, frozen or cut off)")


def _args(c):
  return [TRAIN, f"--flagfile={c.workdir / 'flags.cfg'}",
          f"--workdir={c.workdir}", "--strategy=multi_worker_mirrored",
          f"--train_steps={STEPS}", "--log_every=1", "--checkpoint_every=2",
          f"--worker_timeout_seconds={TIMEOUT}", "--num_samples=0"]


def _lost_and_resumed(c, victim, signal_name, why, within, resume=True):
  temp_dir = c.tmp / "worker_tmp"
  temp_dir.mkdir()
  kept = c.checkpoint_files(2) | c.checkpoint_files(4)
  record = harness.snapshot(c.workdir / "training.json")
  workers, addresses = loopback_cluster.start(
      _args(c)[1:], temp_dir, faults={victim: f"{FAULT_AFTER}:{signal_name}"})
  seconds, outputs = loopback_cluster.lose(workers, victim)
  survivor = 1 - victim
  line = lost_line(outputs[survivor])
  assert line["task"] == f"worker {victim}"
  assert line["address"] == addresses[victim]
  assert line["why"] == why and line["me"] == f"worker {survivor}"
  assert line["stop"] == (f"worker {victim}" if why == HUNG else None)
  assert line["checkpoint"] == str(c.checkpoints / f"ckpt-{NEWEST}")
  assert int(line["step"]) == NEWEST
  assert seconds < within, seconds
  # training.json: the surviving chief records the stop (the line, with the
  # library's words for the command; the step it reached); a lost chief
  # writes nothing, and the previous launch's record stays.
  if survivor == 0:
    harness.assert_stop_recorded(
        c.workdir, "worker_lost", FAULT_AFTER,
        line.group(0).split(": ", 1)[1].replace(line["command"],
                                                "train(config, workdir)"),
        c.checkpoints / f"ckpt-{NEWEST}")
  else:
    assert harness.snapshot(c.workdir / "training.json") == record
  # The checkpoints that were there are byte-identical; ckpt-6 was added.
  assert c.checkpoint_files(2) | c.checkpoint_files(4) == kept
  assert sorted(c.checkpoint_files(NEWEST)) == [
      f"ckpt-{NEWEST}.data-00000-of-00001", f"ckpt-{NEWEST}.index"]
  # The line's command, on every worker again (the victim was killed by
  # `lose`: for a hung one, what the line says to do first; then the folder
  # is as after a kill, so the hung cases stop here).
  args = shlex.split(line["command"])
  assert args == ["python", *_args(c)]
  if not resume:
    return
  workers, _ = loopback_cluster.start(args[2:], temp_dir)
  outputs = loopback_cluster.finish(workers)
  for code, stdout, stderr in outputs:
    assert code == 0, stderr[-3000:]
    assert f"Resumed from {line['checkpoint']} at step {NEWEST}." in stdout
  assert f"step {STEPS}/{STEPS}" in outputs[0][1]
  assert json.loads((c.workdir / "training.json").read_text())[
      "stop_reason"] == "train_steps"


# Bounds with room for a loaded machine; measured on 2 shared cores: about
# 1 s for a dead worker, 9-11 s for a hung one (5 s timeout + 5 s probe).
def worker_killed(c):
  _lost_and_resumed(c, 1, "SIGKILL", GONE, within=30)


def chief_killed(c):
  _lost_and_resumed(c, 0, "SIGKILL", GONE, within=30)


def worker_hangs(c):
  _lost_and_resumed(c, 1, "SIGSTOP", HUNG, within=2 * TIMEOUT + 30,
                    resume=False)


def chief_hangs(c):
  _lost_and_resumed(c, 0, "SIGSTOP", HUNG, within=2 * TIMEOUT + 30,
                    resume=False)


CASES = [pytest.param(case, id=case.__name__.replace("_", "-")) for case in (
    worker_killed, chief_killed, worker_hangs, chief_hangs)]


@pytest.mark.parametrize("case", CASES)
def test_case(case, finished, tmp_path):  # pylint: disable=redefined-outer-name
  case(Context(finished, tmp_path))
