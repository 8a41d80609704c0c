"""Catalogue: faults of training runs and their folders, through `launch/train.py` and `launch/evaluate.py`.

Each case starts from a copy of one finished tiny run (4 steps, checkpoints
at steps 2 and 4, made by the launcher itself), breaks something the way a
crash, a full disk or a user does (a second writer: another live process
holding the run, `Context.held_elsewhere`; data changed under the run), and
checks what the issue promises: a refusal is one line and exit 1 with every
pre-existing file byte-identical; a recoverable fault recovers, says so, and
keeps what was there.
"""

import contextlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

from glow_ood import runs as runs_lib
from glow_ood.runs import checkpoints
from glow_ood.runs import folder as run_folder
from glow_ood.runs import lock as run_lock
from tests import REPO
from tests import toy_data
from tests.catalogue import harness
from tests.launch import in_process

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow


TRAIN, EVALUATE = "launch/train.py", "launch/evaluate.py"


def _toy_flags(data_dir):
  return ["--dataset=toy", f"--data_dir={data_dir}", "--data_source=npz",
          "--image_shape=8,8,1", "--num_levels=2", "--num_steps_per_level=1",
          "--hidden_width=8", "--batch_size=8", "--init_batch_size=32",
          "--eval_batch_size=32", "--train_steps=4", "--checkpoint_every=2",
          "--log_every=2", "--eval_every=0", "--num_samples=4",
          "--sample_temperatures=1", "--shuffle_buffer=64",
          "--strategy=one_device", "--learning_rate=0.003"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
  """`(workdir, data_dir)` of a finished launcher run (ckpt-2, ckpt-4)."""
  root = tmp_path_factory.mktemp("catalogue_runs")
  data_dir = root / "data"
  toy_data.write_dataset(data_dir)
  workdir = root / "run"
  result = in_process.run(TRAIN, f"--workdir={workdir}", *_toy_flags(data_dir))
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir, data_dir


class Context:
  """A fresh copy of the finished run for one case."""

  def __init__(self, finished, tmp_path):
    source, self.data_dir = finished
    self.tmp = tmp_path
    self.workdir = tmp_path / "run"
    shutil.copytree(source, self.workdir)
    self.checkpoints = self.workdir / "checkpoints"

  def train(self, *flags, workdir=None):
    workdir = self.workdir if workdir is None else workdir
    return in_process.run(TRAIN, f"--flagfile={self.workdir / 'flags.cfg'}",
                          f"--workdir={workdir}", *flags)

  def train_new(self, workdir, *flags):
    return in_process.run(TRAIN, f"--workdir={workdir}",
                          *_toy_flags(self.data_dir), *flags)

  def evaluate(self, *flags):
    return in_process.run(EVALUATE, f"--workdir={self.workdir}",
                          f"--output_dir={self.tmp / 'evaluation'}",
                          "--num_examples=8", "--num_bootstrap=5",
                          "--graying_factors=", "--num_samples=0",
                          "--datasets=toy", *flags)

  @contextlib.contextmanager
  def held_elsewhere(self, program=TRAIN):
    """Another live process, named `program`, holds the run while the block
    runs; yields its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import importlib.util, sys\n"
         "spec = importlib.util.spec_from_file_location('l', sys.argv[1])\n"
         "lock = importlib.util.module_from_spec(spec)\n"
         "spec.loader.exec_module(lock)\n"
         "folder, sys.argv[:] = sys.argv[2], sys.argv[3:]\n"
         "with lock.hold(folder):\n"
         "  print('held', flush=True)\n"
         "  sys.stdin.read()\n", run_lock.__file__, str(self.workdir),
         program], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
      assert holder.stdout.readline() == "held\n"
      yield holder.pid
    finally:
      holder.kill()
      holder.wait()

  def data_copy(self):
    """A copy of the run's data in a folder of its own (to change)."""
    copy = self.tmp / "data_copy"
    shutil.copytree(self.data_dir, copy)
    return copy

  def truncate(self, step):
    path = self.checkpoints / f"ckpt-{step}.data-00000-of-00001"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])

  def checkpoint_files(self, step):
    return {name: (self.checkpoints / name).read_bytes()
            for name in os.listdir(self.checkpoints)
            if name.startswith(f"ckpt-{step}.")}


def _ok(result):
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Traceback" not in result.stderr
  return result.stdout


# Recoverable faults: the run goes on from what is there, and says so.

def state_file_missing(c):
  kept = c.checkpoint_files(2) | c.checkpoint_files(4)
  os.remove(c.checkpoints / "checkpoint")
  out = _ok(c.train("--train_steps=6"))
  assert "found from their own files" in out
  assert "at step 4." in out and "step 6/6" in out
  assert kept == c.checkpoint_files(2) | c.checkpoint_files(4)   # not rewritten


def state_file_garbled(c):
  (c.checkpoints / "checkpoint").write_text("model_checkpoint_path: {{{ garbage")
  out = _ok(c.train("--train_steps=6"))
  assert "missing, damaged or out of date" in out and "at step 4." in out
  assert "ckpt-4" in (c.checkpoints / "checkpoint").read_text()


def truncated_latest_checkpoint_train(c):
  kept = c.checkpoint_files(2)
  c.truncate(4)
  damaged = c.checkpoint_files(4)
  out = _ok(c.train("--train_steps=6"))
  assert "ckpt-4 does not load" in out and "at step 2." in out
  assert c.checkpoint_files(2) == kept
  # The damaged files are kept aside, byte for byte, out of the run's way.
  moved = {n: (c.checkpoints / "damaged" / n).read_bytes()
           for n in os.listdir(c.checkpoints / "damaged")}
  assert moved == damaged
  assert json.loads((c.workdir / "results.json").read_text())["step"] == 6


def truncated_latest_checkpoint_evaluate(c):
  c.truncate(4)
  before = harness.snapshot(c.workdir)
  out = _ok(c.evaluate())
  assert "ckpt-4 does not load" in out and "Using" in out and "ckpt-2" in out
  harness.assert_unchanged(before, c.workdir)     # a reader repairs nothing
  results = json.loads((c.tmp / "evaluation" / "results.json").read_text())
  assert [r["step"] for r in results["runs"]] == [2]


def orphaned_temp_folder_removed(c):
  temp = c.checkpoints / "ckpt-6_temp"
  temp.mkdir()
  (temp / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 10)
  out = _ok(c.train("--train_steps=6"))
  assert "interrupted checkpoint save" in out and not temp.exists()
  assert (c.checkpoints / "ckpt-6.index").exists()


def diverged_before_any_checkpoint(c):
  workdir = c.tmp / "new"
  line = harness.refused_launcher(
      c.train_new(workdir, "--learning_rate=1e6", "--checkpoint_every=1"),
      TRAIN, "state after step 1 is not good", "no good state was saved",
      "starts afresh")
  assert not checkpoints.checkpoint_steps(str(workdir / "checkpoints"))
  # The command the line gives recovers: it trains from scratch and finishes.
  command = shlex.split(line.split("e.g. ", 1)[1].rstrip("."))
  assert command[:2] == ["python", TRAIN]
  out = _ok(in_process.run(*command[1:]))
  assert "Initialized ActNorm" in out and "step 4/4" in out


def diverged_after_a_good_checkpoint(c):
  kept = c.checkpoint_files(4)
  line = harness.refused_launcher(
      c.train("--train_steps=8", "--learning_rate=1e6", "--checkpoint_every=1"),
      TRAIN, "state after step 5 is not good", "ckpt-4 (step 4)",
      "which a re-run resumes from", "--learning_rate=0.001")
  assert sorted(checkpoints.checkpoint_steps(str(c.checkpoints)))[-1][0] == 4
  assert c.checkpoint_files(4) == kept
  command = shlex.split(line.split("e.g. ", 1)[1].rstrip("."))
  out = _ok(in_process.run(*command[1:]))
  assert "at step 4." in out and "step 8/8" in out


def nonfinite_steps_counted_like_the_progress_lines(c):
  harness.refused_launcher(
      c.train_new(c.tmp / "new", "--nonfinite_loss_steps=2,3",
                  "--max_consecutive_skips=2"),
      TRAIN, "2 consecutive training steps", "the last was step 3",
      "no good state was saved")


def stale_lock_taken_over(c):
  dead = subprocess.Popen([sys.executable, "-c", "pass"])
  dead.wait()
  (c.workdir / run_lock.LOCK_FILE).write_text(json.dumps(
      {"host": socket.gethostname(), "pid": dead.pid,
       "program": "launch/train.py", "started": "yesterday"}))
  out = _ok(c.train("--train_steps=6"))
  assert (f"Took over the lock {c.workdir / run_lock.LOCK_FILE} left by "
          f"launch/train.py (pid {dead.pid} on host") in out
  assert "no longer holds it" in out and "step 6/6" in out
  assert not (c.workdir / run_lock.LOCK_FILE).exists()


def evaluate_outside_a_live_run_folder(c):
  with c.held_elsewhere():       # training holds the run: score it meanwhile
    _ok(c.evaluate())
  assert (c.tmp / "evaluation" / "results.json").exists()


def resume_on_the_same_data_elsewhere(c):
  out = _ok(c.train("--train_steps=6", f"--data_dir={c.data_copy()}"))
  assert "step 6/6" in out and "fingerprint" not in out


def resume_on_the_same_images_written_again(c):
  copy = c.data_copy()
  path = copy / "toy_train.npz"
  with np.load(path) as f:
    arrays = dict(f)
  np.savez_compressed(path, **arrays)    # other bytes, the same images
  out = _ok(c.train("--train_steps=6", f"--data_dir={copy}"))
  assert f"{path} was written again with the same images" in out
  assert "step 6/6" in out


def resume_of_a_run_without_data_fingerprints(c):
  path = c.workdir / run_folder.CONFIG_FILE
  payload = json.loads(path.read_text())
  del payload[run_folder.DATA_FINGERPRINTS_KEY]
  path.write_text(json.dumps(payload))
  out = _ok(c.train("--train_steps=6"))
  assert "records no data fingerprints" in out and "step 6/6" in out
  assert run_folder.DATA_FINGERPRINTS_KEY in json.loads(path.read_text())


def evaluate_on_changed_data_warns(c):
  copy = c.data_copy()
  np.savez(copy / "toy_test.npz",
           images=toy_data.toy_images(16, seed=(9, 9)),
           labels=np.zeros([16], np.int64))
  out = _ok(c.evaluate(f"--data_dir={copy}"))
  warning, = [l for l in out.splitlines() if l.startswith("Warning:")]
  assert (f"{c.workdir} is scored on other data than it was trained and "
          f"evaluated on: toy/test was ") in warning


# Refusals: one line, exit 1, nothing of value changed.

def second_writer_train(c):
  with c.held_elsewhere() as pid:
    before = harness.snapshot(c.workdir)
    harness.refused_launcher(
        c.train("--train_steps=6"), TRAIN, f"{c.workdir} is in use by",
        f"(pid {pid} on host", f"`kill {pid}`",
        "or train into another --workdir")
    harness.assert_unchanged(before, c.workdir)


def second_writer_evaluate_into_the_run_folder(c):
  with c.held_elsewhere() as pid:
    before = harness.snapshot(c.workdir)
    harness.refused_launcher(
        c.evaluate(f"--output_dir={c.workdir / 'evaluation'}"), EVALUATE,
        f"{c.workdir} is in use by", f"(pid {pid} on host",
        "pass an --output_dir (and --summaries_dir) outside that folder")
    harness.assert_unchanged(before, c.workdir)


def train_while_an_evaluation_writes_the_run_folder(c):
  with c.held_elsewhere(EVALUATE) as pid:
    before = harness.snapshot(c.workdir)
    harness.refused_launcher(c.train("--train_steps=6"), TRAIN,
                             f"in use by {EVALUATE} (pid {pid} on host")
    harness.assert_unchanged(before, c.workdir)


def resume_on_changed_training_data(c):
  copy = c.data_copy()
  np.savez(copy / "toy_train.npz",
           images=toy_data.toy_images(64, seed=(9, 9)),
           labels=np.zeros([64], np.int64))
  _refused_resume(c, f"--data_dir={copy}", "--train_steps=6",
                  "was trained on other data than it would resume on",
                  f"toy/train was {c.data_dir / 'toy_train.npz'}",
                  f"and is {copy / 'toy_train.npz'}",
                  f"--init_from={c.workdir}")


def all_checkpoints_damaged_train(c):
  c.truncate(2)
  c.truncate(4)
  before = harness.snapshot(c.workdir)
  harness.refused_launcher(c.train("--train_steps=6"), TRAIN,
                           "no checkpoint in", "loads", "ckpt-4", "ckpt-2")
  harness.assert_unchanged(before, c.workdir)


def all_checkpoints_damaged_evaluate(c):
  c.truncate(2)
  c.truncate(4)
  before = harness.snapshot(c.workdir)
  harness.refused_launcher(c.evaluate(), EVALUATE, "no checkpoint in",
                           "loads")
  harness.assert_unchanged(before, c.workdir)


def _refused_resume(c, *flags_and_needles):
  flags = [f for f in flags_and_needles if f.startswith("--")]
  needles = [f for f in flags_and_needles if not f.startswith("--")]
  before = harness.snapshot(c.workdir)
  harness.refused_launcher(c.train(*flags), TRAIN, *needles)
  harness.assert_unchanged(before, c.workdir)


def resume_with_a_missing_data_dir(c):
  _refused_resume(c, f"--data_dir={c.tmp / 'nowhere'}", "--train_steps=6",
                  "toy_train.npz")


def resume_with_an_unknown_eval_dataset(c):
  _refused_resume(c, "--eval_datasets=no_such_set", "--train_steps=6",
                  "no_such_set")


def resume_with_a_changed_model(c):
  _refused_resume(c, "--hidden_width=16", "model.hidden_width=8 in the file")


def resume_with_a_changed_batch(c):
  _refused_resume(c, "--batch_size=4", "batch_size=8 in the file")


def _refused_new(c, workdir, flags, *needles):
  before = harness.snapshot(c.tmp)
  harness.refused_launcher(c.train_new(workdir, *flags), TRAIN, *needles)
  harness.assert_unchanged(before, c.tmp)
  return workdir


def new_workdir_with_missing_data(c):
  workdir = _refused_new(c, c.tmp / "new", ["--dataset=nope"], "nope_train.npz")
  assert not workdir.exists()


def new_workdir_with_a_truncated_npz(c):
  data_dir = c.tmp / "data"
  toy_data.write_dataset(data_dir)
  path = data_dir / "toy_train.npz"
  path.write_bytes(path.read_bytes()[:200])
  workdir = _refused_new(c, c.tmp / "new", [f"--data_dir={data_dir}"],
                         "toy_train.npz")
  assert not workdir.exists()


def new_workdir_with_an_empty_test_split(c):
  data_dir = c.tmp / "data"
  toy_data.write_dataset(data_dir, num_test=0)
  workdir = _refused_new(c, c.tmp / "new", [f"--data_dir={data_dir}"],
                         "no images")
  assert not workdir.exists()


def workdir_is_a_file(c):
  path = c.tmp / "a_file"
  path.write_text("precious")
  _refused_new(c, path, [], "is a file, not a folder")
  assert path.read_text() == "precious"


def workdir_under_a_file(c):
  path = c.tmp / "a_file"
  path.write_text("precious")
  _refused_new(c, path / "run", [], "cannot be made", "is a file")


def workdir_not_writable(c):
  _refused_new(c, "/proc/glow_ood_run", [], "workdir=/proc/glow_ood_run is "
               "not writable", "pass a folder you can write to")


def devices_that_do_not_exist(c):
  _refused_new(c, c.tmp / "new", ["--devices=/gpu:0"], "/gpu:0",
               "does not exist on this machine")


def devices_out_of_range(c):
  _refused_new(c, c.tmp / "new", ["--strategy=mirrored",
                                  "--devices=/cpu:0,/cpu:9"],
               "/cpu:9", "does not exist on this machine")


def device_name_malformed(c):
  _refused_new(c, c.tmp / "new", ["--devices=graphics-card"],
               "is not a device name")


def tf_config_not_json(c, monkeypatch):
  monkeypatch.setenv("TF_CONFIG", "{not json")
  _refused_new(c, c.tmp / "new", ["--strategy=multi_worker_mirrored"],
               "TF_CONFIG is not a cluster", "README")


def tf_config_task_outside_its_cluster(c, monkeypatch):
  monkeypatch.setenv("TF_CONFIG", json.dumps(
      {"cluster": {"worker": ["127.0.0.1:1"]},
       "task": {"type": "worker", "index": 3}}))
  _refused_new(c, c.tmp / "new", ["--strategy=multi_worker_mirrored"],
               "TF_CONFIG is not a cluster this task belongs to")


def nonfinite_step_zero(c):
  _refused_new(c, c.tmp / "new", ["--nonfinite_loss_steps=0"],
               "nonfinite_loss_steps")


def load_run_of_a_step_not_kept(c):
  harness.refused_api(lambda: runs_lib.load_run(str(c.workdir), step=3),
                      FileNotFoundError, "no checkpoint of step 3",
                      "kept steps: 2, 4")


def newest_loadable_of_damaged_checkpoints(c):
  c.truncate(2)
  c.truncate(4)
  harness.refused_api(
      lambda: checkpoints.newest_loadable(str(c.checkpoints)), ValueError,
      "no checkpoint in", "ckpt-4: IndexError", "ckpt-2: IndexError")


CASES = [pytest.param(case, id=case.__name__.replace("_", "-")) for case in (
    state_file_missing, state_file_garbled, truncated_latest_checkpoint_train,
    truncated_latest_checkpoint_evaluate, orphaned_temp_folder_removed,
    diverged_before_any_checkpoint, diverged_after_a_good_checkpoint,
    nonfinite_steps_counted_like_the_progress_lines,
    all_checkpoints_damaged_train, all_checkpoints_damaged_evaluate,
    resume_with_a_missing_data_dir, resume_with_an_unknown_eval_dataset,
    resume_with_a_changed_model, resume_with_a_changed_batch,
    new_workdir_with_missing_data, new_workdir_with_a_truncated_npz,
    new_workdir_with_an_empty_test_split, workdir_is_a_file, workdir_under_a_file,
    workdir_not_writable, devices_that_do_not_exist, devices_out_of_range,
    device_name_malformed, tf_config_not_json,
    tf_config_task_outside_its_cluster, nonfinite_step_zero,
    load_run_of_a_step_not_kept, newest_loadable_of_damaged_checkpoints,
    stale_lock_taken_over, evaluate_outside_a_live_run_folder,
    resume_on_the_same_data_elsewhere, resume_on_the_same_images_written_again,
    resume_of_a_run_without_data_fingerprints, evaluate_on_changed_data_warns,
    second_writer_train, second_writer_evaluate_into_the_run_folder,
    train_while_an_evaluation_writes_the_run_folder,
    resume_on_changed_training_data)]


@pytest.mark.parametrize("case", CASES)
def test_case(case, finished, tmp_path, monkeypatch):
  context = Context(finished, tmp_path)
  if "monkeypatch" in case.__code__.co_varnames[:case.__code__.co_argcount]:
    case(context, monkeypatch)
  else:
    case(context)
