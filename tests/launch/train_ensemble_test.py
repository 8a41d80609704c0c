"""The ensemble training launcher: its arguments, and two members end to end.

`launch/train_ensemble.py` runs `launch/train.py` once per member with
`--model_seed=m --seed=m` (plus `--seed_offset`) in `<workdir>/member_<m>`.
End to end on toy 8x8x1 `.npz` files in a temporary folder with the smoke
flagfile's tiny Glow and 2 steps; re-running the command must leave the
finished members as they are.
"""

import json
import os
import subprocess
import sys

import pytest

from tests import REPO
from launch import train_ensemble
from tests.toy_data import write_dataset

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow

USAGE = ("usage: python launch/train_ensemble.py --flagfile=<experiment.cfg> "
         "--workdir=<dir> --num_members=<M>")


# 1. Arguments (no subprocess).

@pytest.mark.parametrize("argv, message", [
    (["--workdir=w", "--num_members=1"], "--num_members must be >= 2; got 1."),
    (["--workdir=w"], "--num_members must be >= 2; got 0."),
    (["--workdir=w", "--num_members=3", "--seed=1"],
     "--seed is set per member (member m gets m + --seed_offset); drop it."),
    (["--workdir=w", "--num_members=3", "--model_seed=1"],
     "--model_seed is set per member"),
    (["--num_members=3", "--flagfile=x.cfg"], "--workdir is required."),
    (["--workdir", "w", "--num_members=3"], "--workdir needs a value"),
    (["--workdir=w", "--num_members=two"],
     "--num_members and --seed_offset take integers"),
    (["--workdir=w", "--num_members=2", "--seed_offset=-1"],
     "--seed_offset must be >= 0; got -1."),
])
def test_bad_arguments_exit_with_the_usage(argv, message):
  with pytest.raises(SystemExit) as info:
    train_ensemble.parse_args(argv)
  text = str(info.value.code)
  assert text.startswith("launch/train_ensemble.py: error: " + message), text
  assert USAGE in text


def test_arguments_are_split_between_the_ensemble_and_its_members():
  passed = ["--flagfile=launch/flagfiles/smoke.cfg", "--train_steps=5",
            "--hidden_width=4"]
  workdir, num_members, offset, rest = train_ensemble.parse_args(
      passed[:1] + ["--workdir=runs/ens", "--num_members=3",
                    "--seed_offset=10"] + passed[1:])
  assert (workdir, num_members, offset, rest) == ("runs/ens", 3, 10, passed)
  command = train_ensemble.member_command(workdir, 2, offset, rest)
  assert command[0] == sys.executable
  assert command[1] == os.path.join(REPO, "launch", "train.py")
  # The member's own flags come last, so they win over any in the flagfile.
  assert command[2:] == passed + [
      "--model_seed=12", "--seed=12",
      f"--workdir={os.path.join('runs/ens', 'member_2')}"]


def test_missing_workdir_exits_with_code_1_and_the_usage():
  result = subprocess.run(
      [sys.executable, "launch/train_ensemble.py", "--num_members=2"],
      cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 1
  assert result.stderr.startswith(
      "launch/train_ensemble.py: error: --workdir is required.\n" + USAGE)
  assert "Traceback" not in result.stderr


# 2. End to end.

class Ensemble:
  """Two members trained by the launcher; the command and its output."""

  def __init__(self, root):
    data_dir = os.path.join(root, "data")
    write_dataset(data_dir)
    self.workdir = os.path.join(root, "ensemble")
    self.command = [
        sys.executable, "launch/train_ensemble.py",
        "--flagfile=launch/flagfiles/smoke.cfg", f"--workdir={self.workdir}",
        "--num_members=2", f"--data_dir={data_dir}", "--data_source=npz",
        "--dataset=toy", "--pad_to=0", "--image_shape=8,8,1",
        "--eval_datasets=", "--train_steps=2", "--checkpoint_every=1000",
        "--init_batch_size=32", "--num_samples=1", "--strategy=one_device",
        "--devices=/cpu:0"]
    self.first = self.launch()

  def launch(self):
    return subprocess.run(self.command, cwd=REPO, capture_output=True,
                          text=True, timeout=600, check=False)

  def member(self, m):
    return os.path.join(self.workdir, f"member_{m}")

  def results(self, m):
    with open(os.path.join(self.member(m), "results.json")) as f:
      return json.load(f)

  def checkpoints(self, m):
    folder = os.path.join(self.member(m), "checkpoints")
    return sorted(f for f in os.listdir(folder) if f.endswith(".index"))

  def state(self, m):
    """A member's results and the modification time of each of its files."""
    files = {}
    for folder, _, names in os.walk(self.member(m)):
      for name in names:
        path = os.path.join(folder, name)
        files[os.path.relpath(path, self.member(m))] = os.stat(path).st_mtime_ns
    return self.results(m), files


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
  return Ensemble(str(tmp_path_factory.mktemp("launch_train_ensemble_test")))


def test_members_train_with_their_own_seeds(ensemble):
  first = ensemble.first
  assert first.returncode == 0, first.stderr[-3000:]
  assert sorted(os.listdir(ensemble.workdir)) == ["member_0", "member_1"]
  for m in (0, 1):
    with open(os.path.join(ensemble.member(m), "flags.cfg")) as f:
      lines = f.read().splitlines()
    assert f"--model_seed={m}" in lines and f"--seed={m}" in lines
    assert f"--workdir={ensemble.member(m)}" in lines
    assert "--train_steps=2" in lines and "--dataset=toy" in lines
    assert ensemble.results(m)["step"] == 2
    assert ensemble.checkpoints(m) == ["ckpt-2.index"]
    assert (f"== member {m + 1}/2: seed {m}, {ensemble.member(m)}"
            in first.stdout)
  # Different seeds, different models.
  bits = [ensemble.results(m)["bits_per_dim"]["toy/test"] for m in (0, 1)]
  assert bits[0] != pytest.approx(bits[1], rel=1e-5)
  assert ("launch/evaluate.py " + " ".join(
      f"--workdir={ensemble.member(m)}" for m in (0, 1))) in first.stdout


def test_rerunning_leaves_finished_members_alone(ensemble):
  assert ensemble.first.returncode == 0, ensemble.first.stderr[-3000:]
  before = [ensemble.state(m) for m in (0, 1)]
  again = ensemble.launch()
  assert again.returncode == 0, again.stderr[-3000:]
  # No training step was taken.
  assert "step 1/2" not in again.stdout and "step 2/2" not in again.stdout
  for m in (0, 1):
    assert ensemble.results(m)["step"] == 2
    assert ensemble.checkpoints(m) == ["ckpt-2.index"]
  # Nothing of a finished member was rewritten (no re-evaluation either).
  after = [ensemble.state(m) for m in (0, 1)]
  for m in (0, 1):
    assert after[m][0] == before[m][0]
    changed = sorted(name for name, mtime in after[m][1].items()
                     if before[m][1].get(name) != mtime)
    assert not changed, f"member_{m}: rewritten {changed}"


def test_preempted_exit_code_is_the_trainers():
  # train_ensemble keeps its own copy (importing glow_ood.train loads TF).
  from glow_ood.train import preemption  # pylint: disable=g-import-not-at-top
  assert train_ensemble._PREEMPTED == preemption.EXIT_CODE
