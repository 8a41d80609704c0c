r"""Checks through TensorBoard's HTTP API that its dashboards show a folder of runs.

  python scripts/check_tensorboard.py --logdir=runs
  python scripts/check_tensorboard.py --logdir=runs --write_experiment

Starts `tensorboard --logdir=LOGDIR` on a free port (a subprocess, stopped at
the end), then asks it what the dashboards would show:

  /data/runs                             the TensorBoard runs
  /data/plugin/scalars/tags              tags per run: `bits_per_dim` must be
                                         a tag of `<run>/train` and of every
                                         `<run>/eval_sets/<set>` (the charts
                                         overlay, as Keras' train/validation)
  /data/plugin/hparams/experiment        the HParams dashboard's columns: the
                                         hyper-parameters (`model.family`, ...)
                                         and metrics
  /data/plugin/hparams/session_groups    its rows: one session per run folder,
                                         with its hparams and bits/dim values

and prints a summary; exits 1 if a run folder (a folder with config.json) is
missing from the dashboard or its charts do not overlay. `--write_experiment`
first writes the HParams experiment of the runs into LOGDIR
(`glow_ood.train.hparams.write_experiment`). TensorBoard is pointed at the
folder *holding* the run folders, as the README says, so each run is a named
session whose sub-runs (`train`, `eval_sets/...`) are its metrics' groups.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

__all__ = ["TensorBoard", "dashboards", "problems", "main"]

_ALL_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                 "STATUS_RUNNING"]


def _free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


class TensorBoard:
  """`tensorboard --logdir=logdir` in a subprocess, as a context manager; `get`/`post` JSON.

  Args:
    logdir: the folder of runs.
    timeout: seconds to wait for the server to answer. Default value: `120`.
  """

  def __init__(self, logdir, timeout=120.):
    self._logdir = logdir
    self._timeout = timeout
    self._process = None
    self.url = None

  def __enter__(self):
    port = _free_port()
    self.url = f"http://localhost:{port}"
    self._process = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", f"--logdir={self._logdir}",
         f"--port={port}", "--host=localhost", "--load_fast=false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + self._timeout
    while True:
      if self._process.poll() is not None:
        raise RuntimeError("tensorboard exited with code "
                           f"{self._process.returncode}: "
                           f"{self._process.stderr.read().decode()[-2000:]}")
      try:
        self.get("/data/runs")
        return self
      except (urllib.error.URLError, ConnectionError):
        if time.monotonic() > deadline:
          self.__exit__(None, None, None)
          raise TimeoutError(f"tensorboard did not answer on {self.url} "
                             f"within {self._timeout:g} s") from None
        time.sleep(0.25)

  def __exit__(self, *exc_info):
    if self._process is not None and self._process.poll() is None:
      self._process.terminate()
      try:
        self._process.wait(timeout=10)
      except subprocess.TimeoutExpired:
        self._process.kill()
        self._process.wait()
    if self._process is not None:
      self._process.stderr.close()

  def get(self, path):
    with urllib.request.urlopen(self.url + path, timeout=60) as response:
      return json.loads(response.read())

  def post(self, path, body):
    request = urllib.request.Request(
        self.url + path, data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
      return json.loads(response.read())


def dashboards(logdir, timeout=120.):
  """What TensorBoard serves for `logdir`: `{"runs", "scalar_tags", "experiment", "session_groups"}`.

  `runs` and `scalar_tags` (`{run: [tag]}`) from the core and scalars
  plugin; `experiment` (`hparamInfos`, `metricInfos`) and `session_groups`
  (each `name`, `hparams`, `metricValues`, `sessions`) from the hparams
  plugin, as the HParams dashboard requests them.
  """
  with TensorBoard(logdir, timeout) as board:
    experiment = board.post("/data/plugin/hparams/experiment",
                            {"experimentName": ""})
    groups = board.post("/data/plugin/hparams/session_groups", {
        "experimentName": "", "allowedStatuses": _ALL_STATUSES,
        "colParams": [], "startIndex": 0, "sliceSize": 1000})
    return dict(runs=board.get("/data/runs"),
                scalar_tags={run: sorted(tags) for run, tags in
                             board.get("/data/plugin/scalars/tags").items()},
                experiment=experiment,
                session_groups=groups.get("sessionGroups", []))


def _run_folders(logdir):
  """Run folders under `logdir` (those holding config.json), relative, sorted."""
  found = []
  for root, dirs, files in os.walk(logdir):
    dirs[:] = sorted(d for d in dirs if d != "checkpoints")
    if "config.json" in files:
      found.append(os.path.relpath(root, logdir))
  return sorted(found)


def problems(logdir, boards):
  """What `boards` (from `dashboards`) lacks for the run folders under `logdir`; `[]` if fine."""
  found = []
  sessions = {session["name"]: group for group in boards["session_groups"]
              for session in group.get("sessions", [])}
  hparam_names = {info["name"] for info in boards["experiment"].get(
      "hparamInfos", [])}
  if "model.family" not in hparam_names:
    found.append(f"the HParams dashboard has no model.family column "
                 f"({len(hparam_names)} hyper-parameters)")
  for run in _run_folders(logdir):
    if run not in sessions:
      found.append(f"{run}: no HParams session (sessions: {sorted(sessions)})")
    elif not sessions[run].get("metricValues"):
      found.append(f"{run}: its HParams session has no metric values")
    tags = boards["scalar_tags"]
    eval_sets = [r for r in tags if r.startswith(f"{run}/eval_sets/")]
    if "bits_per_dim" not in tags.get(f"{run}/train", []):
      found.append(f"{run}/train has no bits_per_dim")
    if not eval_sets:
      found.append(f"{run}: no eval_sets/ runs")
    for name in eval_sets:
      if "bits_per_dim" not in tags[name]:
        found.append(f"{name} has no bits_per_dim to overlay with train's")
  return found


def _summary(boards):
  lines = [f"{len(boards['runs'])} TensorBoard runs"]
  overlaid = {}
  for run, tags in boards["scalar_tags"].items():
    for tag in tags:
      overlaid.setdefault(tag, []).append(run)
  lines.append("bits_per_dim charted for: " + ", ".join(
      sorted(overlaid.get("bits_per_dim", []))))
  infos = boards["experiment"].get("hparamInfos", [])
  metrics = boards["experiment"].get("metricInfos", [])
  lines.append(f"HParams: {len(infos)} hyper-parameters (differing: " + ", ".join(
      sorted(i["name"] for i in infos if i.get("differs"))) +
               f"), {len(metrics)} metrics")
  for group in boards["session_groups"]:
    hparams = group["hparams"]
    values = {f"{m['name']['group']}/{m['name']['tag']}": m["value"]
              for m in group.get("metricValues", [])}
    train = values.get("train/bits_per_dim")
    lines.append(
        f"  session {', '.join(s['name'] for s in group['sessions'])}: "
        f"model.family={hparams.get('model.family')} "
        f"learning_rate={hparams.get('learning_rate')} "
        f"train/bits_per_dim={train if train is None else round(train, 4)} "
        f"({len(values)} metric values)")
  return "\n".join(lines)


flags.DEFINE_string("logdir", None, "The folder holding the run folders.")
flags.DEFINE_bool("write_experiment", False, "First write the HParams "
                  "experiment of the runs into --logdir.")
flags.DEFINE_float("timeout", 120., "Seconds to wait for TensorBoard.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  if FLAGS.write_experiment:
    from glow_ood.train import hparams  # TensorFlow only when needed
    hparams.write_experiment(FLAGS.logdir)
  boards = dashboards(FLAGS.logdir, FLAGS.timeout)
  print(_summary(boards))
  found = problems(FLAGS.logdir, boards)
  for problem in found:
    print(f"problem: {problem}")
  if found:
    sys.exit(1)
  print("OK: every run folder is an HParams session and its train and eval "
        "bits/dim overlay.")


if __name__ == "__main__":
  flags.mark_flags_as_required(["logdir"])
  app.run(main)
