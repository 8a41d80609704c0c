"""`glow_ood.train.lost_workers`: the cluster from TF_CONFIG, TF's messages read, the one line, the heartbeat timeout.

The failures themselves (a worker killed or stopped, and the probe that
names it) run on two loopback workers: tests/catalogue/cluster_test.py and
tests/launch/train_multi_worker_test.py.
"""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from glow_ood.configs import TrainConfig
from glow_ood.train import lost_workers
from glow_ood.train.lost_workers import Lost
from glow_ood.train.lost_workers import Task
from tests import REPO

CLUSTER = {"worker": ["host0:2222", "host1:2222", "host2:2222"]}
# What TF 2.21 said on the survivor (two workers on loopback): a dead peer at
# the next collective, a stopped one through the coordination service, and a
# stopped chief (the service's leader), which names no task.
DEAD = ("Collective ops is aborted by: failed to connect to all addresses; "
        "last error: UNKNOWN: ipv4:127.0.0.1:42117: Failed to connect to "
        "remote host: Connection refused\nAdditional GRPC error information "
        "from remote target /job:worker/replica:0/task:1 while calling "
        "/tensorflow.WorkerService/RecvBuf:\n:UNKNOWN:Error received from "
        "peer  {grpc_status:14}\nThe error could be from a previous operation."
        " Restart your program to reset.\n\t [[{{node allgather}}]]")
HEARTBEATS = (
    "Collective ops is aborted by: Error reported from /job:worker/task:2: "
    "The following tasks are unhealthy (stopped sending heartbeats):\n"
    "/job:worker/replica:0/task:2\nThe tasks have crashed. Check the task "
    "logs for an earlier error, or scheduler events (e.g. preemption, "
    "eviction) to debug further.\nThe error could be from a previous "
    "operation. Restart your program to reset.")
LEADER = ("{{function_node __wrapped__CollectiveReduceV2_device_/job:worker/"
          "replica:0/task:1/device:CPU:0}} Collective ops is aborted by: "
          "Deadline Exceeded\n\nRPC: /tensorflow.CoordinationService/Heartbeat"
          "\nThe error could be from a previous operation. Restart your "
          "program to reset. [Op:CollectiveReduceV2] name: ")


@pytest.fixture
def tf_config(monkeypatch):
  def set_task(index, cluster=None):
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": cluster or CLUSTER,
         "task": {"type": "worker", "index": index}}))
  return set_task


def test_cluster_tasks_are_this_one_and_the_others_with_addresses(tf_config):
  tf_config(1)
  me, others = lost_workers.cluster_tasks()
  assert me == Task("worker", 1, "host1:2222")
  assert others == [Task("worker", 0, "host0:2222"),
                    Task("worker", 2, "host2:2222")]
  assert str(others[1]) == "worker 2 (host2:2222)"
  assert others[1].device == "/job:worker/replica:0/task:2"


def test_a_chief_job_is_a_task_too(tf_config):
  tf_config(0, {"chief": ["c:1"], "worker": ["w:1"]})
  me, others = lost_workers.cluster_tasks()
  assert me == Task("worker", 0, "w:1") and others == [Task("chief", 0, "c:1")]


def test_no_cluster_without_tf_config(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  assert lost_workers.cluster_tasks() is None
  assert lost_workers.configure_heartbeats(5) is False


def test_the_tasks_tf_names_are_found_in_its_messages():
  tasks = [Task("worker", i, f"h{i}:1") for i in range(3)]
  assert lost_workers.named_tasks(DEAD, tasks) == [tasks[1]]
  # "/job:worker/task:2" and "/job:worker/replica:0/task:2": one task.
  assert lost_workers.named_tasks(HEARTBEATS, tasks) == [tasks[2]]
  # A task outside the list given (here: the survivor itself) is not named.
  assert lost_workers.named_tasks(LEADER, tasks[2:]) == []


@pytest.mark.parametrize("message, reason", [
    (DEAD, "failed to connect to all addresses; last error: UNKNOWN: "
     "ipv4:127.0.0.1:42117: Failed to connect to remote host: Connection "
     "refused"),
    (LEADER, "Deadline Exceeded RPC: /tensorflow.CoordinationService/"
     "Heartbeat"),
])
def test_tf_reason_is_one_line_without_the_grpc_details(message, reason):
  assert lost_workers.tf_reason(message) == reason


def test_tf_reason_is_cut_to_its_limit():
  reason = lost_workers.tf_reason(HEARTBEATS, limit=60)
  assert len(reason) <= 60 and reason.endswith("...") and "\n" not in reason


def _error(lost, checkpoint=("runs/x/checkpoints/ckpt-20", 20)):
  return lost_workers.WorkerLostError(
      lost, Task("worker", 0, "h0:1"), "Socket closed", *checkpoint)


def test_the_line_of_a_dead_worker_names_it_the_checkpoint_and_the_command():
  gone = Lost(Task("worker", 1, "h1:1"), "the process is gone")
  line = _error([gone]).describe("python launch/train.py --workdir=runs/x")
  assert line == (
      "Lost worker 1 (h1:1) of the cluster: the process is gone; worker 0 "
      "stopped. Restart every worker with the same command, each with its "
      "own TF_CONFIG, to resume from runs/x/checkpoints/ckpt-20 (step 20): "
      "python launch/train.py --workdir=runs/x")


def test_a_hung_worker_is_to_be_stopped_before_the_restart():
  hung = Lost(Task("worker", 2, "h2:1"), "it does not answer", hung=True)
  gone = Lost(Task("worker", 1, "h1:1"), "the process is gone")
  line = str(_error([hung, gone]))
  assert line.startswith("Lost worker 2 (h2:1) of the cluster: it does not "
                         "answer; worker 1 (h1:1) of the cluster: the process "
                         "is gone; worker 0 stopped. Stop worker 2 (kill it "
                         "on its host), then restart every worker")
  assert line.endswith("(step 20): train(config, workdir)")


def test_without_a_checkpoint_or_a_lost_peer_the_line_says_so():
  line = str(_error([], checkpoint=(None, None)))
  assert line.startswith("The cluster's collectives failed, yet every other "
                         "worker answers now (TensorFlow: Socket closed); "
                         "worker 0 stopped. Restart every worker")
  assert "the run has no checkpoint yet and starts afresh: " in line
  assert "\n" not in line


def test_diagnose_names_the_lost_and_keeps_the_answering_survivors(
    tf_config, monkeypatch, tmp_path):
  tf_config(0)
  monkeypatch.setattr(lost_workers, "probe", lambda task, timeout_seconds: (
      Lost(task, "the process is gone") if task.index == 2 else None))
  error = lost_workers.diagnose(tf.errors.UnavailableError(None, None, DEAD),
                                str(tmp_path), timeout_seconds=5)
  assert [lost.task for lost in error.lost] == [Task("worker", 2, "host2:2222")]
  assert error.answering == [Task("worker", 1, "host1:2222")]
  assert (error.checkpoint, error.step) == (None, None)


def test_a_survivor_lingers_until_the_other_survivors_are_gone(monkeypatch):
  """`linger`'s rule, with the health RPC answered by a stand-in (the real
  one: tests/launch/train_three_workers_test.py)."""
  one, two = Task("worker", 1, "h1:1"), Task("worker", 2, "h2:1")
  gone_after = {one: 3, two: 5}   # answers to this many probes, then gone
  asked = []

  def probe(task, timeout_seconds):
    assert 0 < timeout_seconds <= 1.
    asked.append(task)
    if asked.count(task) > gone_after[task]:
      return Lost(task, "the process is gone")
    return None
  monkeypatch.setattr(lost_workers, "probe", probe)
  error = lost_workers.WorkerLostError(
      [], Task("worker", 0, "h0:1"), "Socket closed", None, None,
      answering=[one, two])
  # Until both have gone: asked one 4 times, two 6 times, then no more.
  waited = lost_workers.linger(error, timeout_seconds=30, poll_seconds=0.01)
  assert (asked.count(one), asked.count(two)) == (4, 6)
  assert waited < 5
  # At most the probe's time (here the timeout, 0.3 s), however long they answer.
  gone_after.update({one: 10 ** 6, two: 10 ** 6})
  waited = lost_workers.linger(error, timeout_seconds=0.3, poll_seconds=0.01)
  assert 0.3 <= waited < 2
  # No other survivor (a cluster of two): no wait, no probe.
  asked.clear()
  assert lost_workers.linger(_error([]), timeout_seconds=30) < 0.1
  assert not asked


def test_reported_passes_other_errors_and_strategies_unchanged(tf_config):
  tf_config(0)
  error = tf.errors.UnavailableError(None, None, DEAD)
  for config, raised in ((TrainConfig(strategy="mirrored"), error),
                         (TrainConfig(strategy="multi_worker_mirrored"),
                          ValueError("not a cluster's"))):
    with pytest.raises(type(raised)) as info:
      with lost_workers.reported(config, "unused"):
        raise raised
    assert info.value is raised


def test_the_timeout_is_validated():
  with pytest.raises(ValueError, match="worker_timeout_seconds"):
    TrainConfig(worker_timeout_seconds=0)


def test_the_strategy_gets_the_heartbeat_timeout():
  """A one-worker cluster in a fresh process (the runtime must not have started)."""
  code = (
      "import json, os, socket\n"
      "s = socket.socket(); s.bind(('127.0.0.1', 0))\n"
      "port = s.getsockname()[1]; s.close()\n"
      "os.environ['TF_CONFIG'] = json.dumps({'cluster': {'worker': "
      "['127.0.0.1:%d' % port]}, 'task': {'type': 'worker', 'index': 0}})\n"
      "from glow_ood.train import distribution\n"
      "from tensorflow.python.eager import context\n"
      "strategy = distribution.make_strategy('multi_worker_mirrored', (), 7)\n"
      "service = context.context().coordination_service\n"
      "print(service.heartbeat_timeout_in_ms, "
      "service.shutdown_barrier_timeout_in_ms, service.service_leader, "
      "strategy.num_replicas_in_sync)\n")
  env = dict(os.environ)
  env.pop("TF_CONFIG", None)
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.split() == [
      "7000", "7000", "/job:worker/replica:0/task:0", "1"], result.stdout


def test_outside_a_cluster_a_collective_error_passes_unchanged(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  error = tf.errors.UnavailableError(None, None, DEAD)
  with pytest.raises(tf.errors.UnavailableError) as info:
    with lost_workers.reported(
        TrainConfig(strategy="multi_worker_mirrored"), "unused"):
      raise error
  assert info.value is error
