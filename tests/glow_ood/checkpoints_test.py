"""Tests of `glow_ood.checkpoints`: the state file read from relative and absolute folders."""

import logging
import os

import pytest
import tensorflow as tf

from glow_ood import checkpoints


@pytest.mark.parametrize("relative", [False, True])
def test_a_good_state_file_is_ok_from_a_relative_folder(tmp_path, monkeypatch,
                                                        relative):
  directory = tmp_path / "run" / "checkpoints"
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(v=tf.Variable(1.)), str(directory), max_to_keep=3)
  manager.save(checkpoint_number=5)
  manager.save(checkpoint_number=7)
  if relative:
    monkeypatch.chdir(tmp_path)
    directory = os.path.join("run", "checkpoints")
  found = checkpoints.newest_loadable(str(directory))
  assert found.step == 7 and found.state_file_ok
  assert found.notes() == []


def test_a_stale_state_file_is_noticed(tmp_path, monkeypatch):
  directory = tmp_path / "checkpoints"
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(v=tf.Variable(1.)), str(directory), max_to_keep=3)
  manager.save(checkpoint_number=5)
  state = (directory / "checkpoint").read_text()
  manager.save(checkpoint_number=7)
  (directory / "checkpoint").write_text(state)   # names ckpt-5 as latest
  monkeypatch.chdir(tmp_path)
  found = checkpoints.newest_loadable("checkpoints")
  assert found.step == 7 and not found.state_file_ok


def test_what_was_passed_over_is_said_once(tmp_path, capsys, caplog):
  directory = tmp_path / "checkpoints"
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(v=tf.Variable(1.)), str(directory), max_to_keep=3)
  manager.save(checkpoint_number=5)
  manager.save(checkpoint_number=7)
  data = directory / "ckpt-7.data-00000-of-00001"
  data.write_bytes(data.read_bytes()[:4])
  found = checkpoints.newest_loadable(str(directory))
  assert found.step == 5
  with caplog.at_level(logging.INFO):
    checkpoints.report(found.notes())
  captured = capsys.readouterr()
  said = captured.out + captured.err + caplog.text
  assert said.count("ckpt-7 does not load") == 1, said
  assert said.count("Using ") == 1, said
