"""Tests of the run-folder files and the one resume check (`glow_ood.runs.folder`)."""

import json

import pytest

from glow_ood import configs
from glow_ood import fileio
from glow_ood.runs import folder as run_folder


def test_config_round_trip(tmp_path):
  config = configs.TrainConfig(eval_datasets=("mnist",), train_steps=7)
  run_folder.write_config(str(tmp_path), config)
  with open(tmp_path / "config.json") as f:
    payload = json.load(f)
  assert payload["format_version"] == 1 and payload["type"] == "TrainConfig"
  assert payload["config"]["train_steps"] == 7
  assert run_folder.read_config(str(tmp_path), configs.TrainConfig) == config


def test_missing_config_says_what_to_do(tmp_path):
  with pytest.raises(run_folder.MissingConfigError,
                     match=r"does not exist: pass the folder of a trained run"):
    run_folder.read_config(str(tmp_path / "nowhere"))
  with pytest.raises(run_folder.MissingConfigError,
                     match=r"has no config.json, so it is not a run folder"):
    run_folder.read_config(str(tmp_path))
  (tmp_path / "flags.cfg").write_text("--train_steps=3\n")
  with pytest.raises(run_folder.MissingConfigError,
                     match=r"relaunching the run once, `python launch/train.py "
                     rf"--flagfile={tmp_path}/flags.cfg --workdir={tmp_path}`"):
    run_folder.read_config(str(tmp_path))


def test_unreadable_config_names_the_file_and_how_to_rewrite_it(tmp_path):
  (tmp_path / "config.json").write_text("{not json}")
  with pytest.raises(ValueError, match=r"config.json is damaged \(invalid "
                     r"JSON: .*\): delete it and re-run the glow_ood.train."
                     r"train call that made the run"):
    run_folder.read_config(str(tmp_path))
  (tmp_path / "flags.cfg").write_text("--train_steps=3\n")
  (tmp_path / "config.json").write_text("")
  with pytest.raises(ValueError, match=(
      rf"config.json is empty \(0 bytes; a run killed while writing it\?\): "
      rf"delete it and re-run `python launch/train.py "
      rf"--flagfile={tmp_path}/flags.cfg --workdir={tmp_path}`")):
    run_folder.read_config(str(tmp_path))
  (tmp_path / "config.json").write_text(json.dumps(
      {"format_version": 9, "type": "TrainConfig", "config": {}}))
  with pytest.raises(ValueError, match=r"config.json: Config format_version 9"):
    run_folder.read_config(str(tmp_path))


def test_check_compatible_lists_every_change():
  saved = {"model": {"num_levels": 3, "hidden_width": 8}, "seed": 0,
           "train_steps": 10}
  current = {"model": {"num_levels": 2, "hidden_width": 8}, "seed": 1,
             "train_steps": 20}
  run_folder.check_compatible(saved, dict(saved, train_steps=20), "w",
                              fields=("model", "seed"))
  with pytest.raises(ValueError) as info:
    run_folder.check_compatible(saved, current, "runs/x",
                                fields=("model", "seed"), fix="do y")
  message = str(info.value)
  assert message.startswith("runs/x holds results of other settings (")
  assert "model.num_levels=3 in the file, 2 now" in message
  assert "seed=0 in the file, 1 now" in message
  assert "train_steps" not in message and message.endswith("To resume, do y.")
  # Every field but the ignored ones.
  with pytest.raises(ValueError, match=r"train_steps=10 in the file, 20 now"):
    run_folder.check_compatible(saved, current, "w", ignore=("model", "seed"))


def test_finished_step(tmp_path):
  assert run_folder.finished_step(str(tmp_path), 5) is None
  fileio.write_json(str(tmp_path / "results.json"), {"step": 5})
  assert run_folder.finished_step(str(tmp_path), 5) == 5
  assert run_folder.finished_step(str(tmp_path), 6) is None
  # Stopped early by the plateau rule or the wall budget: done for good;
  # by anything else (or at another step than results.json's): not done.
  fileio.write_json(str(tmp_path / "results.json"), {"step": 3})
  for reason, done in (("plateau", True), ("wall_budget", True),
                       ("diverged", False), ("train_steps", False)):
    fileio.write_json(str(tmp_path / "training.json"),
                      {"step": 3, "stop_reason": reason})
    assert run_folder.finished_step(str(tmp_path), 5) == (3 if done else None)
  fileio.write_json(str(tmp_path / "training.json"),
                    {"step": 2, "stop_reason": "plateau"})
  assert run_folder.finished_step(str(tmp_path), 5) is None
  (tmp_path / "results.json").write_text("")
  with pytest.raises(ValueError, match=r"results.json is empty .*: delete it "
                     "and re-run the run's training: it resumes from its "
                     "checkpoints and rewrites it."):
    run_folder.finished_step(str(tmp_path), 5)
