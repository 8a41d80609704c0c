"""Tests of `glow_ood.fileio`: atomic writes, staged reports, one-line errors."""

import errno
import json
import os

import numpy as np
import pytest

from glow_ood import fileio
from glow_ood import write_errors
from tests import disk_faults


def test_write_json_replaces_atomically(tmp_path):
  path = str(tmp_path / "sub" / "results.json")
  fileio.write_json(path, {"a": 1})
  fileio.write_json(path, {"a": 2})
  assert fileio.read_json(path) == {"a": 2}
  assert os.listdir(tmp_path / "sub") == ["results.json"]


def test_a_failed_write_leaves_the_previous_file(tmp_path):
  path = tmp_path / "results.json"
  fileio.write_json(str(path), {"a": 1})
  with pytest.raises(TypeError):
    fileio.write_json(str(path), {"a": object()})   # not JSON-serializable
  assert json.loads(path.read_text()) == {"a": 1}
  assert os.listdir(tmp_path) == ["results.json"]
  # A kill's leftover temporary file is overwritten, and read by nobody.
  (tmp_path / "results.json.tmp").write_text('{"a": ')
  fileio.write_json(str(path), {"a": 3})
  assert fileio.read_json(str(path)) == {"a": 3}
  assert os.listdir(tmp_path) == ["results.json"]


def test_write_text_and_save_npz(tmp_path):
  fileio.write_text(str(tmp_path / "a" / "results.md"), "# Title\n")
  assert (tmp_path / "a" / "results.md").read_text() == "# Title\n"
  # The name is kept as given: numpy.savez would append ".npz" to "scores".
  fileio.save_npz(str(tmp_path / "scores"), x=np.arange(3))
  fileio.save_npz(str(tmp_path / "scores.npz"), compressed=False,
                  y=np.ones(2))
  with np.load(tmp_path / "scores") as arrays:
    np.testing.assert_array_equal(arrays["x"], [0, 1, 2])
  with np.load(tmp_path / "scores.npz") as arrays:
    assert list(arrays) == ["y"]
  assert sorted(os.listdir(tmp_path)) == ["a", "scores", "scores.npz"]


@pytest.mark.parametrize("text, problem", [
    ("", "is empty (0 bytes; a run killed while writing it?)"),
    ("  \n", "is empty (3 bytes"),
    ('{"step": 4, "bits_per', "is truncated (invalid JSON: Unterminated "
     "string starting at: line 1 column 13 (char 12); a run killed while "
     "writing it?)"),
    ('{"step": 4,\n "bits": {"a": 1.5}', "is truncated (invalid JSON: "
     "Expecting ',' delimiter: line 2 column 20 (char 31); a run killed"),
    ("{step = 4}\n", "is damaged (invalid JSON: Expecting property name "
     "enclosed in double quotes: line 1 column 2 (char 1))"),
    ("[1, 2]", "holds a JSON list, not the results file (a JSON object)"),
])
def test_read_json_of_a_damaged_file_names_it_and_the_fix(tmp_path, text,
                                                          problem):
  path = tmp_path / "results.json"
  path.write_text(text)
  with pytest.raises(ValueError) as info:
    fileio.read_json(str(path), "results file", fix="do x")
  message = str(info.value)
  assert message.startswith(f"{path} {problem}"), message
  assert message.endswith(": do x.") and "\n" not in message
  path.write_bytes(b"\xff\xfe{")
  with pytest.raises(ValueError, match=r"is damaged: not UTF-8 text"):
    fileio.read_json(str(path))


def test_check_writable(tmp_path):
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  fileio.check_writable(str(tmp_path), "--output_dir")
  fileio.check_writable(str(tmp_path / "new" / "deeper"), "--output_dir")
  assert sorted(os.listdir(tmp_path)) == ["a_file"]   # nothing made
  with pytest.raises(ValueError, match=rf"--output_dir={a_file} is a file, "
                     "not a folder; pass a folder"):
    fileio.check_writable(str(a_file), "--output_dir")
  with pytest.raises(ValueError, match=rf"--workdir={a_file}/x/y cannot be "
                     rf"made: {a_file} is a file; pass a path under a folder"):
    fileio.check_writable(str(a_file / "x" / "y"), "--workdir")
  with pytest.raises(ValueError, match=r"--output_dir=/proc/glow_ood_x is not "
                     r"writable: cannot create anything in /proc \("):
    fileio.check_writable("/proc/glow_ood_x", "--output_dir")
  assert sorted(os.listdir(tmp_path)) == ["a_file"]


def test_staged_outputs_replace_on_success_and_leave_all_on_failure(tmp_path):
  out = tmp_path / "evaluation"
  with fileio.staged_outputs(str(out)) as stage:
    fileio.write_text(os.path.join(stage, "results.md"), "one")
    fileio.write_text(os.path.join(stage, "figures", "a.png"), "png")
    assert not (out / "results.md").exists()
  assert (out / "results.md").read_text() == "one"
  assert sorted(os.listdir(out)) == ["figures", "results.md"]
  with pytest.raises(RuntimeError):
    with fileio.staged_outputs(str(out)) as stage:
      fileio.write_text(os.path.join(stage, "results.md"), "two")
      raise RuntimeError("drawing failed")
  assert (out / "results.md").read_text() == "one"
  assert sorted(os.listdir(out)) == ["figures", "results.md"]
  # A new folder is removed again if the block fails.
  with pytest.raises(RuntimeError):
    with fileio.staged_outputs(str(tmp_path / "new" / "out")):
      raise RuntimeError("drawing failed")
  assert sorted(os.listdir(tmp_path)) == ["evaluation"]


@pytest.mark.parametrize("write", [
    lambda path: fileio.write_json(path, {"step": 2}),
    lambda path: fileio.write_text(path, "two"),
    lambda path: fileio.save_npz(path, images=np.zeros([3]))])
def test_a_write_on_a_full_disk_keeps_the_previous_file(tmp_path, monkeypatch,
                                                        write):
  path = tmp_path / "results.json"
  path.write_text('{"step": 1}')
  hits = disk_faults.full(monkeypatch, ["results.json"])
  with pytest.raises(write_errors.WriteFailedError) as info:
    write(str(path))
  assert hits == [str(path) + ".tmp"]   # the kernel said ENOSPC to that file
  assert str(info.value).startswith(
      f"cannot write {path}: [Errno 28] No space left on device. Fix: ")
  assert path.read_text() == '{"step": 1}'
  assert sorted(os.listdir(tmp_path)) == ["results.json"]   # no .tmp left


def test_a_write_on_a_read_only_disk_keeps_the_previous_file(tmp_path,
                                                             monkeypatch):
  path = tmp_path / "config.json"
  path.write_text("{}")
  disk_faults.read_only(monkeypatch, ["config.json"])
  with pytest.raises(write_errors.WriteFailedError,
                     match=rf"cannot write {path}: \[Errno 30\] Read-only"):
    fileio.write_json(str(path), {"config": 1})
  assert path.read_text() == "{}" and os.listdir(tmp_path) == ["config.json"]


def test_a_staged_report_on_a_full_disk_names_the_file_it_was_for(tmp_path,
                                                                  monkeypatch):
  out = tmp_path / "evaluation"
  with fileio.staged_outputs(str(out)) as stage:
    fileio.write_text(os.path.join(stage, "figures", "a.png"), "one")
  disk_faults.full(monkeypatch, ["b.tmp.png"])
  with pytest.raises(write_errors.WriteFailedError) as info:
    with fileio.staged_outputs(str(out)) as stage:
      fileio.write_text(os.path.join(stage, "figures", "a.png"), "two")
      fileio.write_text(os.path.join(stage, "figures", "b.png"), "two")
  assert info.value.path == str(out / "figures" / "b.png")
  assert (out / "figures" / "a.png").read_text() == "one"
  assert sorted(os.listdir(out)) == ["figures"]
  assert sorted(os.listdir(out / "figures")) == ["a.png"]


def test_check_writable_on_a_read_only_disk_says_so(tmp_path, monkeypatch):
  real_mkdir = os.mkdir

  def mkdir(path, *args):
    if ".write_probe_" in os.fspath(path):
      raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
    return real_mkdir(path, *args)
  monkeypatch.setattr(os, "mkdir", mkdir)
  with pytest.raises(write_errors.WriteFailedError,
                     match=rf"^cannot write {tmp_path}: \[Errno 30\]"):
    fileio.check_writable(str(tmp_path / "run"), "--workdir")


def test_a_staged_new_folder_appears_whole_and_a_kill_leftover_is_removed(
    tmp_path):
  out = tmp_path / "export"
  leftover = tmp_path / f".export{fileio.STAGING_DIR}"
  (leftover / "variables").mkdir(parents=True)   # a killed program's stage
  with fileio.staged_outputs(str(out)) as stage:
    assert not out.exists()   # nothing of it shows until the block ends
    fileio.write_text(os.path.join(stage, "variables", "v"), "one")
  assert (out / "variables" / "v").read_text() == "one"
  assert sorted(os.listdir(tmp_path)) == ["export"]
  empty = tmp_path / "empty"
  empty.mkdir()
  with fileio.staged_outputs(str(empty)) as stage:
    fileio.write_text(os.path.join(stage, "a.md"), "a")
    assert os.listdir(empty) == []
  assert sorted(os.listdir(tmp_path)) == ["empty", "export"]
  assert os.listdir(empty) == ["a.md"]
