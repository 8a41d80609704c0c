"""Tests of `benchmarks.report_file`: the report copied after its header, and an existing file refused."""

import pytest

from benchmarks import report_file


def test_the_file_holds_the_header_then_everything_printed(tmp_path, capsys):
  path = tmp_path / "out" / "report.txt"
  with report_file.tee(str(path), ["benchmarks/throughput.py", "--x=a b"]):
    print("== section")
    print("  12.5 images/s")
  text = path.read_text()
  lines = text.splitlines()
  assert lines[0] == "command: python benchmarks/throughput.py '--x=a b'"
  assert lines[1].startswith("commit: ")
  assert lines[2].startswith("machine: ") and "CPUs" in lines[2]
  assert lines[3].startswith("simd flags: ")
  assert lines[4].startswith("recorded: ") and lines[4].endswith(" UTC")
  assert lines[6:] == ["== section", "  12.5 images/s"]
  assert capsys.readouterr().out == "== section\n  12.5 images/s\n"


def test_absolute_paths_in_the_command_become_relative_to_where_it_ran(
    tmp_path):
  repo, venv = tmp_path / "repo", tmp_path / "venv"
  assert report_file.portable_command(
      ["benchmarks/peer.py", f"--peer_python={venv / 'bin' / 'python'}",
       str(repo / "x.txt"), "--rounds=5", "--label=a=b"], str(repo)) == [
           "benchmarks/peer.py", "--peer_python=../venv/bin/python", "x.txt",
           "--rounds=5", "--label=a=b"]


def test_an_existing_file_is_refused_and_kept(tmp_path):
  path = tmp_path / "report.txt"
  path.write_text("an earlier run\n")
  with pytest.raises(report_file.OutputExistsError, match="report.txt exists"):
    with report_file.tee(str(path), ["x.py"]):
      raise AssertionError("the block must not run")
  assert path.read_text() == "an earlier run\n"


def test_no_path_copies_nothing(tmp_path, capsys):
  with report_file.tee("", ["x.py"]):
    print("only on screen")
  assert capsys.readouterr().out == "only on screen\n"
  assert not list(tmp_path.iterdir())


def test_run_refuses_an_existing_file_as_a_usage_error(tmp_path):
  from absl import app  # pylint: disable=g-import-not-at-top
  path = tmp_path / "report.txt"
  path.write_text("kept\n")
  with pytest.raises(app.UsageError, match="exists; choose a new file name"):
    report_file.run(str(path), ["x.py"], lambda: print("measured"))
  assert path.read_text() == "kept\n"
  report_file.run(str(tmp_path / "new.txt"), ["x.py"], lambda: print("ok"))
  assert (tmp_path / "new.txt").read_text().endswith("\nok\n")
