"""Tests of `glow_ood.data.fingerprints`: what a run's data are, and when they changed."""

import os

import numpy as np
import pytest

from glow_ood import data
from glow_ood.data import fingerprints
from tests.toy_data import toy_images
from tests.toy_data import write_dataset


@pytest.fixture
def toy_dir(tmp_path):
  folder = tmp_path / "data"
  write_dataset(str(folder))
  write_dataset(str(folder), name="other", seed=1)
  return folder


def config(folder, **changes):
  return data.DataConfig(dataset="toy", data_dir=str(folder), source="npz",
                         **changes)


def rewrite(path, images, compressed=True):
  save = np.savez_compressed if compressed else np.savez
  save(path, images=images, labels=np.zeros([len(images)], np.int64))


def test_one_entry_per_source_file_special_names_by_their_base(toy_dir):
  found = fingerprints.of_run(config(toy_dir), (
      "other", "jpeg:other:75", "grayed:toy:0.5", "constant:128",
      "uniform_random"))
  assert list(found) == ["toy/train", "toy/test", "other/test"]
  entry = found["toy/train"]
  path = str(toy_dir / "toy_train.npz")
  assert entry["source"] == "npz" and entry["path"] == path
  assert entry["size"] == os.path.getsize(path)
  assert len(entry["sha256"]) == 64 and entry["images"]["bytes"] > 64 * 64
  # Slices of one split share its file; the keys of the training data.
  sliced = config(toy_dir, train_split="test[:8]", test_split="test[8:]")
  assert list(fingerprints.of_run(sliced)) == ["toy/test"]
  assert fingerprints.training_keys(config(toy_dir)) == {"toy/train",
                                                         "toy/test"}


def test_the_hash_is_reused_while_path_size_mtime_and_ctime_stay(toy_dir):
  known = dict(fingerprints.of_run(config(toy_dir))["toy/train"],
               sha256="f" * 64)
  fingerprints._HASHED.clear()  # pylint: disable=protected-access
  # The record's hash is taken for a file whose stat is the same ...
  assert fingerprints.of_datasets(config(toy_dir), ["toy"], ("train",), {
      "toy/train": known})["toy/train"]["sha256"] == "f" * 64
  # ... and this process's is reused; a touched file is hashed again.
  os.utime(toy_dir / "toy_train.npz", ns=(1, 1))
  fresh = fingerprints.of_datasets(config(toy_dir), ["toy"], ("train",), {
      "toy/train": known})["toy/train"]
  assert fresh["sha256"] != "f" * 64 and fresh["mtime_ns"] == 1


def test_same_rewritten_and_changed(toy_dir):
  path = str(toy_dir / "toy_train.npz")
  before = fingerprints.of_run(config(toy_dir))["toy/train"]
  with np.load(path) as f:
    images = f["images"]
  rewrite(path, images)   # other bytes (compressed), the same images
  rewritten = fingerprints.of_run(config(toy_dir))["toy/train"]
  assert rewritten["sha256"] != before["sha256"]
  assert fingerprints.compare(before, before) == "same"
  assert fingerprints.compare(before, rewritten) == "rewritten"
  images[0, 0, 0, 0] ^= 1
  rewrite(path, images, compressed=False)
  changed = fingerprints.of_run(config(toy_dir))["toy/train"]
  assert changed["size"] == before["size"]   # one pixel: same size
  assert fingerprints.compare(before, changed) == "changed"
  tfds = {"source": "tfds", "name": "toy", "split": "train", "version": "1"}
  assert fingerprints.compare(before, tfds) == "changed"
  assert fingerprints.compare(tfds, dict(tfds, version="2")) == "changed"


def test_check_resume_refuses_changed_training_data_naming_it(toy_dir):
  payload = {fingerprints.RECORD_KEY: fingerprints.of_run(
      config(toy_dir), ("other",))}
  # Unchanged, even read from a copy in another folder: nothing to say.
  copy = toy_dir.parent / "copy"
  copy.mkdir()
  for name in os.listdir(toy_dir):
    (copy / name).write_bytes((toy_dir / name).read_bytes())
  assert fingerprints.check_resume(payload, config(copy), ("other",),
                                   "runs/x") == []
  rewrite(str(copy / "other_test.npz"), toy_images(16, seed=9))
  warning, = fingerprints.check_resume(payload, config(copy), ("other",),
                                       "runs/x")
  assert warning.startswith("Warning: the evaluation set other/test was ")
  rewrite(str(copy / "toy_train.npz"), toy_images(64, seed=9))
  with pytest.raises(fingerprints.DataChangedError) as info:
    fingerprints.check_resume(payload, config(copy), ("other",), "runs/x")
  message = str(info.value)
  assert "\n" not in message
  assert message.startswith(
      "runs/x was trained on other data than it would resume on: toy/train "
      f"was {toy_dir / 'toy_train.npz'} (")
  assert f"and is {copy / 'toy_train.npz'} (" in message
  assert "other/test" not in message and "--init_from=runs/x" in message


def test_a_run_without_a_record_resumes_with_one_line(toy_dir):
  line, = fingerprints.check_resume({"config": {}}, config(toy_dir), (),
                                    "runs/x")
  assert "runs/x/config.json records no data fingerprints" in line


def test_evaluation_warns_of_changed_sets_only(toy_dir):
  payload = {fingerprints.RECORD_KEY: fingerprints.of_run(config(toy_dir))}
  assert fingerprints.evaluation_warnings(payload, config(toy_dir),
                                          ("other",), "runs/x") == []
  rewrite(str(toy_dir / "toy_test.npz"), toy_images(16, seed=9))
  warning, = fingerprints.evaluation_warnings(payload, config(toy_dir),
                                              ("other", "constant:0"),
                                              "runs/x")
  assert warning.startswith("Warning: runs/x is scored on other data than it "
                            "was trained and evaluated on: toy/test (")
  assert fingerprints.evaluation_warnings({}, config(toy_dir), (),
                                          "runs/x") == []


def test_tfds_sources_by_name_version_and_split(tmp_path):
  pytest.importorskip("tensorflow_datasets")
  found = fingerprints.of_run(data.DataConfig(
      dataset="mnist", source="tfds", tfds_data_dir=str(tmp_path / "tfds"),
      train_split="train[:100]"), ("jpeg:svhn_cropped:75",))
  version = found["mnist/train"].pop("version")
  assert found["mnist/train"] == {"source": "tfds", "name": "mnist",
                                  "split": "train"}
  assert version.count(".") == 2   # the builder's, e.g. "3.0.1"
  assert list(found) == ["mnist/train", "mnist/test", "svhn_cropped/test"]
  assert not (tmp_path / "tfds").exists()   # nothing read or prepared
