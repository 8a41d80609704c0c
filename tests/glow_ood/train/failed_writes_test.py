"""Tests of `glow_ood.train.failed_writes`: what a failed write of `train` says about resuming."""

import errno
import os

import pytest
import tensorflow as tf

from glow_ood import write_errors
from glow_ood.train import failed_writes
from tests import disk_faults


def _workdir_with_checkpoints(tmp_path, steps):
  directory = tmp_path / "run" / "checkpoints"
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(v=tf.Variable(1.)), str(directory), max_to_keep=5)
  for step in steps:
    manager.save(checkpoint_number=step)
  return str(tmp_path / "run")


def test_what_a_rerun_does(tmp_path):
  assert failed_writes.what_a_rerun_does(str(tmp_path / "new")) == (
      "no checkpoint was saved yet, so the run starts again from step 0")
  workdir = _workdir_with_checkpoints(tmp_path, [2, 4])
  assert failed_writes.what_a_rerun_does(workdir) == (
      "the run resumes from ckpt-4 (step 4)")
  data = os.path.join(workdir, "checkpoints", "ckpt-4.data-00000-of-00001")
  with open(data, "r+b") as f:
    f.truncate(3)
  assert failed_writes.what_a_rerun_does(workdir) == (
      "the run resumes from ckpt-2 (step 2)")


def _train_failing_with(error):
  @failed_writes.say_what_resumes
  def train(config, workdir):
    del config, workdir
    raise error
  return train


def test_a_failed_write_in_train_says_where_the_rerun_resumes(tmp_path):
  workdir = _workdir_with_checkpoints(tmp_path, [2, 4])
  events = os.path.join(workdir, "train", "events.out.tfevents.1.host.1.v2")
  # TensorBoard's writer (TensorFlow's error) and a JSON file (ours).
  for error, path in (
      (disk_faults.tensorflow_error(events, errno.ENOSPC), events),
      (write_errors.WriteFailedError("results.json", errno.EROFS),
       "results.json")):
    with pytest.raises(write_errors.WriteFailedError) as info:
      _train_failing_with(error)(None, workdir)
    assert info.value.path == path
    assert str(info.value).endswith(
        "then rerun the same command; the run resumes from ckpt-4 (step 4).")


def test_other_errors_of_train_pass_through(tmp_path):
  for error in (ValueError("bad"), PermissionError(errno.EACCES, "denied"),
                tf.errors.InvalidArgumentError(None, None, "shapes")):
    with pytest.raises(type(error)) as info:
      _train_failing_with(error)(None, str(tmp_path))
    assert info.value is error
