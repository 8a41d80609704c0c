"""What every launcher shares: flagfiles from any folder, `--help` by group, console scripts.

`expand_flagfiles` is plain Python (no TensorFlow); `--help` runs in process
(it exits before `main`); one console script runs for real from `/`; a
write the disk refuses ends any launcher with one line and exit code 74.
"""

import errno
import glob
import importlib.metadata
import os
import shutil
import subprocess

from absl import flags
import pytest

from tests import REPO
from tests import launcher_error_line
from tests.launch import in_process
from glow_ood import flags as glow_flags
from glow_ood import write_errors
from launch import bootstrap
from tests import disk_faults

FLAGFILES = os.path.join(REPO, "launch", "flagfiles")
LAUNCHERS = ("train", "evaluate", "analyze_data", "ood_benchmark",
             "train_ensemble", "two_moons")


def _write(path, *lines):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("\n".join(lines) + "\n")
  return str(path)


# 1. Flagfiles.

def test_nested_flagfile_is_relative_to_the_including_file(tmp_path,
                                                           monkeypatch):
  _write(tmp_path / "cfg" / "base.cfg", "# shared", "--a=1", "", "--b=1")
  outer = _write(tmp_path / "cfg" / "outer.cfg", "--flagfile=base.cfg",
                 "  // comment", "--b=2")
  (tmp_path / "elsewhere").mkdir()
  monkeypatch.chdir(tmp_path / "elsewhere")
  assert bootstrap.expand_flagfiles(
      ["--x=0", f"--flagfile={outer}", "--b=3", "--", "--flagfile=kept"]) == [
          "--x=0", "--a=1", "--b=1", "--b=2", "--b=3", "--", "--flagfile=kept"]
  # `--flagfile FILE`, and a path relative to the current folder on the
  # command line.
  assert bootstrap.expand_flagfiles(["--flagfile", "../cfg/base.cfg"]) == [
      "--a=1", "--b=1"]


def test_nested_flagfile_falls_back_to_the_current_folder(tmp_path,
                                                          monkeypatch):
  """How absl resolved nested lines before: kept for older flagfiles."""
  _write(tmp_path / "old" / "base.cfg", "--a=1")
  outer = _write(tmp_path / "cfg" / "outer.cfg", "--flagfile=old/base.cfg")
  monkeypatch.chdir(tmp_path)
  assert bootstrap.expand_flagfiles([f"--flagfile={outer}"]) == ["--a=1"]


def test_bad_flagfiles_raise_one_line_naming_the_file(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  outer = _write(tmp_path / "cfg" / "outer.cfg", "--flagfile=missing.cfg")
  with pytest.raises(bootstrap.FlagfileError,
                     match=rf"^{outer}: cannot read --flagfile=missing.cfg "
                           rf"\(looked in {tmp_path}/cfg or in the current "
                           rf"folder {tmp_path}"):
    bootstrap.expand_flagfiles([f"--flagfile={outer}"])
  loop = _write(tmp_path / "cfg" / "loop.cfg", "--flagfile=loop.cfg")
  with pytest.raises(bootstrap.FlagfileError, match="includes itself"):
    bootstrap.expand_flagfiles([f"--flagfile={loop}"])
  with pytest.raises(bootstrap.FlagfileError, match="needs a file"):
    bootstrap.expand_flagfiles(["--flagfile"])


@pytest.mark.parametrize("name", sorted(
    os.path.basename(p) for p in glob.glob(os.path.join(FLAGFILES, "*.cfg"))))
def test_repo_flagfiles_read_the_same_from_any_folder(name, monkeypatch):
  monkeypatch.chdir(REPO)
  from_repo = bootstrap.expand_flagfiles([f"--flagfile=launch/flagfiles/{name}"])
  monkeypatch.chdir("/")
  from_root = bootstrap.expand_flagfiles(
      [f"--flagfile={os.path.join(FLAGFILES, name)}"])
  assert from_repo == from_root and from_root
  assert not any("flagfile" in arg for arg in from_root)
  values = flags.FlagValues()   # and absl takes every line
  if name.startswith("ood_"):
    glow_flags.define_ood_benchmark_flags(values)
  elif name.startswith("evaluate_"):
    glow_flags.define_evaluate_flags(values)
  elif name.startswith("analyze_"):
    glow_flags.define_analyze_data_flags(values)
  else:
    glow_flags.define_train_flags(values)
  values(["program", *from_root])


def test_a_missing_flagfile_is_one_error_line(tmp_path):
  result = in_process.run("launch/train.py", f"--workdir={tmp_path / 'run'}",
                          f"--flagfile={tmp_path / 'no.cfg'}")
  line = launcher_error_line(result, "launch/train.py")
  assert f"cannot read --flagfile={tmp_path / 'no.cfg'}" in line
  assert not (tmp_path / "run").exists()


# 2. --help.

def _help(script, *args):
  result = in_process.run(script, *args)
  assert result.returncode == 0, result.stderr[-2000:]
  return result.stdout


def test_help_lists_the_programs_own_flags_by_group():
  text = _help("launch/train.py", "--help")
  assert text.startswith("Trains a Glow: one flagfile per experiment")
  assert "(--workdir required)" in text
  assert "  --workdir: [required] Run folder" in text
  titles = [line[:-1] for line in text.splitlines()
            if line.endswith(":") and not line.startswith(" ")]
  assert titles == ["general", "model: glow", "model: pixelcnn", "model: vae",
                    "data", "training"]
  # Choices and defaults.
  assert "--coupling_scale: <exp|sigmoid|additive>:" in text
  assert "(default: 'sigmoid')" in text
  assert "--[no]learn_top:" in text
  # Not absl's own flags (--helpfull, absl's, lists them).
  assert "--logtostderr" not in text and "--flagfile=FILE" in text


@pytest.mark.parametrize("script, groups, required", [
    ("launch/evaluate.py", ["general", "evaluation",
                            "data (default: the run's, from config.json)"],
     "--workdir"),
    ("launch/analyze_data.py", ["general", "analysis"], None),
    ("launch/two_moons.py", ["general", "two_moons"], "--output_dir"),
    ("launch/ood_benchmark.py", ["general", "benchmark"], None),
])
def test_help_of_every_absl_launcher(script, groups, required):
  text = _help(script, "-h")
  titles = [line[:-1] for line in text.splitlines()
            if line.endswith(":") and not line.startswith(" ")]
  assert titles[:len(groups)] == groups, titles
  if required:
    assert f"  {required}: [required]" in text
  else:
    assert "[required]" not in text
  if script == "launch/evaluate.py":   # training's data flags, over the run's
    for name in ("--data_dir: ", "--tfds_data_dir: ",
                 "--data_source: <auto|npz|tfds>: ", "--[no]tfds_download: "):
      assert f"  {name}Overrides the runs'" in text


def test_train_ensemble_help(capsys):
  from launch import train_ensemble  # pylint: disable=g-import-not-at-top
  with pytest.raises(SystemExit) as exit_:
    train_ensemble.parse_args(["--help"])
  assert exit_.value.code == 0
  text = capsys.readouterr().out
  assert text.startswith("Trains an ensemble")
  assert "--num_members" in text and "launch/train.py --help" in text


# 3. Console scripts.

def test_every_launcher_has_a_console_script():
  scripts = {e.name: e.value for e in importlib.metadata.entry_points(
      group="console_scripts") if e.name.startswith("glow-ood-")}
  if not scripts:
    pytest.skip("glow-ood is not pip-installed (pip install -e .)")
  for name in LAUNCHERS:
    assert scripts.get(f"glow-ood-{name.replace('_', '-')}") == (
        f"launch.{name}:console_main"), scripts
  if os.path.exists(os.path.join(REPO, "launch", "export.py")):
    assert scripts.get("glow-ood-export") in (
        "launch.export:console_main",), scripts
  for value in scripts.values():
    module = value.split(":")[0]
    assert os.path.exists(os.path.join(REPO, *module.split(".")) + ".py")
    assert "console_main" in open(
        os.path.join(REPO, *module.split(".")) + ".py").read()


def test_console_script_from_the_root_folder_reads_nested_flagfiles(tmp_path):
  """`cd / && glow-ood-train --flagfile=/abs/smoke.cfg`: base.cfg is found.

  The run stops at the data check (a missing --data_dir), after every flag
  of smoke.cfg and base.cfg parsed and before anything trains.
  """
  script = shutil.which("glow-ood-train")
  if script is None:
    pytest.skip("no glow-ood-train on PATH (pip install -e .)")
  result = subprocess.run(
      [script, f"--flagfile={os.path.join(FLAGFILES, 'smoke.cfg')}",
       f"--workdir={tmp_path / 'run'}", f"--data_dir={tmp_path / 'nowhere'}",
       "--data_source=npz"], cwd="/", capture_output=True, text=True,
      timeout=300, check=False)
  line = launcher_error_line(result, "launch/train.py")
  assert f"{tmp_path / 'nowhere'}/fashion_mnist_train.npz" in line
  assert not (tmp_path / "run").exists()


# 3. A write the disk refuses.

def _run_main(main, monkeypatch):
  """`bootstrap.run(main, "launch/x.py")` in this process; its exit code."""
  monkeypatch.setattr("sys.argv", ["launch/x.py"])
  try:
    with pytest.raises(SystemExit) as info:
      bootstrap.run(main, "launch/x.py")
  finally:
    flags.FLAGS.unparse_flags()
  return info.value.code


def test_a_write_the_disk_refuses_is_one_line_and_its_own_exit_code(
    monkeypatch, capsys):
  def main(argv):
    del argv
    with open(disk_faults.DEV_FULL, "w", encoding="utf-8") as f:
      f.write("{}")   # the kernel's ENOSPC, at the flush
  assert _run_main(main, monkeypatch) == write_errors.EXIT_CODE == 74
  assert capsys.readouterr().err.splitlines() == [
      "launch/x.py: error: a write failed (the file was not named): [Errno 28] "
      "No space left on device. Fix: free space on that disk, then rerun the "
      "same command."]

  def main_of_the_library(argv):
    del argv
    raise write_errors.WriteFailedError("runs/x/results.json", errno.EROFS)
  assert _run_main(main_of_the_library, monkeypatch) == 74
  err = capsys.readouterr().err
  assert err.startswith("launch/x.py: error: cannot write runs/x/results.json: "
                        "[Errno 30] Read-only file system. Fix: ")
  assert err.count("\n") == 1 and "Traceback" not in err
