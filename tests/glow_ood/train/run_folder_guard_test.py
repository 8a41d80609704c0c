"""`train` guards its run folder: one writer (`folder_lock`), and the data it trained on (`data.fingerprints`)."""

import fcntl
import json
import os

import numpy as np
import pytest

from glow_ood import data
from glow_ood import train as train_lib
from glow_ood.configs import TrainConfig
from glow_ood.runs import folder as run_folder
from glow_ood.runs import lock as run_lock
from glow_ood.train import distribution
from glow_ood.train import folder_lock
from tests.glow_ood.train.recording import tiny_config
from tests.toy_data import toy_images
from tests.toy_data import write_dataset


@pytest.mark.parametrize("strategy, tf_config, chief", [
    ("one_device", {"cluster": {"worker": ["a:1", "b:1"]},
                    "task": {"type": "worker", "index": 1}}, True),
    ("multi_worker_mirrored", None, True),
    ("multi_worker_mirrored", {"cluster": {"worker": ["a:1", "b:1"]},
                               "task": {"type": "worker", "index": 0}}, True),
    ("multi_worker_mirrored", {"cluster": {"worker": ["a:1", "b:1"]},
                               "task": {"type": "worker", "index": 1}}, False),
    ("multi_worker_mirrored", {"cluster": {"chief": ["c:1"], "worker": ["a:1"]},
                               "task": {"type": "worker", "index": 0}}, False),
    ("multi_worker_mirrored", {"cluster": {"chief": ["c:1"], "worker": ["a:1"]},
                               "task": {"type": "chief", "index": 0}}, True),
])
def test_is_chief_task_reads_tf_config(monkeypatch, strategy, tf_config,
                                       chief):
  if tf_config is None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
  else:
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
  assert distribution.is_chief_task(strategy) is chief


@pytest.fixture
def held(tmp_path):
  """`<tmp>/run`, a run folder another process holds (its lock file locked
  by an open file, with its record)."""
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "config.json").write_text("{}")
  path = workdir / run_lock.LOCK_FILE
  path.write_text(json.dumps({"host": "h", "pid": 4242, "program":
                              "launch/train.py", "started": "now"}))
  fd = os.open(path, os.O_RDWR)
  fcntl.flock(fd, fcntl.LOCK_EX)
  yield workdir
  os.close(fd)


def test_a_held_workdir_is_refused_before_anything(toy_dir, held):
  before = {p: p.read_bytes() for p in held.iterdir()}
  with pytest.raises(run_lock.RunFolderBusyError,
                     match=r"in use by launch/train.py \(pid 4242 on host h"):
    train_lib.train(tiny_config(toy_dir), str(held))
  assert before == {p: p.read_bytes() for p in held.iterdir()}


def test_only_the_chief_of_a_cluster_takes_the_lock(held, monkeypatch):
  ran = folder_lock.one_writer(lambda config, workdir: "trained")
  config = TrainConfig(strategy="multi_worker_mirrored")
  monkeypatch.setenv("TF_CONFIG", json.dumps(
      {"cluster": {"worker": ["a:1", "b:1"]},
       "task": {"type": "worker", "index": 1}}))
  assert ran(config, str(held)) == "trained"   # the run's own worker
  monkeypatch.setenv("TF_CONFIG", json.dumps(
      {"cluster": {"worker": ["a:1", "b:1"]},
       "task": {"type": "worker", "index": 0}}))
  with pytest.raises(run_lock.RunFolderBusyError, match="pid 4242"):
    ran(config, str(held))                     # a second cluster's chief


def test_a_refused_start_leaves_no_lock_and_no_new_folder(toy_dir, tmp_path):
  workdir = tmp_path / "new" / "run"
  with pytest.raises(train_lib.ConfigurationError, match="no_such_images"):
    train_lib.train(tiny_config(toy_dir, eval_datasets=("no_such_images",)),
                    str(workdir))
  assert not (tmp_path / "new").exists()


def _save(path, images):
  np.savez(path, images=images, labels=np.zeros([len(images)], np.int64))


def test_a_resume_on_changed_data_is_refused_naming_it(tmp_path, monkeypatch,
                                                       capsys):
  data_dir = tmp_path / "data"
  write_dataset(str(data_dir))
  monkeypatch.setenv("GLOW_OOD_DATA_DIR", str(data_dir))
  config = tiny_config(None, train_steps=1).replace(data=data.DataConfig(
      dataset="toy", source="npz", shuffle_buffer=64))
  workdir = tmp_path / "run"
  train_lib.train(config, str(workdir))
  recorded = json.loads((workdir / "config.json").read_text())[
      run_folder.DATA_FINGERPRINTS_KEY]
  assert sorted(recorded) == ["toy/test", "toy/train"]
  assert recorded["toy/train"]["path"] == str(data_dir / "toy_train.npz")
  # Unchanged data resume, silently.
  train_lib.train(config.replace(train_steps=2), str(workdir))
  assert "fingerprint" not in capsys.readouterr().out
  # Another toy_train.npz: refused, naming it; the folder is as it was.
  train_file = data_dir / "toy_train.npz"
  original = train_file.read_bytes()
  _save(train_file, toy_images(64, seed=7))
  before = {p: p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
  with pytest.raises(train_lib.ConfigurationError) as info:
    train_lib.train(config.replace(train_steps=3), str(workdir))
  message = str(info.value)
  assert message.startswith(f"{workdir} was trained on other data than it "
                            f"would resume on: toy/train ({train_file}) was ")
  assert "toy/test" not in message and f"--init_from={workdir}" in message
  assert before == {p: p.read_bytes() for p in workdir.rglob("*")
                    if p.is_file()}
  # The data it trained on, restored: it resumes.
  train_file.write_bytes(original)
  assert train_lib.train(config.replace(train_steps=3), str(workdir))
  assert run_folder.read_config(str(workdir), TrainConfig).train_steps == 3


def test_a_run_from_before_fingerprints_resumes_and_records_them(
    toy_dir, tmp_path, capsys):
  workdir = tmp_path / "run"
  config = tiny_config(toy_dir, train_steps=1)
  train_lib.train(config, str(workdir))
  path = workdir / "config.json"
  payload = json.loads(path.read_text())
  del payload[run_folder.DATA_FINGERPRINTS_KEY]
  path.write_text(json.dumps(payload))
  capsys.readouterr()
  train_lib.train(config.replace(train_steps=2), str(workdir))
  lines = [l for l in capsys.readouterr().out.splitlines()
           if "fingerprints" in l]
  assert lines == [f"{path} records no data fingerprints (the run was trained "
                   "before glow-ood recorded them): resuming without checking "
                   "its data, which is recorded from now on."]
  assert run_folder.DATA_FINGERPRINTS_KEY in json.loads(path.read_text())
