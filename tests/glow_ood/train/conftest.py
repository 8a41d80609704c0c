"""Fixtures of the tests of `glow_ood.train`: toy data, and runs that record their states."""

import pytest

from glow_ood import train as train_lib
from tests.glow_ood.train.recording import RecordingRun
from tests.glow_ood.train.recording import RecordingTrainer
from tests.toy_data import write_dataset


@pytest.fixture
def toy_dir(tmp_path):
  folder = tmp_path / "data"
  folder.mkdir()
  write_dataset(str(folder))
  return folder


@pytest.fixture
def runs(monkeypatch):
  """The `RecordingRun`s made by `train` calls in this test, in order (each
  stepped by a `RecordingTrainer`)."""
  made = []

  def make(*args, **kwargs):
    run = RecordingRun(*args, **kwargs)
    made.append(run)
    return run

  monkeypatch.setattr(train_lib.state, "TrainState", make)
  monkeypatch.setattr(train_lib.step, "Trainer", RecordingTrainer)
  return made
