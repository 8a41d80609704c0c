"""Catalogue: a disk that fills or turns read-only while a launcher writes.

Each case starts from a copy of the catalogue's finished tiny run (ckpt-2,
ckpt-4: tests/catalogue/runs_test.py) and injects the fault at one write
(`tests.disk_faults`: Python writes redirected to /dev/full, where the
kernel answers ENOSPC, or refused with EROFS; TensorFlow's checkpoint and
event-file writes failing with the error TensorFlow raises). What the issue
promises: exit code `glow_ood.write_errors.EXIT_CODE` (74), no traceback,
one line

    launch/<program>.py: error: cannot write <path>: [Errno <n>] <strerror>.
    Fix: <what to do>, then rerun the same command; the run resumes from
    ckpt-<s> (step <s>).

every file that was there before byte-identical (or, where a write was
under way, the previous version of that file), nothing half-written left
to be taken for good, and the same command, rerun once the disk is fixed,
resumes and finishes. A write refused while training (not at the start,
which writes nothing) leaves training.json saying so: `write_failed`, the
line, the step reached and the checkpoint the line names.
"""

import errno
import json
import os

import pytest

from glow_ood import write_errors
from tests import disk_faults
from tests.catalogue import harness
from tests.catalogue.runs_test import EVALUATE
from tests.catalogue.runs_test import TRAIN
from tests.catalogue.runs_test import Context
from tests.catalogue.runs_test import finished  # pylint: disable=unused-import
from tests.launch import in_process

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow

NO_SPACE = "[Errno 28] No space left on device. Fix: free space on that disk"
READ_ONLY = ("[Errno 30] Read-only file system. Fix: make that file system "
             "writable again")


def _failed(result, script, path, *needles):
  """The one line of a launcher whose write of `path` failed (exit 74)."""
  assert result.returncode == write_errors.EXIT_CODE, (
      result.returncode, result.stderr[-3000:])
  line = harness.refused_launcher(result, script, f"cannot write {path}: ",
                                  "then rerun the same command", *needles)
  return line


def _recorded(c, line, step, newest):
  """training.json records the refused write of `line` at `step`, naming
  `ckpt-<newest>`."""
  harness.assert_stop_recorded(
      c.workdir, "write_failed", step, line.split(": error: ", 1)[1],
      c.checkpoints / f"ckpt-{newest}")


def _ok(result):
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Traceback" not in result.stderr
  return result.stdout


def _unchanged_but(c, before, written=(), new=()):
  """Every file of `before` is as it was but `written` (relative paths the
  resumed run rewrote whole before the failure: config.json, flags.cfg,
  ...); no new file but TensorBoard events and `new` (prefixes)."""
  harness.assert_unchanged({k: v for k, v in before.items()
                            if k not in written}, c.workdir,
                           allow_new=("train/", "eval/", "eval_sets/",
                                      "events.out.tfevents") + tuple(written)
                           + tuple(new))


_RESUMED = ("config.json", "flags.cfg")   # rewritten by every resume
_STOPPED = _RESUMED + ("training.json",)    # ... and by a stop in training


# A checkpoint save fails: the newest good checkpoint and every earlier one
# stay, nothing of the failed one is left, the rerun resumes from the newest.

def _checkpoint_save_fails(c, monkeypatch, number, leave, needle, written=()):
  before = harness.snapshot(c.workdir)
  failed = disk_faults.failing_checkpoint_saves(monkeypatch, 6, number, leave)
  line = _failed(c.train("--train_steps=8"), TRAIN, c.checkpoints / "ckpt-6",
                 needle, "the run resumes from ckpt-4 (step 4)")
  assert failed == [str(c.checkpoints / "ckpt-6")]
  assert not [n for n in os.listdir(c.checkpoints)
              if n.startswith(("ckpt-6", "checkpoint.tmp"))]
  _unchanged_but(c, before, _STOPPED + written)
  _recorded(c, line, 6, 4)
  monkeypatch.undo()   # the disk is fixed
  out = _ok(c.train("--train_steps=8"))
  assert "at step 4." in out and "step 8/8" in out
  return line, out


def checkpoint_save_on_a_full_disk(c, monkeypatch):
  _checkpoint_save_fails(c, monkeypatch, errno.ENOSPC, "temp", NO_SPACE)


def checkpoint_save_on_a_read_only_disk(c, monkeypatch):
  _checkpoint_save_fails(c, monkeypatch, errno.EROFS, "temp", READ_ONLY)


def checkpoint_half_written_on_a_full_disk(c, monkeypatch):
  # The damaged ckpt-6 the state file names is removed; the rerun finds
  # ckpt-4 from its own files and rewrites the state file.
  _, out = _checkpoint_save_fails(c, monkeypatch, errno.ENOSPC,
                                  "half_written", NO_SPACE,
                                  written=("checkpoints/checkpoint",))
  assert "Rewrote the checkpoint state file" in out


def checkpoint_state_file_on_a_full_disk(c, monkeypatch):
  # ckpt-6 was written whole: it is a good state, kept and resumed from.
  before = harness.snapshot(c.workdir)
  disk_faults.failing_checkpoint_saves(monkeypatch, 6, errno.ENOSPC,
                                       "state_file")
  line = _failed(c.train("--train_steps=8"), TRAIN, c.checkpoints / "ckpt-6",
                 NO_SPACE, "the run resumes from ckpt-6 (step 6)")
  assert sorted(n for n in os.listdir(c.checkpoints)
                if n.startswith(("ckpt-6", "checkpoint.tmp"))) == [
                    "ckpt-6.data-00000-of-00001", "ckpt-6.index"]
  _unchanged_but(c, before, _STOPPED, new=("checkpoints/ckpt-6.",))
  _recorded(c, line, 6, 6)
  monkeypatch.undo()
  out = _ok(c.train("--train_steps=8"))
  assert "found from their own files" in out
  assert "at step 6." in out and "step 8/8" in out


# A JSON file of the run folder: the previous version stays.

def results_json_on_a_full_disk(c, monkeypatch):
  before = harness.snapshot(c.workdir)
  hits = disk_faults.full(monkeypatch, ["results.json"])
  line = _failed(c.train("--train_steps=6"), TRAIN, c.workdir / "results.json",
                 NO_SPACE, "the run resumes from ckpt-6 (step 6)")
  assert hits == [str(c.workdir / "results.json.tmp")]
  assert not (c.workdir / "results.json.tmp").exists()
  assert json.loads((c.workdir / "results.json").read_text())["step"] == 4
  _unchanged_but(c, before, _STOPPED + ("checkpoints/checkpoint",
                                        "evaluations.json"),
                 new=("checkpoints/ckpt-6.",))
  _recorded(c, line, 6, 6)
  monkeypatch.undo()
  out = _ok(c.train("--train_steps=6"))
  assert "at step 6." in out
  assert json.loads((c.workdir / "results.json").read_text())["step"] == 6


def config_json_on_a_read_only_disk(c, monkeypatch):
  before = harness.snapshot(c.workdir)
  hits = disk_faults.read_only(monkeypatch, ["config.json"])
  _failed(c.train("--train_steps=6"), TRAIN, c.workdir / "config.json",
          READ_ONLY, "the run resumes from ckpt-4 (step 4)")
  assert hits
  harness.assert_unchanged(before, c.workdir)   # nothing at all was written


def flags_cfg_on_a_full_disk(c, monkeypatch):
  before = harness.snapshot(c.workdir)
  disk_faults.full(monkeypatch, ["flags.cfg"])
  _failed(c.train("--train_steps=6"), TRAIN, c.workdir / "flags.cfg",
          NO_SPACE, "the run resumes from ckpt-4 (step 4)")
  _unchanged_but(c, before, ("config.json",))   # written just before, whole


def new_run_on_a_full_disk(c, monkeypatch):
  workdir = c.tmp / "new"
  disk_faults.full(monkeypatch, ["config.json"])
  _failed(c.train_new(workdir), TRAIN, workdir / "config.json", NO_SPACE,
          "no checkpoint was saved yet, so the run starts again from step 0")
  assert not workdir.exists()


def workdir_on_a_read_only_disk(c, monkeypatch):
  real_mkdir = os.mkdir

  def mkdir(path, *args, **kwargs):
    if ".write_probe_" in os.fspath(path):
      raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
    return real_mkdir(path, *args, **kwargs)
  monkeypatch.setattr(os, "mkdir", mkdir)
  before = harness.snapshot(c.tmp)
  _failed(c.train_new(c.tmp / "new"), TRAIN, c.tmp / "new", READ_ONLY,
          "no checkpoint was saved yet, so the run starts again from step 0")
  harness.assert_unchanged(before, c.tmp)
  assert not (c.tmp / "new").exists()


# TensorBoard events: TensorFlow's writer fails.

def tensorboard_events_on_a_full_disk(c, monkeypatch):
  from glow_ood.train import summaries  # pylint: disable=g-import-not-at-top
  events = c.workdir / "train" / "events.out.tfevents.1.host.1.v2"

  def write_scalars(*args, **kwargs):
    del args, kwargs
    raise disk_faults.tensorflow_error(events, errno.ENOSPC)
  monkeypatch.setattr(summaries, "write_scalars", write_scalars)
  before = harness.snapshot(c.workdir)
  line = _failed(c.train("--train_steps=8"), TRAIN, events, NO_SPACE,
                 "the run resumes from ckpt-4 (step 4)")
  _unchanged_but(c, before, _STOPPED)
  _recorded(c, line, 6, 4)   # the first progress line (--log_every=2)


# launch/evaluate.py: a figure of a staged report; the earlier report stays.

def evaluation_figure_on_a_full_disk(c, monkeypatch):
  output = c.tmp / "evaluation"
  _ok(c.evaluate())
  before = harness.snapshot(output)
  hits = disk_faults.full(monkeypatch, ["log_prob_histograms.tmp.png"])
  _failed(c.evaluate(), EVALUATE,
          output / "figures" / "log_prob_histograms.png", NO_SPACE)
  assert hits
  harness.assert_unchanged(before, output)
  monkeypatch.undo()
  _ok(c.evaluate())


# launch/export.py: the SavedModel; no output folder, no temporary left.

def export_on_a_full_disk(c, monkeypatch):
  from glow_ood.export import exporter  # pylint: disable=g-import-not-at-top
  output = c.tmp / "export"

  def save(obj, export_dir, *args, **kwargs):
    del obj, args, kwargs
    os.makedirs(os.path.join(export_dir, "variables"))
    raise disk_faults.tensorflow_error(
        os.path.join(export_dir, "variables", "variables_temp"), errno.ENOSPC)
  monkeypatch.setattr(exporter.tf.saved_model, "save", save)
  before = harness.snapshot(c.tmp)
  _failed(in_process.run("launch/export.py", f"--workdir={c.workdir}",
                         f"--output_dir={output}", "--noverify",
                         "--typicality_fit_split=none"),
          "launch/export.py", output, NO_SPACE)
  harness.assert_unchanged(before, c.tmp)


CASES = [pytest.param(case, id=case.__name__.replace("_", "-")) for case in (
    checkpoint_save_on_a_full_disk, checkpoint_save_on_a_read_only_disk,
    checkpoint_half_written_on_a_full_disk,
    checkpoint_state_file_on_a_full_disk, results_json_on_a_full_disk,
    config_json_on_a_read_only_disk, flags_cfg_on_a_full_disk,
    new_run_on_a_full_disk, workdir_on_a_read_only_disk,
    tensorboard_events_on_a_full_disk, evaluation_figure_on_a_full_disk,
    export_on_a_full_disk)]


@pytest.mark.parametrize("case", CASES)
def test_case(case, finished, tmp_path, monkeypatch):  # pylint: disable=redefined-outer-name
  case(Context(finished, tmp_path), monkeypatch)
