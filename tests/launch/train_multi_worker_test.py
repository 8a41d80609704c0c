"""Two workers on loopback ports train one run: `launch/train.py --strategy=multi_worker_mirrored`.

As a user scales out: the same command on every host, each with its own
`TF_CONFIG`, one shared run folder. The chief alone writes the folder; the
run equals a one-process run of the same global batch split over two
replicas; killed with -9 and restarted, it resumes and still equals it.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from glow_ood import run_folder
from glow_ood import train as train_lib
from glow_ood.configs import TrainConfig
from tests import REPO
from tests.launch.train_test import DATA_DIR
from tests.launch.train_test import needs_data


FLAGS = ("--flagfile=launch/flagfiles/smoke.cfg", f"--data_dir={DATA_DIR}",
         "--strategy=multi_worker_mirrored", "--train_steps=6",
         "--checkpoint_every=3", "--eval_num_examples=32")


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def start_workers(workdir, temp_dir, *extra):
  """Starts worker 0 (the chief) and worker 1 of a loopback cluster."""
  cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
  workers = []
  for index in range(2):
    env = dict(os.environ, TMPDIR=str(temp_dir), TF_CONFIG=json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    workers.append(subprocess.Popen(
        [sys.executable, "launch/train.py", *FLAGS, f"--workdir={workdir}",
         *extra], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True))
  return workers


def finish(workers, timeout=300):
  outputs = []
  for worker in workers:
    stdout, stderr = worker.communicate(timeout=timeout)
    outputs.append((worker.returncode, stdout, stderr))
  return outputs


def one_process_results(workdir, reference_dir):
  """The same run in one process: the global batch over two local replicas."""
  config = run_folder.read_config(str(workdir), TrainConfig)
  config = config.replace(strategy="mirrored", devices=("/cpu:0", "/cpu:1"))
  return train_lib.train(config, str(reference_dir))


def assert_complete_chief_folder(workdir, temp_dir, chief_pids):
  names = set(os.listdir(workdir))
  assert {"config.json", "flags.cfg", "results.json", "checkpoints", "train",
          "eval"} <= names, names
  checkpoints = sorted(os.listdir(workdir / "checkpoints"))
  assert "ckpt-6.index" in checkpoints and "checkpoint" in checkpoints
  assert not [n for n in checkpoints if n.endswith("_temp")], checkpoints
  # One writer: every event file is the chief's (one per launch).
  for folder in ("train", "eval"):
    pids = {int(name.split(".")[-3]) for name in os.listdir(workdir / folder)}
    assert pids and pids <= set(chief_pids), (pids, chief_pids)
  # The other worker's checkpoint shards went to a private folder, removed.
  assert not [n for n in os.listdir(temp_dir)
              if n.startswith("glow_ood_worker_checkpoint_")]


@needs_data
def test_two_workers_train_one_run_equal_to_one_process_and_resume_after_kill(
    tmp_path):
  workdir, temp_dir = tmp_path / "run", tmp_path / "tmp"
  temp_dir.mkdir()

  # A first attempt is killed (-9, both hosts) once its first checkpoint exists.
  workers = start_workers(workdir, temp_dir)
  chief_pids = [workers[0].pid]
  deadline = time.time() + 300
  while not (workdir / "checkpoints" / "ckpt-3.index").exists():
    assert time.time() < deadline and all(w.poll() is None for w in workers), (
        [w.communicate()[1][-2000:] for w in workers if w.poll() is not None])
    time.sleep(0.05)
  for worker in workers:
    worker.send_signal(signal.SIGKILL)
  finish(workers)

  # The same commands again: the run resumes and finishes.
  workers = start_workers(workdir, temp_dir)
  chief_pids.append(workers[0].pid)
  (chief_code, chief_out, chief_err), (code, out, err) = finish(workers)
  assert chief_code == 0, chief_err[-3000:]
  assert code == 0, err[-3000:]
  assert "Resumed from" in chief_out and "Resumed from" in out
  assert "with 2 replica(s), global batch 16" in chief_out
  assert "this is worker 1, the chief writes the run folder" in out
  assert "out-of-distribution" in chief_out     # the table: chief only
  assert "out-of-distribution" not in out and "eval at step" not in out
  assert_complete_chief_folder(workdir, temp_dir, chief_pids)

  saved = json.loads((workdir / "results.json").read_text())
  assert saved["step"] == 6
  reference = one_process_results(workdir, tmp_path / "one_process")
  assert set(saved["bits_per_dim"]) == set(reference)
  for name, value in reference.items():
    np.testing.assert_allclose(saved["bits_per_dim"][name], value, atol=1e-4,
                               err_msg=name)


# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
