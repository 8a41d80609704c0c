"""A cluster of `launch/train.py` workers on loopback ports, and a worker lost on purpose.

    workers, addresses = start(args, temp_dir, faults={1: "4:SIGKILL"})
    seconds, outputs = lose(workers, victim=1)

Each worker is the same command with its own `TF_CONFIG` (worker 0 is the
chief) and `TMPDIR` (the other workers' checkpoint shards). `faults` sets
`GLOW_OOD_SIGNAL_AT_STEP` (`glow_ood.train.faults`) in one worker's
environment only: it kills (SIGKILL) or stops (SIGSTOP) itself after that
step, so the newest checkpoint is known in advance. `lose` measures how long
the others take to exit after that.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time

from glow_ood.train import faults as faults_lib
from tests import REPO

__all__ = ["free_ports", "start", "finish", "lose"]


def free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def start(args, temp_dir, faults=None, count=2):
  """Starts `python launch/train.py *args` as workers 0..count-1.

  Returns `(processes, addresses)`; `faults`: `{index: "<step>:<SIGNAL>"}`.
  """
  addresses = [f"127.0.0.1:{port}" for port in free_ports(count)]
  workers = []
  for index in range(count):
    env = dict(os.environ, TMPDIR=str(temp_dir), TF_CONFIG=json.dumps(
        {"cluster": {"worker": addresses},
         "task": {"type": "worker", "index": index}}))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.pop(faults_lib.ENV, None)
    if faults and index in faults:
      env[faults_lib.ENV] = faults[index]
    workers.append(subprocess.Popen(
        [sys.executable, "launch/train.py", *args], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  return workers, addresses


def finish(workers, timeout=300):
  """`[(exit code, stdout, stderr)]` of `workers`, once each has exited."""
  outputs = []
  for worker in workers:
    stdout, stderr = worker.communicate(timeout=timeout)
    outputs.append((worker.returncode, stdout, stderr))
  return outputs


def _state(pid):
  """The process state letter of `pid` (`"T"` stopped, `"Z"` dead), `"Z"` if gone."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0]
  except OSError:
    return "Z"


def lose(workers, victim, timeout=300):
  """Waits until worker `victim` dies or stops, then until every other worker exits.

  Then kills the victim if it is still there (stopped: SIGCONT is not sent).
  Returns `(seconds from the victim's loss to the last other worker's exit,
  [(exit code, stdout, stderr)] of every worker)`.
  """
  outputs = [None] * len(workers)

  def collect(index):
    stdout, stderr = workers[index].communicate()
    outputs[index] = (workers[index].returncode, stdout, stderr)

  threads = [threading.Thread(target=collect, args=(i,), daemon=True)
             for i in range(len(workers))]
  for thread in threads:
    thread.start()
  deadline = time.monotonic() + timeout
  try:
    while _state(workers[victim].pid) not in ("T", "Z"):
      assert time.monotonic() < deadline, "the victim was never lost"
      assert all(w.poll() is None for i, w in enumerate(workers)
                 if i != victim), "another worker ended first"
      time.sleep(0.05)
    lost_at = time.monotonic()
    for index, thread in enumerate(threads):
      if index != victim:
        thread.join(max(0., deadline - time.monotonic()))
        assert not thread.is_alive(), f"worker {index} did not exit"
    seconds = time.monotonic() - lost_at
  finally:
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
    for thread in threads:
      thread.join(60)
  return seconds, outputs
