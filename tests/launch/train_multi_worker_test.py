"""Two workers on loopback ports train one run: `launch/train.py --strategy=multi_worker_mirrored`.

As a user scales out: the same command on every host, each with its own
`TF_CONFIG`, one shared run folder. The chief alone writes the folder. Worker
1 dies (SIGKILL, sent by itself after step `KILL_AFTER`:
`glow_ood.train.faults`), so the chief stops with the lost-worker line and
exit 69, naming the checkpoint of step `RESUME_STEP`; the same commands
again resume there and finish. The run then equals a one-process run of the
same global batch split over two local replicas: every weight of the final
checkpoint, the training loss of every step (TensorBoard's `train/`) and the
final bits/dim, to float32 rounding (relative 1e-5; the cross-process
all-reduce may sum in another order than the local one, and CI measured
differences of 4e-7 relative in Adamax's moments). A resume that repeats,
skips or loses a step moves the weights by about the learning rate (1e-3),
hundreds of times more.
"""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from glow_ood import fileio

from glow_ood import train as train_lib
from glow_ood.configs import TrainConfig
from glow_ood.plots import training_curves
from glow_ood.runs import folder as run_folder
from glow_ood.train import lost_workers
from tests.launch import loopback_cluster
from tests.launch.train_test import DATA_DIR
from tests.launch.train_test import needs_data


TRAIN_STEPS, CHECKPOINT_EVERY = 6, 3
KILL_AFTER, RESUME_STEP = 4, 3    # killed after step 4: ckpt-3 is the newest
FLAGS = ("--flagfile=launch/flagfiles/smoke.cfg", f"--data_dir={DATA_DIR}",
         "--strategy=multi_worker_mirrored", f"--train_steps={TRAIN_STEPS}",
         f"--checkpoint_every={CHECKPOINT_EVERY}", "--log_every=1",
         "--eval_num_examples=32")
# What the chief prints when its peer is gone (glow_ood.train.lost_workers).
LOST_LINE = re.compile(
    r"^launch/train\.py: Lost (?P<task>\w+ \d+) \((?P<address>[\d.:]+)\) of "
    r"the cluster: (?P<why>[^;]+); (?P<me>\w+ \d+) stopped\. "
    r"(?:Stop (?P<stop>\w+ \d+) \(kill it on its host\), then restart|Restart)"
    r" every worker with the same command, each with its own TF_CONFIG, to "
    r"resume from (?P<checkpoint>\S+) \(step (?P<step>\d+)\): "
    r"(?P<command>.+)$")


def start_workers(workdir, temp_dir, *extra, faults=None):
  """Starts worker 0 (the chief) and worker 1 of a loopback cluster on the
  smoke flagfile (`faults`: see `loopback_cluster.start`)."""
  workers, _ = loopback_cluster.start(
      [*FLAGS, f"--workdir={workdir}", *extra], temp_dir, faults=faults)
  return workers


finish = loopback_cluster.finish


def lost_line(output):
  """The `LOST_LINE` match of a survivor's `(code, stdout, stderr)`: exit 69,
  no traceback, exactly one such line (on stderr, none on stdout)."""
  code, stdout, stderr = output
  assert code == lost_workers.EXIT_CODE, stderr[-3000:]
  assert "Traceback" not in stderr, stderr[-3000:]
  matches = [m for m in map(LOST_LINE.match, stderr.splitlines()) if m]
  assert len(matches) == 1, stderr[-3000:]
  assert "Lost worker" not in stdout
  return matches[0]


def one_process_run(workdir, reference_dir):
  """The same run in one process: the global batch over two local replicas."""
  config = run_folder.read_config(str(workdir), TrainConfig)
  config = config.replace(strategy="mirrored", devices=("/cpu:0", "/cpu:1"))
  return train_lib.train(config, str(reference_dir))


def weights(checkpoint):
  """Every tensor of `checkpoint` but the wall time and the save count."""
  reader = tf.train.load_checkpoint(str(checkpoint))
  return {key: reader.get_tensor(key)
          for key in reader.get_variable_to_shape_map()
          if not key.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH",
                                 "train_seconds/", "save_counter/"))}


def step_losses(workdir):
  """`(steps, bits/dim)` of every training step in `workdir/train` (the last
  value written of a step logged twice, as after a resume)."""
  return training_curves.read_scalars(workdir / "train", "bits_per_dim")[
      "bits_per_dim"]


def assert_complete_chief_folder(workdir, temp_dir, chief_pids):
  names = set(os.listdir(workdir))
  assert {"config.json", "flags.cfg", "results.json", "checkpoints", "train",
          "eval"} <= names, names
  checkpoints = sorted(os.listdir(workdir / "checkpoints"))
  assert f"ckpt-{TRAIN_STEPS}.index" in checkpoints, checkpoints
  assert "checkpoint" in checkpoints
  assert not [n for n in checkpoints if n.endswith("_temp")], checkpoints
  # One writer: every event file is the chief's (one per launch).
  for folder in ("train", "eval"):
    pids = {int(name.split(".")[-3]) for name in os.listdir(workdir / folder)}
    assert pids and pids <= set(chief_pids), (pids, chief_pids)
  # The other worker's checkpoint shards went to a private folder, removed.
  assert not [n for n in os.listdir(temp_dir)
              if n.startswith("glow_ood_worker_checkpoint_")]


@needs_data
def test_two_workers_lose_one_resume_and_equal_one_process(tmp_path):
  workdir, temp_dir = tmp_path / "run", tmp_path / "tmp"
  temp_dir.mkdir()

  # Worker 1 kills itself after step KILL_AFTER; the chief stops, naming it.
  workers, addresses = loopback_cluster.start(
      [*FLAGS, f"--workdir={workdir}"], temp_dir,
      faults={1: f"{KILL_AFTER}:SIGKILL"})
  chief_pids = [workers[0].pid]
  seconds, (chief, worker) = loopback_cluster.lose(workers, victim=1)
  assert worker[0] == -9, worker[2][-3000:]
  line = lost_line(chief)
  assert (line["task"], line["address"]) == ("worker 1", addresses[1])
  assert line["me"] == "worker 0" and line["stop"] is None
  assert line["why"] == "the process is gone (its address refuses connections)"
  assert line["checkpoint"] == str(workdir / "checkpoints" /
                                   f"ckpt-{RESUME_STEP}")
  assert int(line["step"]) == RESUME_STEP
  assert f"step {KILL_AFTER}/{TRAIN_STEPS}" in chief[1]
  assert seconds < 30, seconds   # measured: about 1 s
  assert not (workdir / "results.json").exists()

  # The same commands again: both resume at that step and finish.
  workers = start_workers(workdir, temp_dir)
  chief_pids.append(workers[0].pid)
  (chief_code, chief_out, chief_err), (code, out, err) = finish(workers)
  assert chief_code == 0, chief_err[-3000:]
  assert code == 0, err[-3000:]
  resumed = f"Resumed from {line['checkpoint']} at step {RESUME_STEP}."
  assert resumed in chief_out and resumed in out
  assert "with 2 replica(s), global batch 16" in chief_out
  assert "this is worker 1, the chief writes the run folder" in out
  assert "out-of-distribution" in chief_out     # the table: chief only
  assert "out-of-distribution" not in out and "eval at step" not in out
  assert_complete_chief_folder(workdir, temp_dir, chief_pids)

  # ... equal to one process with two replicas: weights, losses, results.
  reference_dir = tmp_path / "one_process"
  reference = one_process_run(workdir, reference_dir)
  final = f"checkpoints/ckpt-{TRAIN_STEPS}"
  expected, got = weights(reference_dir / final), weights(workdir / final)
  assert sorted(got) == sorted(expected)
  for key, value in expected.items():
    np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-7,
                               err_msg=key)
  steps, losses = step_losses(workdir)
  reference_steps, reference_losses = step_losses(reference_dir)
  assert list(steps) == list(reference_steps) == list(
      range(1, TRAIN_STEPS + 1))
  np.testing.assert_allclose(losses, reference_losses, rtol=1e-5)
  saved = fileio.read_json(str(workdir / "results.json"), "results")
  assert saved["step"] == TRAIN_STEPS
  assert set(saved["bits_per_dim"]) == set(reference)
  for name, value in reference.items():
    assert saved["bits_per_dim"][name] == pytest.approx(value, rel=1e-5), name


# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
