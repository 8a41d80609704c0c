"""Tests of the data pipeline: sources, shaping, splits, special names and tf.data batches.

Real files come from GLOW_OOD_DATA_DIR (default ../shared/data); exact checks use
small synthetic `.npz` files in `tmp_path`. tensorflow_datasets is only ever asked
for data it does not have (an empty `tfds_data_dir`), or mocked by
`tfds.testing.mock_data`: no test touches the network.
"""

import dataclasses
import logging
import os
import time

import numpy as np
import pytest
import tensorflow as tf

from glow_ood import data
from glow_ood.data import special as special_datasets
from tests import shared_data

DATA_DIR = data.default_data_dir()


def _write_toy(folder, name="toy", num_train=10, num_test=4, shape=(28, 28, 1)):
  """`<name>_{train,test}.npz` whose image i has every pixel = i (test: 100 + i)."""
  splits = {"train": np.arange(num_train), "test": 100 + np.arange(num_test)}
  for split, ids in splits.items():
    images = np.broadcast_to(ids.reshape(-1, 1, 1, 1), (len(ids),) + shape)
    np.savez_compressed(os.path.join(folder, f"{name}_{split}.npz"),
                        images=images.astype(np.uint8),
                        labels=(ids % 10).astype(np.int64))
  return {split: ids.astype(np.uint8) for split, ids in splits.items()}


def _config(tmp_path, **kwargs):
  """A config reading npz from `tmp_path` and tfds from an empty folder there."""
  kwargs.setdefault("data_dir", str(tmp_path))
  kwargs.setdefault("tfds_data_dir", str(tmp_path / "tfds"))
  return data.DataConfig(**kwargs)


# Local npz files: the original `load_npz`.

@shared_data.needs("mnist_test.npz")
def test_loads_real_mnist():
  images, labels = data.load_npz("mnist", "test", limit=100)
  assert images.shape == (100, 28, 28, 1) and images.dtype == np.uint8
  assert labels.shape == (100,) and set(labels) <= set(range(10))


def test_missing_file_names_both_the_path_and_the_fix(tmp_path):
  with pytest.raises(FileNotFoundError, match=r"svhn_cropped_test\.npz.*--data_dir"):
    data.load_npz("svhn_cropped", "test", data_dir=str(tmp_path))


def test_rejects_non_uint8_images(tmp_path):
  np.savez(tmp_path / "bad_test.npz", images=np.zeros([2, 4, 4, 1], np.float32),
           labels=np.zeros([2], np.int64))
  with pytest.raises(ValueError, match="uint8"):
    data.load_npz("bad", "test", data_dir=str(tmp_path))


# load_images on real files.

@shared_data.needs("mnist_test.npz")
def test_load_images_real_mnist_padded_to_rgb_32():
  config = data.DataConfig(dataset="mnist", data_dir=DATA_DIR, source="npz",
                           pad_to=32, to_rgb=True)
  images = data.load_images(config, "test")
  raw, _ = data.load_npz("mnist", "test", DATA_DIR)
  assert images.shape == (10000, 32, 32, 3) and images.dtype == np.uint8
  np.testing.assert_array_equal(images[:, 2:30, 2:30, :], np.repeat(raw, 3, -1))
  assert not images[:, :2].any() and not images[:, 30:].any()
  assert not images[:, :, :2].any() and not images[:, :, 30:].any()


@shared_data.needs("fashion_mnist_train.npz")
def test_real_validation_split_is_a_disjoint_part_of_train():
  config = data.DataConfig(dataset="fashion_mnist", data_dir=DATA_DIR,
                           validation_size=5000)
  train = data.load_images(config, "train")
  validation = data.load_images(config, "validation")
  full, labels = data.load_npz("fashion_mnist", "train", DATA_DIR)
  assert len(train) == 55000 and len(validation) == 5000
  # Together they are the train split, each image exactly once.
  np.testing.assert_array_equal(
      np.sort(np.concatenate([train, validation]).reshape(60000, -1), axis=0),
      np.sort(full.reshape(60000, -1), axis=0))
  del labels


# load_images on synthetic files: exact checks.

def test_load_images_from_npz_exactly(tmp_path):
  ids = _write_toy(tmp_path)
  for split in ("train", "test"):
    images = data.load_images(_config(tmp_path, dataset="toy", source="npz"), split)
    assert images.shape == (len(ids[split]), 28, 28, 1)
    np.testing.assert_array_equal(images[:, 0, 0, 0], ids[split])


def test_validation_split_is_a_seeded_random_subset_of_train(tmp_path):
  _write_toy(tmp_path, num_train=10)
  config = _config(tmp_path, dataset="toy", validation_size=3)
  train = data.load_images(config, "train")[:, 0, 0, 0]
  validation = data.load_images(config, "validation")[:, 0, 0, 0]
  test = data.load_images(config, "test")[:, 0, 0, 0]
  assert len(train) == 7 and len(validation) == 3
  np.testing.assert_array_equal(np.sort(np.concatenate([train, validation])),
                                np.arange(10))
  # Both keep the original order; the same seed carves the same subset.
  assert list(train) == sorted(train) and list(validation) == sorted(validation)
  np.testing.assert_array_equal(
      data.load_images(config, "validation")[:, 0, 0, 0], validation)
  other = data.load_images(config.replace(seed=1), "validation")[:, 0, 0, 0]
  assert list(other) != list(validation)
  assert not set(test) & (set(train) | set(validation))


def test_validation_split_errors(tmp_path):
  _write_toy(tmp_path, num_train=10)
  with pytest.raises(ValueError, match="validation_size > 0"):
    data.load_images(_config(tmp_path, dataset="toy"), "validation")
  with pytest.raises(ValueError, match="validation_size=10 leaves no training"):
    data.load_images(_config(tmp_path, dataset="toy", validation_size=10), "train")
  with pytest.raises(ValueError, match="Unknown split 'valid'"):
    data.load_images(_config(tmp_path, dataset="toy"), "valid")


def test_image_shape_mismatch_names_the_fix(tmp_path):
  _write_toy(tmp_path)
  config = _config(tmp_path, dataset="toy", image_shape=(32, 32, 1))
  with pytest.raises(ValueError, match=r"\(28, 28, 1\).*pad_to=32"):
    data.load_images(config, "test")
  assert data.load_images(config.replace(pad_to=32), "test").shape == (4, 32, 32, 1)


# The not-found error and tensorflow_datasets, offline.

@pytest.mark.parametrize("name", ["svhn_cropped", "mnist", "cifar10"])
def test_not_found_names_both_ways_and_does_not_hang(tmp_path, name):
  config = _config(tmp_path, dataset=name)
  start = time.monotonic()
  with pytest.raises(data.DatasetNotFoundError) as info:
    data.load_images(config, "test")
  assert time.monotonic() - start < 60.   # offline: no network wait (loaded CI: slack)
  message = str(info.value)
  assert isinstance(info.value, FileNotFoundError)
  assert os.path.join(str(tmp_path), f"{name}_test.npz") in message
  assert f"tensorflow_datasets {name!r}" in message
  assert str(tmp_path / "tfds") in message
  assert "internet" in message and "tfds_download=True" in message
  assert not (tmp_path / "tfds").exists()   # nothing written


def test_not_found_names_both_ways_for_each_source(tmp_path):
  for source in ("npz", "tfds"):
    with pytest.raises(data.DatasetNotFoundError) as info:
      data.load_images(_config(tmp_path, dataset="svhn_cropped", source=source),
                       "test")
    assert "svhn_cropped_test.npz" in str(info.value)
    assert "tensorflow_datasets 'svhn_cropped'" in str(info.value)
    assert f"not tried (source={source!r})" in str(info.value)


def test_source_tfds_ignores_local_files(tmp_path):
  _write_toy(tmp_path, name="mnist")
  with pytest.raises(data.DatasetNotFoundError, match="not prepared there"):
    data.load_images(_config(tmp_path, dataset="mnist", source="tfds"), "test")


def test_name_unknown_to_tfds_says_only_a_local_file_helps(tmp_path):
  with pytest.raises(data.DatasetNotFoundError,
                     match="no dataset named 'notmnist'.*only a local file"):
    data.load_images(_config(tmp_path, dataset="notmnist"), "test")


def test_tfds_path_with_mocked_tfds(tmp_path, caplog):
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=6):
    with caplog.at_level(logging.INFO, logger="absl"):
      images = data.load_images(
          _config(tmp_path, dataset="mnist", pad_to=32, validation_size=2), "train")
    assert images.shape == (4, 32, 32, 1) and images.dtype == np.uint8
    assert "from tensorflow_datasets" in caplog.text
    assert "no local file" in caplog.text
    # "auto" prefers an existing local file, and says so.
    ids = _write_toy(tmp_path, name="mnist")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="absl"):
      images = data.load_images(_config(tmp_path, dataset="mnist"), "test")
    np.testing.assert_array_equal(images[:, 0, 0, 0], ids["test"])
    assert "from the local file" in caplog.text
    assert "takes precedence over tensorflow_datasets" in caplog.text


# Padding and RGB tiling.

def test_pad_images_centres_with_zeros():
  images = np.random.default_rng(0).integers(1, 256, [2, 28, 28, 1], dtype=np.uint8)
  padded = data.pad_images(images, 32)
  assert padded.shape == (2, 32, 32, 1) and padded.dtype == np.uint8
  np.testing.assert_array_equal(padded[:, 2:30, 2:30], images)
  assert padded.astype(bool).sum() == images.size   # every added pixel is 0
  odd = data.pad_images(images[:, :, :27], 32)   # 28x27: margins 2/2 and 2/3
  np.testing.assert_array_equal(odd[:, 2:30, 2:29], images[:, :, :27])
  assert not odd[:, :, :2].any() and not odd[:, :, 29:].any()
  big = np.zeros([1, 32, 32, 3], np.uint8)
  assert data.pad_images(big, 32) is big
  with pytest.raises(ValueError, match="larger"):
    data.pad_images(big, 28)


def test_gray_to_rgb_tiles_the_channel():
  gray = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)[..., :1]
  rgb = data.gray_to_rgb(gray)
  assert rgb.shape == (1, 2, 2, 3)
  for c in range(3):
    np.testing.assert_array_equal(rgb[..., c], gray[..., 0])
  colour = np.zeros([1, 2, 2, 3], np.uint8)
  assert data.gray_to_rgb(colour) is colour
  with pytest.raises(ValueError, match="1 \\(gray\\) or 3"):
    data.gray_to_rgb(np.zeros([1, 2, 2, 2], np.uint8))


# Special datasets by name.

def test_generated_datasets_by_name(tmp_path):
  config = _config(tmp_path, dataset="constant:128", image_shape=(32, 32, 3),
                   num_generated_images=5)
  images = data.load_images(config, "test")
  assert images.shape == (5, 32, 32, 3) and images.dtype == np.uint8
  assert np.all(images == 128)
  assert data.load_images(data.DataConfig(dataset="constant:7", image_shape=(8, 8, 1)),
                          "train").shape == (1000, 8, 8, 1)
  noise = config.replace(dataset="uniform_random")
  test = data.load_images(noise, "test")
  np.testing.assert_array_equal(test, data.load_images(noise, "test"))
  assert not np.array_equal(test, data.load_images(noise, "train"))
  assert not np.array_equal(test, data.load_images(noise.replace(seed=1), "test"))


def test_generated_dataset_without_shape_names_the_fix():
  with pytest.raises(ValueError, match="image_shape=test_images.shape"):
    data.load_images(data.DataConfig(dataset="uniform_random"), "test")


def test_grayed_dataset_by_name_grays_the_shaped_images(tmp_path):
  _write_toy(tmp_path, num_test=4)
  base = data.load_images(_config(tmp_path, dataset="toy", pad_to=32), "test")
  grayed = data.load_images(_config(tmp_path, dataset="grayed:toy:0.5", pad_to=32),
                            "test")
  np.testing.assert_array_equal(grayed, special_datasets.grayed_images(base, 0.5))
  assert grayed[0, 0, 0, 0] == 64          # the zero padding, grayed too



def test_jpeg_dataset_by_name_compresses_before_padding(tmp_path):
  _write_toy(tmp_path, num_test=4)
  raw = data.load_images(_config(tmp_path, dataset="toy"), "test")
  jpeg = data.load_images(_config(tmp_path, dataset="jpeg:toy:30", pad_to=32,
                                  to_rgb=True), "test")
  expected = data.gray_to_rgb(data.pad_images(
      special_datasets.jpeg_images(raw, 30), 32))
  assert jpeg.shape == (4, 32, 32, 3) and jpeg.dtype == np.uint8
  np.testing.assert_array_equal(jpeg, expected)


def test_flipped_dataset_by_name_mirrors_before_padding(tmp_path):
  # Each row a left-to-right ramp (1..28, shifted per image): flips show.
  raw = (np.arange(1, 29)[None, None, :, None]
         + np.arange(4)[:, None, None, None]).repeat(28, axis=1).astype(np.uint8)
  for split in ("train", "test"):
    np.savez(tmp_path / f"ramp_{split}.npz", images=raw,
             labels=np.zeros([4], np.int64))
  # 31 is an odd margin from 28: the extra column falls right, as for "ramp".
  config = _config(tmp_path, dataset="flipped:ramp", pad_to=31, to_rgb=True)
  flipped = data.load_images(config, "test")
  assert flipped.shape == (4, 31, 31, 3) and flipped.dtype == np.uint8
  np.testing.assert_array_equal(
      flipped, data.gray_to_rgb(data.pad_images(raw[:, :, ::-1], 31)))
  assert list(flipped[0, 15, :, 0]) == [0] + list(range(28, 0, -1)) + [0, 0]
  padded = data.load_images(config.replace(dataset="ramp"), "test")
  np.testing.assert_array_equal(padded[:, :, 1:29] > 0, flipped[:, :, 1:29] > 0)
  # A flipped set made from the run's dataset reads the run's test split.
  sliced = config.replace(dataset="ramp", test_split="test[1:3]")
  named = data.loading.dataset_config(sliced, "flipped:ramp")
  assert named.test_split == "test[1:3]"
  np.testing.assert_array_equal(data.load_images(named, "test"), flipped[1:3])


def _psnr(images, references):
  mse = np.mean(np.square(images.astype(np.float64) - references))
  return 10. * np.log10(255. ** 2 / mse)


@shared_data.needs("cifar10_lossless_test.npz")
def test_real_jpeg_75_of_lossless_cifar10_has_the_data_readme_s_error():
  config = data.DataConfig(dataset="jpeg:cifar10_lossless:75",
                           data_dir=DATA_DIR, source="npz")
  jpeg = data.load_images(config, "test")
  lossless, _ = data.load_npz("cifar10_lossless", "test", DATA_DIR)
  assert jpeg.shape == lossless.shape == (1000, 32, 32, 3)
  # ../shared/data/README.md: MAE 5.81 grey levels, PSNR 29.9 dB.
  assert np.abs(jpeg.astype(np.float64) - lossless).mean() == pytest.approx(
      5.81, rel=0.03)
  assert _psnr(jpeg, lossless) == pytest.approx(29.9, rel=0.03)


# Split slices: DataConfig.train_split / test_split.

def _sliced_config(tmp_path, **kwargs):
  kwargs = dict(dict(train_split="test[:7]", test_split="test[7:]"), **kwargs)
  return _config(tmp_path, dataset="toy", source="npz", **kwargs)


def test_npz_splits_are_slices_of_the_file_and_disjoint(tmp_path):
  ids = _write_toy(tmp_path, num_train=5, num_test=10)
  config = _sliced_config(tmp_path)
  train = data.load_images(config, "train")[:, 0, 0, 0]
  test = data.load_images(config, "test")[:, 0, 0, 0]
  np.testing.assert_array_equal(train, ids["test"][:7])
  np.testing.assert_array_equal(test, ids["test"][7:])
  assert not set(train) & set(test)
  # Negative ints count from the end; the other split's file is untouched.
  np.testing.assert_array_equal(
      data.load_images(config.replace(train_split="train[-2:]"),
                       "train")[:, 0, 0, 0], ids["train"][-2:])


def test_validation_is_carved_from_the_sliced_train_split(tmp_path):
  ids = _write_toy(tmp_path, num_train=5, num_test=10)
  config = _sliced_config(tmp_path, validation_size=2)
  train = data.load_images(config, "train")[:, 0, 0, 0]
  validation = data.load_images(config, "validation")[:, 0, 0, 0]
  test = data.load_images(config, "test")[:, 0, 0, 0]
  assert len(train) == 5 and len(validation) == 2
  np.testing.assert_array_equal(np.sort(np.concatenate([train, validation])),
                                ids["test"][:7])
  assert not set(test) & (set(train) | set(validation))
  with pytest.raises(ValueError, match=r"validation_size=7 leaves no training"
                     r".*train_split='test\[:7\]'"):
    data.load_images(config.replace(validation_size=7), "train")


def test_a_slice_past_the_end_is_refused_in_one_line(tmp_path):
  _write_toy(tmp_path, num_train=5, num_test=10)
  config = _sliced_config(tmp_path, test_split="test[20:]")
  message = r"split 'test\[20:\]' selects none of the 10 images of .*toy_test"
  with pytest.raises(ValueError, match=message) as info:
    data.load_images(config, "test")
  assert "\n" not in str(info.value)
  # check_datasets finds it from the file's header, before any loading.
  with pytest.raises(ValueError, match=message):
    data.check_datasets(config, ["toy"], splits=("train", "test"))
  data.check_datasets(config, ["toy"], splits=("train",))
  with pytest.raises(ValueError, match=r"DataConfig.train_split='test\[7\]' "
                     "is not a split"):
    config.replace(train_split="test[7]")


def test_other_datasets_are_read_whole_and_sets_made_from_the_dataset_sliced(
    tmp_path):
  ids = _write_toy(tmp_path, num_train=5, num_test=10)
  other = _write_toy(tmp_path, name="other", num_train=5, num_test=6)
  config = _sliced_config(tmp_path)
  sets = data.load_evaluation_sets(
      config, ("other", "grayed:toy:1", "jpeg:other:95"))
  assert list(sets) == ["toy/train", "toy/test", "other/test",
                        "grayed:toy:1/test", "jpeg:other:95/test"]
  np.testing.assert_array_equal(sets["toy/test"][:, 0, 0, 0], ids["test"][7:])
  np.testing.assert_array_equal(sets["other/test"][:, 0, 0, 0], other["test"])
  # Made from the in-distribution dataset: its held-out test slice.
  np.testing.assert_array_equal(sets["grayed:toy:1/test"], sets["toy/test"])
  assert len(sets["jpeg:other:95/test"]) == len(other["test"])
  assert data.loading.dataset_config(config, "jpeg:toy:75").test_split == (
      "test[7:]")
  assert data.loading.dataset_config(config, "other").test_split == "test"
  # An OOD set whose file is shorter than the slice is still fine.
  data.check_datasets(_sliced_config(tmp_path, test_split="test[8:]"),
                      ["other"])


def test_tfds_gets_the_sliced_split_string(tmp_path, monkeypatch):
  tfds = pytest.importorskip("tensorflow_datasets")
  asked = []
  load = tfds.load

  def recording_load(name, split, **kwargs):
    asked.append((name, split))
    return load(name, split=split, **kwargs)

  monkeypatch.setattr(tfds, "load", recording_load)
  with tfds.testing.mock_data(num_examples=6):
    config = _config(tmp_path, dataset="mnist", source="tfds",
                     train_split="test[:9000]", test_split="test[9000:]")
    data.load_images(config, "train")
    data.load_images(config, "test")
  assert asked == [("mnist", "test[:9000]"), ("mnist", "test[9000:]")]


# make_dataset.

def _batches(dataset):
  return [b.numpy() for b in dataset]


def test_center_dequantization_is_deterministic_bin_centres():
  images = np.arange(256, dtype=np.uint8).reshape(4, 8, 8, 1)
  batches = _batches(data.make_dataset(images, 3, dequantization="center"))
  assert [b.shape[0] for b in batches] == [3, 1]
  x = np.concatenate(batches)
  assert x.dtype == np.float32
  np.testing.assert_allclose(x, (images + 0.5) / 256. - 0.5)
  x5 = np.concatenate(_batches(data.make_dataset(images, 4, n_bits=5,
                                                 dequantization="center")))
  np.testing.assert_allclose(x5, (images // 8 + 0.5) / 32. - 0.5)


def test_uniform_dequantization_range_and_reproducibility():
  images = np.arange(256, dtype=np.uint8).reshape(4, 8, 8, 1)
  make = lambda seed: data.make_dataset(images, 2, dequantization="uniform",
                                        seed=seed)
  x = np.concatenate(_batches(make(3)))
  low = images / 256. - 0.5
  assert np.all(x >= low) and np.all(x < low + 1 / 256.)
  assert x.min() >= -0.5 and x.max() < 0.5
  np.testing.assert_array_equal(x, np.concatenate(_batches(make(3))))
  assert not np.array_equal(x, np.concatenate(_batches(make(4))))


def test_shuffled_repeated_training_stream_is_reproducible():
  images = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1) * 12
  make = lambda seed: data.make_dataset(
      images, 4, dequantization="uniform", shuffle=True, repeat=True, seed=seed,
      drop_remainder=True, shuffle_buffer=8)
  first = np.stack([b.numpy() for b in make(5).take(10)])      # 2 epochs
  np.testing.assert_array_equal(first, np.stack([b.numpy() for b in make(5).take(10)]))
  assert not np.array_equal(first, np.stack([b.numpy() for b in make(6).take(10)]))
  # Each epoch is a permutation of the images (the bins, floor(256 * (x + .5))).
  bins = np.floor((first + 0.5) * 256).astype(int).reshape(2, 20)
  for epoch in bins:
    assert sorted(epoch) == sorted(images.ravel())
  assert not np.array_equal(bins[0], images.ravel())           # shuffled


def test_noise_is_fresh_for_every_batch_and_epoch():
  images = np.full([4, 8, 8, 1], 100, np.uint8)
  dataset = data.make_dataset(images, 2, dequantization="uniform", repeat=True,
                              seed=0)
  batches = np.stack([b.numpy() for b in dataset.take(4)])     # 2 epochs
  assert len({b.tobytes() for b in batches}) == 4
  assert np.all(np.floor((batches + 0.5) * 256) == 100)        # same bin


def test_uint8_batches_without_dequantization():
  images = np.arange(5 * 4, dtype=np.uint8).reshape(5, 2, 2, 1)
  dataset = data.make_dataset(images, 2, dequantization=None, drop_remainder=True)
  batches = _batches(dataset)
  assert all(b.dtype == np.uint8 for b in batches) and len(batches) == 2
  np.testing.assert_array_equal(np.concatenate(batches), images[:4])


def test_make_dataset_rejects_bad_inputs():
  with pytest.raises(ValueError, match="uint8 images"):
    data.make_dataset(np.zeros([2, 4, 4, 1], np.float32), 2)
  with pytest.raises(ValueError, match="Unknown dequantization 'noise'"):
    data.make_dataset(np.zeros([2, 4, 4, 1], np.uint8), 2, dequantization="noise")
  with pytest.raises(ValueError, match="batch_size"):
    data.make_dataset(np.zeros([2, 4, 4, 1], np.uint8), 0)


def test_load_dataset_training_and_evaluation(tmp_path):
  _write_toy(tmp_path, num_train=10, num_test=5)
  config = _config(tmp_path, dataset="toy", pad_to=32, validation_size=2)
  train = data.load_dataset(config, "train", 3, training=True)
  assert train.element_spec.shape.as_list() == [3, 32, 32, 1]
  assert train.cardinality() == tf.data.INFINITE_CARDINALITY
  test = _batches(data.load_dataset(config, "test", 3, training=False))
  assert [b.shape for b in test] == [(3, 32, 32, 1), (2, 32, 32, 1)]
  np.testing.assert_allclose(test[0][:, 0, 0, 0], 0.5 / 256 - 0.5)   # the padding


# DataConfig validation.

@pytest.mark.parametrize("changes, error, match", [
    (dict(source="gcs"), ValueError, r"source='gcs' is not one of \('auto'"),
    (dict(n_bits=0), ValueError, r"n_bits must be in \[1, 8\]"),
    (dict(validation_size=-1), ValueError, "validation_size must be >= 0"),
    (dict(shuffle_buffer=0), ValueError, "shuffle_buffer must be >= 1"),
    (dict(num_generated_images=0), ValueError, "num_generated_images must be >= 1"),
    (dict(pad_to=0), ValueError, "pad_to must be >= 1 or None"),
    (dict(pad_to=32.), TypeError, "pad_to must be an int"),
    (dict(image_shape=(32, 32)), ValueError, r"image_shape must have 3 entries"),
    (dict(to_rgb="false"), TypeError, "to_rgb must be a bool"),
    (dict(tfds_download=1), TypeError, "tfds_download must be a bool"),
    (dict(seed=True), TypeError, "seed must be an int"),
    (dict(dataset=""), ValueError, "dataset is empty"),
    (dict(dataset="constant:300"), ValueError, r"not in 0\.\.255"),
    (dict(dataset="grayed:cifar10"), ValueError, "needs a dataset and a factor"),
])
def test_config_validation(changes, error, match):
  with pytest.raises(error, match=match):
    data.DataConfig(**changes)


def test_config_is_frozen_and_replace_validates():
  config = data.DataConfig(image_shape=[32, 32, 3])
  assert config.image_shape == (32, 32, 3)
  assert config.source == "auto" and config.tfds_download is False
  with pytest.raises(dataclasses.FrozenInstanceError):
    config.dataset = "mnist"
  assert config.replace(dataset="mnist", pad_to=32).pad_to == 32
  with pytest.raises(ValueError, match="source"):
    config.replace(source="internet")


def test_start_batch_resumes_the_same_seeded_stream():
  images = np.arange(40 * 4, dtype=np.uint8).reshape(40, 2, 2, 1)
  kwargs = dict(batch_size=4, dequantization="uniform", shuffle=True,
                repeat=True, seed=7, drop_remainder=True, shuffle_buffer=40)
  full = [b.numpy() for b in data.make_dataset(images, **kwargs).take(15)]
  resumed = [b.numpy() for b in
             data.make_dataset(images, start_batch=9, **kwargs).take(6)]
  for expected, actual in zip(full[9:], resumed):
    np.testing.assert_array_equal(expected, actual)


def test_conform_images_pads_and_tiles():
  images = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28, 1) % 256
  conformed = data.conform_images(images.astype(np.uint8), (32, 32, 3))
  assert conformed.shape == (2, 32, 32, 3)
  np.testing.assert_array_equal(conformed[:, 2:30, 2:30, 1], images[..., 0])
  assert not conformed[:, :2].any() and not conformed[:, 30:].any()
  same = np.zeros((1, 8, 8, 3), np.uint8)
  assert data.conform_images(same, (8, 8, 3)) is same


@pytest.mark.parametrize("shape,target", [((1, 8, 8, 3), (8, 8, 1)),
                                          ((1, 9, 9, 1), (8, 8, 1)),
                                          ((1, 8, 8, 2), (8, 8, 3))])
def test_conform_images_refuses_what_it_cannot_do(shape, target):
  with pytest.raises(ValueError, match="cannot be conformed"):
    data.conform_images(np.zeros(shape, np.uint8), target)


def test_training_batches_are_mutated_at_the_configured_rate():
  images = np.full((256, 8, 8, 1), 7, np.uint8)
  def batches(rate, seed=3, start_batch=0):
    return np.concatenate(list(data.make_dataset(
        images, 64, dequantization=None, seed=seed, mutation_rate=rate,
        start_batch=start_batch).as_numpy_iterator()))
  assert np.array_equal(batches(0.), images)
  mutated = batches(0.25)
  changed = np.mean(mutated != 7)
  expected = 0.25 * 255 / 256
  assert abs(changed - expected) < 4 * np.sqrt(expected * (1 - expected) / mutated.size)
  # Keyed by seed and batch index: reproducible, and resuming skips exactly.
  assert np.array_equal(batches(0.25), mutated)
  assert not np.array_equal(batches(0.25, seed=4), mutated)
  assert np.array_equal(batches(0.25, start_batch=2), mutated[128:])
  with pytest.raises(ValueError, match="mutation_rate must be in"):
    data.make_dataset(images, 64, mutation_rate=1.5)
  with pytest.raises(ValueError, match="mutation_rate must be in"):
    data.DataConfig(dataset="mnist", mutation_rate=-0.1)
