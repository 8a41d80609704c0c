"""Tests of `glow_ood.train.record`: evaluations.json and training.json.

The history's file format and resume rule directly; training.json as the
tiny toy run (tests/toy_data.py) writes it at the end of `train_steps`
(checked against the run's own TensorBoard events and checkpoint), on a
divergence, on a lost worker (its error raised where a collective raises
it; the real one: tests/catalogue/cluster_test.py) and on a refused write.
"""

import errno
import json
import os

import pytest

from glow_ood import train as train_lib
from glow_ood import write_errors
from glow_ood.train import lost_workers
from glow_ood.train import record
from tests import disk_faults
from tests.catalogue.harness import snapshot
from tests.glow_ood.train.recording import WALL_TIME_KEY
from tests.glow_ood.train.recording import checkpoint_paths
from tests.glow_ood.train.recording import checkpoint_tensors
from tests.glow_ood.train.recording import read_events
from tests.glow_ood.train.recording import tiny_config


def _read(path):
  with open(path) as f:
    return json.load(f)


def test_the_history_keeps_the_evaluations_up_to_the_restored_step(tmp_path):
  workdir = str(tmp_path)
  history = record.EvaluationHistory.read(workdir, up_to_step=0)
  assert history.entries() == []
  for step, value in ((200, 3.5), (100, 4.0), (300, 3.4)):
    history.add(step, {"toy/test": value})
  path = os.path.join(workdir, "evaluations.json")
  assert _read(path) == {"evaluations": [
      {"step": 100, "bits_per_dim": {"toy/test": 4.0}},
      {"step": 200, "bits_per_dim": {"toy/test": 3.5}},
      {"step": 300, "bits_per_dim": {"toy/test": 3.4}}]}
  # Resumed from step 200: step 300's evaluation (after that checkpoint) is
  # dropped, and made again by the resumed run.
  resumed = record.EvaluationHistory.read(workdir, up_to_step=200)
  assert [e["step"] for e in resumed.entries()] == [100, 200]
  assert resumed.at(200) == {"toy/test": 3.5} and resumed.at(300) is None
  resumed.add(300, {"toy/test": 3.3})
  assert _read(path)["evaluations"][-1] == {
      "step": 300, "bits_per_dim": {"toy/test": 3.3}}


@pytest.mark.parametrize("text", [
    '{"evaluations": [{"step": "100", "bits_per_dim": {}}]}',
    '{"evaluations": {"100": 3.4}}', '{"steps": []}'])
def test_a_damaged_history_is_refused_with_the_fix(tmp_path, text):
  path = tmp_path / "evaluations.json"
  path.write_text(text)
  with pytest.raises(ValueError, match=(
      rf"{path} is not an evaluation history this program writes .*: delete "
      r"it and re-run \(the plateau rule then compares only the evaluations "
      r"made from now on\)\.")):
    record.EvaluationHistory.read(str(tmp_path), up_to_step=100)


def test_training_json_records_how_the_run_ended(toy_dir, tmp_path):
  workdir = str(tmp_path / "run")
  config = tiny_config(toy_dir, train_steps=4, eval_every=2, num_samples=0,
                       eval_datasets=("constant:128",))
  results = train_lib.train(config, workdir)
  training = _read(os.path.join(workdir, "training.json"))
  assert sorted(training) == sorted([
      "step", "stop_reason", "message", "checkpoint", "train_seconds",
      "images_per_second", "in_distribution", "evaluations",
      "final_bits_per_dim"])
  assert (training["step"], training["stop_reason"], training["message"]) == (
      4, "train_steps", "Stopped at step 4: train_steps=4 reached. Re-running "
      "with a larger --train_steps continues from step 4.")
  assert training["checkpoint"] == checkpoint_paths(workdir)[-1]
  assert training["checkpoint"].endswith("ckpt-4")
  assert training["in_distribution"] == "toy/test"
  assert training["images_per_second"] > 0.
  # The seconds the final checkpoint holds.
  assert training["train_seconds"] > 0.
  assert training["train_seconds"] == checkpoint_tensors(
      checkpoint_paths(workdir)[-1])[WALL_TIME_KEY]
  # Each evaluation, as TensorBoard has it; the last is the final one.
  sets = ["constant:128/test", "toy/test", "toy/train"]
  events = read_events(os.path.join(workdir, "eval"))
  assert [e["step"] for e in training["evaluations"]] == [2, 4]
  for entry in training["evaluations"]:
    assert sorted(entry["bits_per_dim"]) == sets
    for name, value in entry["bits_per_dim"].items():
      assert value == pytest.approx(
          float(events[f"bits_per_dim/{name}"][entry["step"]]), rel=1e-6)
  assert training["final_bits_per_dim"] == results
  assert training["evaluations"][-1]["bits_per_dim"] == results
  assert _read(os.path.join(workdir, "evaluations.json"))[
      "evaluations"] == training["evaluations"]


def test_training_json_records_a_divergence(toy_dir, tmp_path):
  workdir = str(tmp_path / "run")
  config = tiny_config(toy_dir, train_steps=4, nonfinite_loss_steps=(1,),
                       max_consecutive_skips=1, num_samples=0)
  with pytest.raises(train_lib.TrainingDivergedError) as info:
    train_lib.train(config, workdir)
  training = _read(os.path.join(workdir, "training.json"))
  assert (training["step"], training["stop_reason"], training["message"]) == (
      1, "diverged", str(info.value))
  assert training["checkpoint"] is None   # it diverged before its first
  assert training["final_bits_per_dim"] is None
  assert training["evaluations"] == []


def _failing_at(monkeypatch, step, make_error):
  """`train`'s call of the step that holds `step` raises `make_error(workdir)`
  instead of running (as a collective does when a peer is lost); returns the
  checkpoint files' digests at that moment, once it happened."""
  seen = {}

  class FailingTrainer(train_lib.Trainer):

    def train_steps(self, iterator, num_steps):
      first = int(self.state.step.numpy()) + 1
      if first <= step < first + num_steps:
        workdir = os.path.dirname(self.state.checkpoint_dir)
        seen.update(snapshot(self.state.checkpoint_dir))
        raise make_error(workdir)
      return super().train_steps(iterator, num_steps)

  monkeypatch.setattr(train_lib.step, "Trainer", FailingTrainer)
  return seen


def _lost(workdir):
  return lost_workers.WorkerLostError(
      [lost_workers.Lost(lost_workers.Task("worker", 1, "127.0.0.1:2"),
                         "the process is gone")],
      lost_workers.Task("worker", 0, "127.0.0.1:1"), "Socket closed",
      os.path.join(workdir, "checkpoints", "ckpt-4"), 4)


def _stop_record(workdir, step, reason, error):
  """The run's training.json, asserted to record a stop without a final evaluation."""
  training = _read(os.path.join(workdir, "training.json"))
  assert (training["step"], training["stop_reason"], training["message"],
          training["checkpoint"]) == (
              step, reason, str(error),
              os.path.join(workdir, "checkpoints", f"ckpt-{step}"))
  assert training["final_bits_per_dim"] is None
  return training


def test_training_json_records_a_lost_worker_and_nothing_else(
    toy_dir, tmp_path, monkeypatch):
  workdir = str(tmp_path / "run")
  config = tiny_config(toy_dir, train_steps=8, checkpoint_every=2,
                       eval_every=2, num_samples=0)
  at_loss = _failing_at(monkeypatch, 5, _lost)
  with pytest.raises(train_lib.WorkerLostError) as info:
    train_lib.train(config, workdir)
  training = _stop_record(workdir, 4, "worker_lost", info.value)
  assert [e["step"] for e in training["evaluations"]] == [2, 4]
  # No checkpoint touched, no results: the record alone was written.
  assert snapshot(os.path.join(workdir, "checkpoints")) == at_loss
  assert not os.path.exists(os.path.join(workdir, "results.json"))


def test_training_json_records_a_refused_write_if_the_disk_takes_it(
    toy_dir, tmp_path, monkeypatch):
  config = tiny_config(toy_dir, train_steps=6, checkpoint_every=2,
                       num_samples=0)
  # TensorBoard's events at step 3 (TensorFlow's error): recorded.
  workdir = str(tmp_path / "events")
  events = os.path.join(workdir, "train", "events.out.tfevents.1.host.1.v2")
  _failing_at(monkeypatch, 3, lambda _: disk_faults.tensorflow_error(
      events, errno.ENOSPC))
  with pytest.raises(write_errors.WriteFailedError) as info:
    train_lib.train(config, workdir)
  assert str(info.value).endswith("the run resumes from ckpt-2 (step 2).")
  _stop_record(workdir, 2, "write_failed", info.value)
  # results.json on a read-only disk, and training.json too: nothing is
  # written, the refusal of results.json is what is raised.
  monkeypatch.undo()
  workdir = str(tmp_path / "read_only")
  hits = disk_faults.read_only(monkeypatch, ["results.json", "training.json"])
  with pytest.raises(write_errors.WriteFailedError) as info:
    train_lib.train(config, workdir)
  assert info.value.path == os.path.join(workdir, "results.json")
  assert [os.path.basename(hit) for hit in hits] == [
      "results.json.tmp", "training.json.tmp"]
  assert not os.path.exists(os.path.join(workdir, "training.json"))
