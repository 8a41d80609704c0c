"""Tests of the npz checks (`sources.check_npz`, `load_npz`) and of `check_datasets`.

Every problem of a local file is one line naming the file, the problem and
the fix; `check_datasets` reads headers only, so a command can check all its
datasets before any work. Synthetic files in `tmp_path`; tensorflow_datasets
is asked only about names (no data, no network).
"""

import os

import numpy as np
import pytest

from glow_ood import data
from glow_ood.data import sources

GOOD = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4, 1)


def _write(folder, name, **arrays):
  path = os.path.join(str(folder), f"{name}.npz")
  np.savez(path, **arrays)
  return path


def _one_line(error):
  message = str(error.value)
  assert message.strip() and "\n" not in message, message
  return message


@pytest.mark.parametrize("arrays, needles", [
    (dict(pixels=GOOD), ["has no 'images' array (it holds ['pixels'])",
                         "uint8 'images' [N, H, W, C] and int64 'labels'"]),
    (dict(images=GOOD.astype(np.float32)),
     ["'images' are float32, not uint8", "images.astype(np.uint8)"]),
    (dict(images=GOOD.astype(np.int64)), ["'images' are int64, not uint8"]),
    (dict(images=GOOD[..., 0]), ["'images' have shape (2, 4, 4), not "
                                 "[N, H, W, C]", "images[..., None]"]),
    (dict(images=GOOD[None]), ["'images' have shape (1, 2, 4, 4, 1)"]),
    (dict(images=np.zeros([3, 0, 4, 1], np.uint8)), ["needs H, W, C >= 1"]),
    (dict(images=GOOD[:0]), ["split 'test' of 'x' has no images",
                             "holds 0 of shape (4, 4, 1)"]),
])
def test_bad_arrays_are_named_with_the_fix(tmp_path, arrays, needles):
  path = _write(tmp_path, "x_test", **arrays)
  for call in (lambda: sources.check_npz(path, "test", "x"),
               lambda: data.load_npz("x", "test", data_dir=str(tmp_path))):
    with pytest.raises(ValueError) as info:
      call()
    message = _one_line(info)
    assert path in message
    for needle in needles:
      assert needle in message


@pytest.mark.parametrize("damage", ["truncated", "empty", "text", "npy",
                                    "crc"])
def test_unreadable_files_are_named_with_the_fix(tmp_path, damage):
  path = os.path.join(str(tmp_path), "x_test.npz")
  if damage == "npy":
    np.save(path + ".npy", GOOD)
    os.replace(path + ".npy", path)
  else:
    np.savez_compressed(path, images=np.random.default_rng(0).integers(
        0, 256, (16, 8, 8, 1), dtype=np.uint8))
    raw = bytearray(open(path, "rb").read())
    raw = {"truncated": raw[:len(raw) // 2], "empty": b"",
           "text": b"images = [1, 2, 3]\n",
           "crc": raw[:len(raw) // 3] + bytes([raw[len(raw) // 3] ^ 0xFF])
                  + raw[len(raw) // 3 + 1:]}[damage]
    with open(path, "wb") as f:
      f.write(bytes(raw))
  with pytest.raises(ValueError) as info:
    data.load_npz("x", "test", data_dir=str(tmp_path))
  message = _one_line(info)
  assert message.startswith(f"{path} is not a readable npz file ("), message
  assert "truncated or corrupt" in message and "copy it again" in message


def test_check_npz_reads_headers_only(tmp_path, monkeypatch):
  path = _write(tmp_path, "x_test", images=GOOD, labels=np.zeros([2], np.int64))
  monkeypatch.setattr(np, "load", None)   # no array is loaded
  sources.check_npz(path, "test", "x")


def test_local_names(tmp_path):
  for name in ("b_train", "b_test", "a_test", "not_npz_test.txt", "c_valid"):
    (tmp_path / f"{name}.npz").write_bytes(b"")
  assert sources.local_names(str(tmp_path)) == ["a", "b"]
  assert sources.local_names(str(tmp_path), "train") == ["b"]
  assert sources.local_names(str(tmp_path / "nowhere")) == []


def _config(tmp_path, **changes):
  return data.DataConfig(**dict(dict(dataset="toy", data_dir=str(tmp_path),
                                     source="npz"), **changes))


def test_check_datasets_passes_good_and_special_names(tmp_path):
  for split in ("train", "test"):
    _write(tmp_path, f"toy_{split}", images=GOOD)
  data.check_datasets(_config(tmp_path),
                      ["toy", "constant:3", "uniform_random", "grayed:toy:0.5",
                       "jpeg:toy:75"],
                      splits=("validation", "test"))


def test_check_datasets_names_the_unknown_name_and_the_known_ones(tmp_path):
  _write(tmp_path, "toy_test", images=GOOD)
  with pytest.raises(data.DatasetNotFoundError) as info:
    data.check_datasets(_config(tmp_path), ["toy", "grayed:nosuch:0.5"],
                        what="--eval_datasets=toy,grayed:nosuch:0.5")
  message = _one_line(info)
  assert message.startswith(
      "Unknown dataset 'nosuch' in --eval_datasets=toy,grayed:nosuch:0.5 (no "
      f"local file {tmp_path}/nosuch_test.npz, source='npz'). Known names: "
      f"local files in {tmp_path}: toy; special: constant:<0..255>, "
      "uniform_random, grayed:<dataset>:<factor>, jpeg:<dataset>:<quality>, "
      "flipped:<dataset>."
  ), message
  # With tensorflow_datasets allowed, its names are listed too.
  with pytest.raises(data.DatasetNotFoundError) as info:
    data.check_datasets(_config(tmp_path, source="auto"), ["nosuch"])
  message = _one_line(info)
  assert "Unknown dataset 'nosuch' in [nosuch]" in message
  assert "tensorflow_datasets has no dataset of that name" in message
  assert "tensorflow_datasets: cifar10, svhn_cropped, mnist" in message


def test_check_datasets_finds_a_bad_file_and_a_missing_split(tmp_path):
  _write(tmp_path, "toy_test", images=GOOD.astype(np.float32))
  with pytest.raises(ValueError, match=r"toy_test.npz: 'images' are float32"):
    data.check_datasets(_config(tmp_path), ["toy"])
  with pytest.raises(data.DatasetNotFoundError, match=r"toy_train.npz"):
    data.check_datasets(_config(tmp_path), ["toy"], splits=("validation",))


def test_load_evaluation_sets_checks_every_name_before_loading(tmp_path,
                                                               monkeypatch):
  for split in ("train", "test"):
    _write(tmp_path, f"toy_{split}", images=GOOD)
  monkeypatch.setattr(sources, "load_npz", None)   # nothing may be loaded
  with pytest.raises(data.DatasetNotFoundError,
                     match=r"Unknown dataset 'mnsit' in the evaluation "
                           r"datasets \[constant:0, mnsit\]"):
    data.load_evaluation_sets(_config(tmp_path), ("constant:0", "mnsit"))


def test_an_empty_split_is_refused_by_load_images(tmp_path):
  _write(tmp_path, "toy_test", images=GOOD[:0])
  with pytest.raises(ValueError, match=r"split 'test' of 'toy' has no images"):
    data.load_images(_config(tmp_path), "test")
