"""A worker of a `multi_worker_mirrored` cluster lost or hung: detected, named, and how to resume.

    configure_heartbeats(config.worker_timeout_seconds)   # before the strategy
    with lost_workers.reported(config, workdir):
      ...   # training; a lost peer raises `WorkerLostError`

What a cluster does to a job: a worker dies (kill -9, the OOM killer, a lost
machine) or hangs (frozen, stopped, cut off the network). The other workers
cannot go on: their next collective cannot complete. TensorFlow notices in
two ways (measured with TF 2.21, two workers on loopback):
  - a collective's RPC to a dead peer fails at once (`UnavailableError`:
    "Connection refused", "Connection reset by peer", "Socket closed");
  - the coordination service that `MultiWorkerMirroredStrategy` starts (its
    leader on the chief) gets no heartbeat from a task for the heartbeat
    timeout (a thread of the TF runtime sends one every half of it, whatever
    the task's Python does), and aborts every worker's collectives: "The
    following tasks are unhealthy (stopped sending heartbeats):
    /job:worker/replica:0/task:1"; a hung chief (the leader) is seen by the
    others as a heartbeat RPC past its deadline (`DeadlineExceededError`,
    which names no task). So a hang is noticed between half the timeout and
    the timeout after it began (measured with the default 30 s: 17 s).
`configure_heartbeats` sets that timeout (TF's default is 10 s) to
`TrainConfig.worker_timeout_seconds`, before the strategy is built (the
strategy keeps a service that is configured already), and the time a worker
waits at exit for the others to exit too (TF's shutdown barrier) to at most
`SHUTDOWN_SECONDS`: a dead or hung worker never comes, and TF's default kept
a survivor alive for a minute after its message.

TensorFlow's message names the lost task in some of these cases and not in
others, and comes as a 40-line traceback. So `reported` catches it and asks
every other task of `TF_CONFIG` itself, with the health RPC TF's strategy
used before the coordination service (`check_collective_ops_peer_health`): a
peer that refuses connections is gone; one that does not answer within
`PROBE_SECONDS` (10 s; the worker timeout if shorter) is hung or cut off; one
that answers as a new process has restarted. The tasks TF's message names
come first. It raises `WorkerLostError`, whose one line names the lost
task(s) with their address, how they were found, the newest checkpoint that
loads in the run folder (what a restart resumes from) and the command; the
launcher prints it at once and exits with `EXIT_CODE`, at once too in a
cluster of two; with more, once the other survivors have exited, at most
the probe's time later (`linger`: a survivor gone too soon would be named
lost by a slower one). A survivor prints its line within the heartbeat
timeout plus the probe of a hung peer (and at once after a dead one's next
collective). If every peer answers (a transient network
failure: TF cannot go on after aborting its collectives either), the line
says so and gives TF's reason. A worker whose Python hangs while its TF
runtime runs (a deadlock, a stuck file system) keeps sending heartbeats and
is not detected: the others wait in their next collective.
"""

import concurrent.futures
import contextlib
import dataclasses
import os
import re
import time
from typing import Optional, Sequence

import tensorflow.compat.v2 as tf
# TF's own strategy module, for the helpers it configures the coordination
# service with (no public API sets the heartbeat timeout); taking them from
# it keeps to the paths of the installed TensorFlow.
from tensorflow.python.distribute import collective_all_reduce_strategy as _mwms  # pylint: disable=g-direct-tensorflow-import

from glow_ood.runs import checkpoints
from glow_ood.runs import folder as run_folder

__all__ = ["EXIT_CODE", "PEER_ERRORS", "Task", "Lost", "WorkerLostError",
           "configure_heartbeats", "cluster_tasks", "probe", "named_tasks",
           "tf_reason", "diagnose", "linger", "reported"]

# The exit code of `launch/train.py` when a worker of its cluster is lost:
# EX_UNAVAILABLE of sysexits.h ("a service is unavailable"). Not 75
# (preempted, with a checkpoint of the step it stopped at), not 1 (a user
# error or a divergence).
EXIT_CODE = 69

# What a collective raises when a peer is lost (measured: Unavailable,
# DeadlineExceeded); TF also uses Cancelled, Aborted and FailedPrecondition
# (a restarted peer), and Internal for some RPC failures.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
               tf.errors.CancelledError, tf.errors.AbortedError,
               tf.errors.FailedPreconditionError, tf.errors.InternalError)
# Words of TF's messages that say the cluster, not this process, failed.
_CLUSTER_SIGNS = ("collective ops is aborted", "coordinationservice",
                  "stopped sending heartbeats", "remote target /job:")
_TASK = re.compile(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)")
# The longest wait for a peer's answer to the health RPC.
PROBE_SECONDS = 10.
# The longest wait, at exit, for the other workers to exit too (TF's shutdown
# barrier; its default kept a survivor of a lost worker alive for a minute).
SHUTDOWN_SECONDS = 10.


@dataclasses.dataclass(frozen=True)
class Task:
  """One task of the cluster: `job` ("worker", "chief"), `index`, `address`."""
  job: str
  index: int
  address: str

  @property
  def name(self):
    return f"{self.job} {self.index}"

  @property
  def device(self):
    return f"/job:{self.job}/replica:0/task:{self.index}"

  def __str__(self):
    return f"{self.name} ({self.address})"


def cluster_tasks():
  """`(this task, [the other tasks])` of `TF_CONFIG`'s cluster, or `None` outside one."""
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  jobs = resolver.cluster_spec().as_dict()
  if not jobs or resolver.task_type is None:
    return None
  me, others = None, []
  for job in sorted(jobs):
    members = jobs[job]
    # A job may be listed as `{index: address}` (sparse) or a list.
    items = (sorted(members.items()) if isinstance(members, dict)
             else enumerate(members))
    for index, address in items:
      task = Task(job, int(index), address)
      if job == resolver.task_type and int(index) == int(resolver.task_id):
        me = task
      else:
        others.append(task)
  return (me, others) if me is not None else None


def configure_heartbeats(timeout_seconds):
  """Sets the coordination service's heartbeat timeout to `timeout_seconds`
  (and its shutdown barrier to at most `SHUTDOWN_SECONDS`).

  Configures the service as `MultiWorkerMirroredStrategy` would (leader: the
  chief, else worker 0; jobs "chief" and "worker"), with this timeout; must
  run before the strategy is built, before TensorFlow's runtime starts.
  Returns whether it did: not outside a cluster (no `TF_CONFIG`), for a
  task of another job, or where the service is configured already.
  """
  tasks = cluster_tasks()
  if tasks is None or tasks[0].job not in ("chief", "worker"):
    return False
  context = _mwms.context.context()
  if context.coordination_service is not None:
    return False
  spec = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
  context.configure_coordination_service(
      service_type="standalone",
      service_leader=_mwms.multi_worker_util.coordination_leader(spec),
      coordinated_jobs=[
          _mwms.coordination_config_pb2.CoordinatedJob(
              name=job, num_tasks=spec.num_tasks(job))
          for job in ("chief", "worker") if job in spec.jobs],
      heartbeat_timeout_in_ms=int(timeout_seconds * 1000),
      shutdown_barrier_timeout_in_ms=int(
          min(timeout_seconds, SHUTDOWN_SECONDS) * 1000))
  return True


def _first_line(error):
  return " ".join(str(getattr(error, "message", error)).split("\n")[0].split())


@dataclasses.dataclass(frozen=True)
class Lost:
  """A peer that failed the probe: the `Task`, why (a phrase), whether it hangs."""
  task: Task
  why: str
  hung: bool = False


def probe(task, timeout_seconds=PROBE_SECONDS):
  """`None` if `task` answers TF's health RPC within `timeout_seconds`, else a `Lost`."""
  try:
    _mwms.context.context().check_collective_ops_peer_health(
        task.device, timeout_in_ms=int(timeout_seconds * 1000))
    return None
  except tf.errors.DeadlineExceededError:
    return Lost(task, f"it does not answer within {timeout_seconds:g} s "
                "(hung, frozen or cut off)", hung=True)
  except tf.errors.FailedPreconditionError:
    return Lost(task, "it has restarted (a new process answers at its "
                "address)")
  except tf.errors.UnavailableError as e:
    if "refused" in str(e).lower():
      return Lost(task, "the process is gone (its address refuses "
                  "connections)")
    return Lost(task, f"it is unreachable ({_first_line(e)})")
  except tf.errors.OpError as e:
    return Lost(task, f"its health check failed ({type(e).__name__}: "
                f"{_first_line(e)})")


def named_tasks(message, tasks):
  """The tasks of `tasks` that `message` names (`/job:worker/replica:0/task:1`), in order."""
  by_key = {(t.job, t.index): t for t in tasks}
  named = []
  for job, index in _TASK.findall(message):
    task = by_key.get((job, int(index)))
    if task is not None and task not in named:
      named.append(task)
  return named


def tf_reason(message, limit=160):
  """TF's reason for aborting the collectives, on one line of at most `limit` characters."""
  text = message.split("Collective ops is aborted by:", 1)[-1]
  text = text.split("The error could be from a previous operation", 1)[0]
  text = text.split("Additional GRPC error information", 1)[0]
  text = " ".join(text.replace("[[", " ").split())
  return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


class WorkerLostError(Exception):
  """Training stopped because a worker of the cluster was lost; a restart resumes.

  Attributes:
    lost: `[Lost]`, the peers that failed the probe (those TF's message
      names first); empty if every peer answered it.
    this_task: the `Task` of this process.
    reason: TensorFlow's reason, one line.
    checkpoint: the newest checkpoint that loads (what a restart resumes
      from), or `None` if the run has none yet.
    step: that checkpoint's step, or `None`.
    answering: `[Task]`, the peers that answered the probe: the other
      survivors, which `linger` waits for.
  """

  def __init__(self, lost: Sequence[Lost], this_task: Task, reason: str,
               checkpoint: Optional[str], step: Optional[int],
               answering: Sequence[Task] = ()):
    self.lost, self.this_task, self.reason = list(lost), this_task, reason
    self.checkpoint, self.step = checkpoint, step
    self.answering = list(answering)
    super().__init__(self.describe("train(config, workdir)"))

  def describe(self, command):
    """The one line, with `command` as each worker's way to resume."""
    if self.lost:
      what = "Lost " + "; ".join(f"{lost.task} of the cluster: {lost.why}"
                                 for lost in self.lost)
    else:
      what = ("The cluster's collectives failed, yet every other worker "
              f"answers now (TensorFlow: {self.reason})")
    hung = [lost.task.name for lost in self.lost if lost.hung]
    first = (f"Stop {' and '.join(hung)} (kill it on its host), then restart"
             if hung else "Restart")
    if self.checkpoint is None:
      resume = "; the run has no checkpoint yet and starts afresh"
    else:
      resume = f", to resume from {self.checkpoint} (step {self.step})"
    return (f"{what}; {self.this_task.name} stopped. {first} every worker "
            f"with the same command, each with its own TF_CONFIG{resume}: "
            f"{command}")


def _newest_checkpoint(workdir):
  try:
    found = checkpoints.newest_loadable(
        os.path.join(workdir, run_folder.CHECKPOINTS_DIR))
  except (ValueError, OSError):
    return None, None
  return (found.path, found.step) if found is not None else (None, None)


def diagnose(error, workdir, timeout_seconds):
  """The `WorkerLostError` that `error` (one of `PEER_ERRORS`) stands for, or `None`.

  `None` outside a cluster, or when no peer is lost and TF's message does not
  say that the cluster failed (an error of this process: raise it as is).
  Probes every other task in parallel, for at most
  `min(PROBE_SECONDS, timeout_seconds)`.
  """
  tasks = cluster_tasks()
  if tasks is None or not tasks[1]:
    return None
  me, others = tasks
  message = str(getattr(error, "message", error))
  wait = min(PROBE_SECONDS, float(timeout_seconds))
  with concurrent.futures.ThreadPoolExecutor(min(16, len(others))) as pool:
    answers = list(pool.map(lambda task: probe(task, wait), others))
  down = {lost.task: lost for lost in answers if lost is not None}
  if not down and not any(sign in message.lower() for sign in _CLUSTER_SIGNS):
    return None
  named = [task for task in named_tasks(message, others) if task in down]
  order = named + [task for task in others if task in down and
                   task not in named]
  return WorkerLostError([down[task] for task in order], me,
                         tf_reason(message), *_newest_checkpoint(workdir),
                         answering=[task for task in others
                                    if task not in down])


def linger(error, timeout_seconds, poll_seconds=0.25, clock=time.monotonic):
  """After a survivor's line: waits until the other survivors are gone too, at most the probe's time.

  With three workers or more, a lost one leaves several survivors, and each
  probes every other task. One that exits at once after its line is found
  gone by a slower one, which names it as lost too (measured, three
  workers on loopback, worker 2 killed: the chief named worker 1 as well,
  "Connection reset by peer", which had printed its own line and exited a
  moment before). The others learn of the failure soon after the first
  (their collectives fail with the first one's, or the coordination service
  aborts all at once), so a survivor that keeps its runtime, which answers
  the probe, for as long as a probe waits (`min(PROBE_SECONDS,
  timeout_seconds)`, as `diagnose`) is found alive by them. It stops
  waiting as soon as every peer of `error.answering` has stopped answering
  (none: a cluster of two, at once).

  Args:
    error: the `WorkerLostError` this process reported.
    timeout_seconds: the run's `worker_timeout_seconds`.
    poll_seconds: the pause between two rounds of probes.
    clock: `() -> seconds`. Default value: `time.monotonic`.

  Returns:
    The seconds it waited.
  """
  begin = clock()
  deadline = begin + min(PROBE_SECONDS, float(timeout_seconds))
  waiting = list(error.answering)
  while waiting and clock() < deadline:
    time.sleep(poll_seconds)
    wait = max(min(poll_seconds * 4, deadline - clock()), 0.01)
    waiting = [task for task in waiting if probe(task, wait) is None]
  return clock() - begin


@contextlib.contextmanager
def reported(config, workdir):
  """Turns a lost worker of a `multi_worker_mirrored` run into `WorkerLostError`.

  Other errors, and everything under the other strategies, pass unchanged.
  """
  try:
    yield
  except PEER_ERRORS as e:
    if config.strategy != "multi_worker_mirrored":
      raise
    lost = diagnose(e, workdir, config.worker_timeout_seconds)
    if lost is None:
      raise
    raise lost from e
