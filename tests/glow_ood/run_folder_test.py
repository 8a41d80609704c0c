"""Tests of the run-folder files and the one resume check (`glow_ood.run_folder`)."""

import json
import os

import pytest

from glow_ood import configs
from glow_ood import run_folder


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


def test_unreadable_config_names_the_file(tmp_path):
  (tmp_path / "config.json").write_text("{not json")
  with pytest.raises(ValueError, match=r"config.json is not valid JSON"):
    run_folder.read_config(str(tmp_path))
  (tmp_path / "config.json").write_text(json.dumps(
      {"format_version": 9, "type": "TrainConfig", "config": {}}))
  with pytest.raises(ValueError, match=r"config.json: Config format_version 9"):
    run_folder.read_config(str(tmp_path))


def test_write_json_replaces_atomically(tmp_path):
  path = str(tmp_path / "sub" / "results.json")
  run_folder.write_json(path, {"a": 1})
  run_folder.write_json(path, {"a": 2})
  assert run_folder.read_json(path) == {"a": 2}
  assert os.listdir(tmp_path / "sub") == ["results.json"]


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
  run_folder.write_json(str(tmp_path / "results.json"), {"step": 5})
  assert run_folder.finished_step(str(tmp_path), 5) == 5
  assert run_folder.finished_step(str(tmp_path), 6) is None
