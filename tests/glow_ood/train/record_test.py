"""Tests of `glow_ood.train.record`: evaluations.json and training.json.

The history's file format and resume rule directly; training.json as the
tiny toy run (tests/toy_data.py) writes it at the end of `train_steps`
(checked against the run's own TensorBoard events and checkpoint) and on a
divergence.
"""

import json
import os

import pytest

from glow_ood import train as train_lib
from glow_ood.train import record
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
      "step", "stop_reason", "message", "train_seconds", "images_per_second",
      "in_distribution", "evaluations", "final_bits_per_dim"])
  assert (training["step"], training["stop_reason"], training["message"]) == (
      4, "train_steps", "Stopped at step 4: train_steps=4 reached. Re-running "
      "with a larger --train_steps continues from step 4.")
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
  assert training["final_bits_per_dim"] is None
  assert training["evaluations"] == []
