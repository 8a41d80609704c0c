"""Tests of `glow_ood.runs.checkpoints`: the state file read from relative and absolute folders."""

import logging
import os

import pytest
import tensorflow as tf

from glow_ood.runs import checkpoints


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


def _saved(directory, steps):
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(v=tf.Variable(tf.range(1000.))), str(directory),
      max_to_keep=5)
  for step in steps:
    manager.save(checkpoint_number=step)
  return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_a_failed_save_leaves_nothing_of_itself_and_all_before_it(tmp_path):
  directory = tmp_path / "checkpoints"
  before = _saved(directory, [2, 4])
  # What saves of ckpt-6 cut short by a full disk leave: a _temp folder,
  # the state file's temporary, a data file without its index.
  (directory / "ckpt-6_temp").mkdir()
  (directory / "ckpt-6_temp" / "part-00000-of-00001.data-00000-of-00001."
   "tempstate1").write_bytes(b"\0" * 10)
  (directory / "checkpoint.tmp0123abcd").write_text("model_checkp")
  (directory / "ckpt-6.data-00000-of-00001").write_bytes(b"\0" * 10)
  removed = checkpoints.discard_failed_save(str(directory), 6)
  assert sorted(os.path.basename(p) for p in removed) == [
      "checkpoint.tmp0123abcd", "ckpt-6.data-00000-of-00001", "ckpt-6_temp"]
  assert {p.name: p.read_bytes() for p in directory.iterdir()} == before


def test_a_failed_save_keeps_a_checkpoint_written_whole(tmp_path):
  directory = tmp_path / "checkpoints"
  _saved(directory, [2, 4, 6])
  assert checkpoints.discard_failed_save(str(directory), 6) == []
  assert checkpoints.newest_loadable(str(directory)).step == 6
  # Cut short, it is removed: the newest that loads is then ckpt-4.
  data = directory / "ckpt-6.data-00000-of-00001"
  data.write_bytes(data.read_bytes()[:100])
  assert sorted(os.path.basename(p) for p in checkpoints.discard_failed_save(
      str(directory), 6)) == ["ckpt-6.data-00000-of-00001", "ckpt-6.index"]
  assert checkpoints.newest_loadable(str(directory)).step == 4
