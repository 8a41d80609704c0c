"""The training launcher end to end: smoke flagfile, resume, and one-line errors."""

import subprocess
import sys

import pytest

from tests import REPO
from tests import launcher_error_line
from tests import shared_data
from tests.launch import in_process

DATA_DIR = shared_data.data_dir()
# The smoke flagfile's data (also tests/launch/train_multi_worker_test.py's).
needs_data = shared_data.needs("fashion_mnist_train.npz",
                               "fashion_mnist_test.npz", "mnist_test.npz")


def launch(workdir, *extra):
  """A real `python launch/train.py` with the smoke flagfile."""
  command = [sys.executable, "launch/train.py",
             "--flagfile=launch/flagfiles/smoke.cfg", f"--workdir={workdir}",
             f"--data_dir={DATA_DIR}", *extra]
  return subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                        timeout=600, check=False)


def launch_in_process(workdir, *extra):
  """The same, in this process (for the error paths)."""
  return in_process.run("launch/train.py",
                        "--flagfile=launch/flagfiles/smoke.cfg",
                        f"--workdir={workdir}", f"--data_dir={DATA_DIR}",
                        *extra)


@pytest.mark.slow
@needs_data
def test_smoke_flagfile_trains_resumes_and_prints_the_table(tmp_path):
  workdir = tmp_path / "run"
  first = launch(workdir)
  assert first.returncode == 0, first.stderr[-3000:]
  rows = [l.split() for l in first.stdout.splitlines()
          if l.startswith(("fashion_mnist/", "mnist/"))]
  assert [r[0] for r in rows] == ["fashion_mnist/train", "fashion_mnist/test",
                                  "mnist/test"]
  assert rows[2][2] == "out-of-distribution"
  assert all(0 < float(r[1]) < 16 for r in rows)
  saved = (workdir / "flags.cfg").read_text()
  assert "--dataset=fashion_mnist" in saved and "--train_steps=6" in saved
  assert (workdir / "checkpoints" / "checkpoint").exists()
  # Re-running with more steps resumes where the first run stopped.
  second = launch(workdir, "--train_steps=9")
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Resumed from" in second.stdout and "at step 6." in second.stdout
  assert "step 9/9" in second.stdout
  # The saved flags relaunch the run as it was (here: nothing left to do).
  third = subprocess.run(
      [sys.executable, "launch/train.py", f"--flagfile={workdir}/flags.cfg"],
      cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
  assert third.returncode == 0, third.stderr[-3000:]
  assert "at step 9." in third.stdout


def error_line(result):
  return launcher_error_line(result, "launch/train.py")


@needs_data
@pytest.mark.parametrize("flags, message", [
    (["--dataset=no_such_dataset"], "no_such_dataset_train.npz"),
    (["--image_shape=32,32,3"], "expects (32, 32, 3)"),
    (["--pad_to=0"], "(28, 28, 1)"),
    (["--devices=/cpu:0,/cpu:1", "--batch_size=15"], "not divisible by the 2"),
    (["--coupling_scale=affine"], None),
    (["--n_bits=9"], None),
])
def test_bad_flags_fail_with_one_clear_line_before_training(tmp_path, flags,
                                                             message):
  workdir = tmp_path / "run"
  result = launch_in_process(workdir, *flags)
  assert result.returncode != 0
  if message is None:  # rejected by absl's flag parser (enum / bounds)
    assert "FATAL Flags parsing error" in result.stderr, result.stderr[-2000:]
  else:
    assert message in error_line(result)
  assert not workdir.exists()  # nothing written, no checkpoint


def test_missing_data_dir_fails_with_one_clear_line(tmp_path):
  workdir = tmp_path / "run"
  result = in_process.run(
      "launch/train.py", "--flagfile=launch/flagfiles/smoke.cfg",
      f"--workdir={workdir}", f"--data_dir={tmp_path / 'nowhere'}",
      "--data_source=npz")
  line = error_line(result)
  assert "nowhere" in line and "fashion_mnist_train.npz" in line
  assert not workdir.exists()


@needs_data
def test_changed_model_flags_do_not_resume_a_workdir(tmp_path):
  workdir = tmp_path / "run"
  assert launch_in_process(workdir, "--train_steps=3").returncode == 0
  saved_flags = (workdir / "flags.cfg").read_text()
  saved_config = (workdir / "config.json").read_text()
  line = error_line(launch_in_process(workdir, "--hidden_width=16"))
  assert "model.hidden_width=8 in the file, 16 now" in line
  assert (workdir / "checkpoints").exists()  # the old run is untouched
  # ... and so are the files that describe and relaunch it.
  assert (workdir / "flags.cfg").read_text() == saved_flags
  assert (workdir / "config.json").read_text() == saved_config
