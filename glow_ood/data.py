"""Image datasets by name -> uint8 arrays -> batched `tf.data` pipelines.

    config = DataConfig(dataset="fashion_mnist", pad_to=32, validation_size=5000)
    train = load_images(config, "train")                   # uint8 [55000, 32, 32, 1]
    ds = make_dataset(train, 64, dequantization="uniform", shuffle=True,
                      repeat=True, seed=config.seed, drop_remainder=True)

Where images come from (`DataConfig.source`):
  * `"npz"`: the local file `<data_dir>/<name>_<split>.npz` (uint8 `images`
    `[N, H, W, C]`, int64 `labels` `[N]`; the format of ../shared/data, which
    also holds `notmnist`, `cifar10_jpeg` and `cifar10_lossless`).
  * `"tfds"`: `tensorflow_datasets.load(name, split, data_dir=tfds_data_dir,
    download=tfds_download)`, e.g. `cifar10`, `svhn_cropped`, `mnist`,
    `fashion_mnist` (any tfds dataset with a uint8 `"image"` feature). Without
    `tfds_download=True` tfds never touches the network: the data must have
    been prepared in `tfds_data_dir` before.
  * `"auto"` (default): the npz file if it exists, else tfds.
A dataset no allowed source has raises one `DatasetNotFoundError` naming both
ways to provide it.

Special inputs ("constant:128", "uniform_random", "grayed:cifar10:0.5") are
requested by name too; see `glow_ood.special_datasets`.
"""

import dataclasses
import os
from typing import Optional, Tuple

from absl import logging
import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import mutation
from glow_ood import preprocessing
from glow_ood import special_datasets

__all__ = ["DEFAULT_DATA_DIR", "SOURCES", "SPLITS", "TFDS_DATASETS",
           "DEQUANTIZATIONS", "DatasetNotFoundError", "DataConfig",
           "default_data_dir", "load_npz", "pad_images", "gray_to_rgb",
           "subsample", "conform_images", "load_images", "load_images_as", "make_dataset",
           "load_dataset"]

# The shared data folder, seen from the repository root.
DEFAULT_DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), os.pardir, "shared", "data")

SOURCES = ("auto", "npz", "tfds")
SPLITS = ("train", "test", "validation")
# The tfds datasets of the experiments (others with an "image" feature work).
TFDS_DATASETS = ("cifar10", "svhn_cropped", "mnist", "fashion_mnist")
# `None` yields the uint8 images themselves.
DEQUANTIZATIONS = preprocessing.DEQUANTIZATIONS + (None,)
# Seeds "uniform_random" differently per split.
_SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}
_TFDS_DEFAULT_DIR = "tfds's default ($TFDS_DATA_DIR or ~/tensorflow_datasets)"


class DatasetNotFoundError(FileNotFoundError):
  """No allowed source (local npz file, tensorflow_datasets) has the dataset."""


def default_data_dir():
  """`$GLOW_OOD_DATA_DIR`, else `../shared/data` beside the repository."""
  return os.path.normpath(os.environ.get("GLOW_OOD_DATA_DIR", DEFAULT_DATA_DIR))


def load_npz(name, split, data_dir=None, limit=None):
  """Loads `<data_dir>/<name>_<split>.npz` -> (`images` uint8 NHWC, `labels` int64).

  Args:
    name: dataset name, e.g. `"cifar10_lossless"`, `"fashion_mnist"`.
    split: `"train"` or `"test"`.
    data_dir: folder of the files. Default value: `default_data_dir()`.
    limit: optional maximum number of examples (the first ones).
  """
  data_dir = data_dir or default_data_dir()
  path = os.path.join(data_dir, f"{name}_{split}.npz")
  if not os.path.exists(path):
    raise DatasetNotFoundError(
        f"No local file for dataset {name!r} split {split!r}: {path} does not "
        "exist. Point --data_dir (or GLOW_OOD_DATA_DIR) at a folder of "
        "<name>_<split>.npz files with uint8 'images' [N, H, W, C] and "
        "'labels' [N].")
  with np.load(path) as data:
    if "images" not in data:
      raise ValueError(f"{path} has no 'images' array (found {list(data)}).")
    images = data["images"][:limit]
    labels = data["labels"][:limit] if "labels" in data else None
  if images.dtype != np.uint8 or images.ndim != 4:
    raise ValueError(
        f"{path}: 'images' must be uint8 [N, H, W, C]; got {images.dtype} "
        f"{images.shape}.")
  return images, labels


def _check_choice(field, value, choices):
  if value not in choices:
    raise ValueError(f"DataConfig.{field}={value!r} is not one of {choices}.")


def _check_type(field, value, types, what):
  if not isinstance(value, types) or (
      isinstance(value, bool) and bool not in types):
    raise TypeError(f"DataConfig.{field} must be {what}; got {value!r}.")


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Which images to load and how to shape them.

  Attributes:
    dataset: a dataset name (`TFDS_DATASETS`, a local `<name>_<split>.npz`) or
      a special name (`"constant:<0..255>"`, `"uniform_random"`,
      `"grayed:<dataset>:<factor>"`, see `glow_ood.special_datasets`).
    data_dir: folder of the local npz files. Default value: `None`, i.e.
      `default_data_dir()` (`$GLOW_OOD_DATA_DIR` or ../shared/data).
    tfds_data_dir: tensorflow_datasets' `data_dir`. Default value: `None`,
      tfds's own default (`$TFDS_DATA_DIR` or ~/tensorflow_datasets).
    source: `"auto"` (npz file if present, else tfds), `"npz"` or `"tfds"`.
    tfds_download: let tfds download and prepare missing data (needs
      internet). Default value: `False`, so loading never waits on the network.
    n_bits: bits per pixel the model sees (1..8), used by `load_dataset`.
    pad_to: `None`, or a side length `S`: images are zero-padded, centred, to
      `S x S` (openai/glow's MNIST handling: 28x28 -> 32x32 with `pad_to=32`;
      images already `S x S` are unchanged).
    to_rgb: tile grayscale images to 3 channels (RGB images are unchanged).
    validation_size: examples carved from the train split (a random subset
      drawn with `seed`, in file order) as the `"validation"` split, which
      `"train"` then excludes; `0` = no validation split.
    shuffle_buffer: `tf.data` shuffle buffer size for training, >= 1, capped
      at the number of images; the default shuffles every dataset here fully
      (some files, e.g. cifar10_jpeg, are sorted by class).
    seed: seeds shuffling, dequantization noise and "uniform_random" images.
    image_shape: `None` or the `(H, W, C)` every loaded image must have after
      `pad_to` / `to_rgb`; required by the generated datasets ("constant:*",
      "uniform_random"), which have no shape of their own: pass the
      in-distribution images' shape, e.g.
      `config.replace(dataset="constant:128", image_shape=test.shape[1:])`.
      For any other dataset a mismatch raises.
    num_generated_images: images per split of a generated dataset.
    mutation_rate: `mu` in [0, 1]: training batches get each value replaced
      by a uniform random one with this probability (`glow_ood.mutation`);
      Ren et al.'s background model for the likelihood-ratio score. Default
      value: `0.`, no mutation. Evaluation data are never mutated.
  """
  dataset: str = "cifar10"
  data_dir: Optional[str] = None
  tfds_data_dir: Optional[str] = None
  source: str = "auto"
  tfds_download: bool = False
  n_bits: int = 8
  pad_to: Optional[int] = None
  to_rgb: bool = False
  validation_size: int = 0
  shuffle_buffer: int = 100_000
  seed: int = 0
  image_shape: Optional[Tuple[int, int, int]] = None
  num_generated_images: int = 1000
  mutation_rate: float = 0.

  def __post_init__(self):
    if not 0. <= float(self.mutation_rate) <= 1.:
      raise ValueError(f"mutation_rate must be in [0, 1]; got "
                       f"{self.mutation_rate}.")
    _check_type("dataset", self.dataset, (str,), "a non-empty str")
    if not self.dataset:
      raise ValueError("DataConfig.dataset is empty; name a dataset, e.g. "
                       "'cifar10'.")
    special_datasets.parse(self.dataset)  # Raises on malformed special names.
    _check_choice("source", self.source, SOURCES)
    _check_type("tfds_download", self.tfds_download, (bool,), "a bool")
    _check_type("to_rgb", self.to_rgb, (bool,), "a bool")
    for field in ("n_bits", "validation_size", "shuffle_buffer", "seed",
                  "num_generated_images"):
      _check_type(field, getattr(self, field), (int, np.integer), "an int")
    if not 1 <= self.n_bits <= 8:
      raise ValueError(f"DataConfig.n_bits must be in 1..8; got {self.n_bits}.")
    if self.validation_size < 0:
      raise ValueError(f"DataConfig.validation_size must be >= 0 (0 = no "
                       f"validation split); got {self.validation_size}.")
    for field in ("shuffle_buffer", "num_generated_images"):
      if getattr(self, field) < 1:
        raise ValueError(f"DataConfig.{field} must be >= 1; got "
                         f"{getattr(self, field)}.")
    if self.pad_to is not None:
      _check_type("pad_to", self.pad_to, (int, np.integer), "None or an int")
      if self.pad_to < 1:
        raise ValueError(f"DataConfig.pad_to must be None or >= 1 (e.g. 32); "
                         f"got {self.pad_to}.")
    if self.image_shape is not None:
      shape = tuple(int(d) for d in self.image_shape)
      if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"DataConfig.image_shape must be None or (H, W, C) "
                         f"of positive ints; got {self.image_shape}.")
      object.__setattr__(self, "image_shape", shape)

  def replace(self, **changes):
    """A copy with `changes` applied (validated again)."""
    return dataclasses.replace(self, **changes)


def pad_images(images, size):
  """Zero-pads `[N, H, W, C]` to `[N, size, size, C]`, centred.

  28x28 -> 32x32 adds 2 rows/columns on every side (openai/glow's MNIST); an
  odd margin puts the extra row (column) at the bottom (right). Images already
  `size x size` are returned as they are.
  """
  images = np.asarray(images)
  _, height, width, _ = images.shape
  if height > size or width > size:
    raise ValueError(f"Cannot pad {height}x{width} images to {size}x{size}: "
                     "they are larger. Set pad_to to None or >= the size.")
  if height == width == size:
    return images
  top, left = (size - height) // 2, (size - width) // 2
  return np.pad(images, ((0, 0), (top, size - height - top),
                         (left, size - width - left), (0, 0)))


def gray_to_rgb(images):
  """Tiles grayscale `[N, H, W, 1]` to `[N, H, W, 3]` (R = G = B); RGB unchanged."""
  images = np.asarray(images)
  channels = images.shape[-1]
  if channels == 3:
    return images
  if channels != 1:
    raise ValueError(f"to_rgb needs 1 (gray) or 3 (RGB) channels; the images "
                     f"have {channels} (shape {images.shape}).")
  return np.repeat(images, 3, axis=-1)


def subsample(images, limit, seed=0):
  """At most `limit` images: a seeded random subset, kept in file order.

  Not the first `limit`: some files are sorted by class (cifar10_jpeg), so
  their first images are all airplanes. `None` or `limit >= N` returns
  `images` itself.
  """
  if limit is None or int(limit) >= len(images):
    return images
  if int(limit) < 1:
    raise ValueError(f"limit must be >= 1 or None; got {limit}.")
  keep = np.sort(np.random.default_rng(seed).choice(len(images), int(limit),
                                                    replace=False))
  return images[keep]


def conform_images(images, image_shape, name="images"):
  """Pads (centred, zeros) and tiles grayscale to RGB so `images` fit `image_shape`.

  This is how a model of one shape scores another dataset (e.g. MNIST
  `28x28x1` under a CIFAR-10 model: `32x32x3`). Shapes that cannot be reached
  this way (larger images, other channel counts) raise.

  Args:
    images: uint8 `[N, H, W, C]`.
    image_shape: target `(H', W', C')` with `H' >= H`, `W' >= W` and
      `C' == C` or `C == 1, C' == 3`.
    name: Python `str` used in the error message.
  """
  images = np.asarray(images)
  target = tuple(int(d) for d in image_shape)
  if images.shape[1:] == target:
    return images
  _, height, width, channels = images.shape
  size, size_w, target_channels = target
  if (size != size_w or height > size or width > size
      or channels not in (target_channels, 1)):
    raise ValueError(
        f"{name} of shape {images.shape[1:]} cannot be conformed to "
        f"{target}: only zero-padding to a larger square and tiling 1 -> 3 "
        "channels are done. Use a model of a matching shape.")
  images = pad_images(images, size)
  return gray_to_rgb(images) if target_channels == 3 else images


def load_images_as(config, split, image_shape):
  """`load_images` of `config.dataset`, conformed to `image_shape`.

  Generated datasets are made at `image_shape`; real ones are loaded with
  `config`'s own `pad_to` / `to_rgb`, then padded / tiled by `conform_images`.
  """
  special = special_datasets.parse(config.dataset)
  if special is not None and special.is_generated:
    return load_images(config.replace(image_shape=tuple(image_shape)), split)
  images = load_images(config.replace(image_shape=None), split)
  return conform_images(images, image_shape, name=f"{config.dataset}/{split}")


def load_images(config, split):
  """The images of `config.dataset`'s `split`: uint8 `[N, H, W, C]`.

  `split` is `"train"`, `"test"` or `"validation"` (`config.validation_size`
  train examples drawn with `config.seed`, which `"train"` then leaves out).
  Real images are padded (`pad_to`) and tiled (`to_rgb`) as configured;
  "grayed:<dataset>:<factor>" grays them after that; generated datasets are
  made at `config.image_shape` (`num_generated_images` per split, not carved).

  Raises:
    DatasetNotFoundError: neither the local npz file nor tensorflow_datasets
      (as `config.source` allows) has the dataset; the message names both.
  """
  if not isinstance(config, DataConfig):
    raise TypeError(f"load_images needs a DataConfig; got "
                    f"{type(config).__name__}.")
  if split not in SPLITS:
    raise ValueError(f"Unknown split {split!r}; choose one of {SPLITS}.")
  special = special_datasets.parse(config.dataset)
  if special is not None and special.is_generated:
    if config.image_shape is None:
      raise ValueError(
          f"Dataset {config.dataset!r} is generated and has no shape of its "
          "own: set DataConfig.image_shape, normally to the in-distribution "
          "images' shape, e.g. config.replace(dataset=..., "
          "image_shape=test_images.shape[1:]).")
    return special_datasets.generate(
        special, config.num_generated_images, config.image_shape,
        seed=(config.seed, _SPLIT_IDS[split]))
  name = config.dataset if special is None else special.base
  images = _carve(config, name, split)
  if config.pad_to is not None:
    images = pad_images(images, config.pad_to)
  if config.to_rgb:
    images = gray_to_rgb(images)
  if special is not None:
    images = special_datasets.grayed_images(images, special.factor)
  if config.image_shape is not None and images.shape[1:] != config.image_shape:
    raise ValueError(
        f"Dataset {config.dataset!r} split {split!r} has images of shape "
        f"{images.shape[1:]} (after pad_to={config.pad_to}, "
        f"to_rgb={config.to_rgb}), not DataConfig.image_shape="
        f"{config.image_shape}. Pad (pad_to=32) / tile (to_rgb=True) the "
        "images or change image_shape.")
  return images


def _carve(config, name, split):
  """`split` of `name`; "validation" is a seeded random subset of train."""
  size = config.validation_size
  if split == "test":
    return _load_source(config, name, "test")
  if split == "validation" and not size:
    raise ValueError(f"Dataset {name!r} has no 'validation' split: set "
                     "DataConfig.validation_size > 0 to carve one from "
                     "'train'.")
  train = _load_source(config, name, "train")
  if size >= len(train):
    raise ValueError(f"DataConfig.validation_size={size} leaves no training "
                     f"examples: {name!r} has {len(train)} train examples.")
  # A seeded random subset (not the last examples: some files are sorted by
  # class), both parts in their original order.
  held_out = np.zeros(len(train), bool)
  held_out[np.random.default_rng(config.seed).permutation(len(train))[:size]] = True
  return train[held_out] if split == "validation" else train[~held_out]


def _load_source(config, name, split):
  """uint8 `[N, H, W, C]` of split "train" or "test" from npz or tfds."""
  data_dir = config.data_dir or default_data_dir()
  path = os.path.join(data_dir, f"{name}_{split}.npz")
  if config.source in ("auto", "npz") and os.path.exists(path):
    images, _ = load_npz(name, split, data_dir)
    logging.info("Dataset %r split %r: %d images from the local file %s "
                 "(source=%r%s).", name, split, len(images), path,
                 config.source, "; a local file takes precedence over "
                 "tensorflow_datasets" if config.source == "auto" else "")
    return images
  tfds_problem, cause = "not tried (source='npz')", None
  unknown_to_tfds = False
  if config.source in ("auto", "tfds"):
    try:
      images = _load_tfds(name, split, config.tfds_data_dir,
                          config.tfds_download)
    except _TfdsUnavailable as err:
      tfds_problem, cause = str(err), err.__cause__
      unknown_to_tfds = err.unknown_name
    else:
      logging.info("Dataset %r split %r: %d images from tensorflow_datasets "
                   "(data_dir=%s, source=%r%s).", name, split, len(images),
                   config.tfds_data_dir or _TFDS_DEFAULT_DIR, config.source,
                   f"; no local file {path}" if config.source == "auto"
                   else "")
      return images
  npz_problem = ("not tried (source='tfds')" if config.source == "tfds"
                 else "the file does not exist")
  raise DatasetNotFoundError(
      f"Dataset {name!r} split {split!r} not found (source="
      f"{config.source!r}). Provide it one of two ways:\n"
      f"  1. a local file {path} ({npz_problem}): uint8 'images' [N, H, W, C] "
      "and int64 'labels' [N] saved with numpy.savez_compressed; set "
      "DataConfig.data_dir (or $GLOW_OOD_DATA_DIR) to its folder.\n"
      f"  2. tensorflow_datasets {name!r} in data_dir="
      f"{config.tfds_data_dir or _TFDS_DEFAULT_DIR} ({tfds_problem}): "
      + ("only a local file can provide this name." if unknown_to_tfds else
         "tfds needs internet access (DataConfig.tfds_download=True) or a "
         f"data_dir already prepared (e.g. `tfds build {name} --data_dir=...` "
         "on a machine with internet); set DataConfig.tfds_data_dir to it.")
  ) from cause


class _TfdsUnavailable(Exception):
  """Why tensorflow_datasets could not provide a dataset (message = reason)."""

  def __init__(self, reason, unknown_name=False):
    super().__init__(reason)
    self.unknown_name = unknown_name  # tfds has no builder of that name.


def _load_tfds(name, split, data_dir, download):
  """`tfds.load(name, split)["image"]` as uint8 `[N, H, W, C]`."""
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as err:
    raise _TfdsUnavailable("tensorflow_datasets is not installed: pip "
                           "install tensorflow-datasets") from err
  try:
    dataset = tfds.load(name, split=split, data_dir=data_dir,
                        download=download)
  except tfds.core.registered.DatasetNotFoundError as err:
    raise _TfdsUnavailable(f"tensorflow_datasets has no dataset named "
                           f"{name!r}", unknown_name=True) from err
  except AssertionError as err:  # tfds' "could not find data" (no download).
    raise _TfdsUnavailable(
        "it is not prepared there" +
        ("" if download else " and tfds_download=False")) from err
  except Exception as err:  # pylint: disable=broad-except
    if not download:
      raise
    raise _TfdsUnavailable(f"downloading failed: {type(err).__name__}: "
                           f"{err}") from err
  spec = dataset.element_spec
  if not isinstance(spec, dict) or "image" not in spec:
    raise ValueError(f"tensorflow_datasets {name!r} has no 'image' feature "
                     f"(features: {spec}); glow_ood needs an image dataset.")
  if spec["image"].dtype != tf.uint8 or spec["image"].shape.rank != 3:
    raise ValueError(f"tensorflow_datasets {name!r}: 'image' must be uint8 "
                     f"[H, W, C]; got {spec['image']}.")
  batches = list(tfds.as_numpy(
      dataset.map(lambda example: example["image"]).batch(4096)))
  if not batches:
    return np.zeros((0,) + tuple(spec["image"].shape), np.uint8)
  return np.concatenate(batches)


def make_dataset(images, batch_size, *, n_bits=8, dequantization="uniform",
                 shuffle=False, repeat=False, seed=None, drop_remainder=False,
                 shuffle_buffer=100_000, dtype=tf.float32, start_batch=0,
                 mutation_rate=0.):
  """uint8 images `[N, H, W, C]` -> `tf.data.Dataset` of batches `[B, H, W, C]`.

  Order of operations: shuffle (buffer `shuffle_buffer`, reshuffled each
  epoch) -> repeat -> batch -> mutate (if `mutation_rate`) -> dequantize ->
  prefetch(AUTOTUNE).

  Args:
    images: uint8 `[N, H, W, C]` (e.g. from `load_images`).
    batch_size: Python `int`, `B` (the global batch under a strategy).
    n_bits: bits per pixel kept (1..8), see `preprocessing.dequantize`.
    dequantization: `"uniform"` (training: `U[0, 1)` noise in each bin),
      `"center"` (evaluation: deterministic bin centres), both yielding
      `dtype` in `[-0.5, 0.5)`; or `None`, yielding the uint8 images
      unchanged (for `Glow.bits_per_dim`, which dequantizes itself).
    shuffle: shuffle the examples. Default value: `False`.
    repeat: repeat forever. Default value: `False`.
    seed: Python `int` or `None`. With an int the shuffle order and the noise
      are reproducible: the noise of the `i`-th batch is
      `stateless_uniform(seed=[seed, i])` (`i` counts batches over all
      epochs), whatever the parallelism. `None`: fresh randomness.
    drop_remainder: drop a last batch smaller than `B` (training).
    shuffle_buffer: Python `int` >= 1, capped at `N`.
    dtype: float dtype of dequantized batches. Default value: `tf.float32`.
    start_batch: Python `int`, batches to skip first (before dequantization,
      so cheaply), e.g. to resume a seeded stream where it stopped: the noise
      stays keyed by the batch's index in the whole stream.
    mutation_rate: Python `float` in [0, 1]: each uint8 value is replaced by a
      uniform random one with this probability (`glow_ood.mutation.mutate`,
      keyed like the noise), before dequantization. Default value: `0.`.
  """
  images = np.asarray(images)
  if images.dtype != np.uint8 or images.ndim != 4:
    raise ValueError(f"make_dataset needs uint8 images [N, H, W, C]; got "
                     f"{images.dtype} {images.shape}.")
  if dequantization not in DEQUANTIZATIONS:
    raise ValueError(f"Unknown dequantization {dequantization!r}; choose one "
                     f"of {DEQUANTIZATIONS}.")
  if int(batch_size) < 1 or int(shuffle_buffer) < 1:
    raise ValueError(f"batch_size and shuffle_buffer must be >= 1; got "
                     f"{batch_size} and {shuffle_buffer}.")
  if dequantization is not None and not 1 <= int(n_bits) <= 8:
    raise ValueError(f"n_bits must be in 1..8; got {n_bits}.")
  dataset = tf.data.Dataset.from_tensor_slices(images)
  if shuffle:
    dataset = dataset.shuffle(min(int(shuffle_buffer), max(len(images), 1)),
                              seed=seed, reshuffle_each_iteration=True)
  if repeat:
    dataset = dataset.repeat()
  dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)
  dataset = dataset.skip(int(start_batch))
  mutation_rate = float(mutation_rate)
  if not 0. <= mutation_rate <= 1.:
    raise ValueError(f"mutation_rate must be in [0, 1]; got {mutation_rate}.")
  if mutation_rate:
    dataset = _mutated(dataset, mutation_rate, seed, start_batch)
  if dequantization == "uniform" and seed is not None:
    seed = tf.constant(int(seed), tf.int64)
    dataset = tf.data.Dataset.zip(
        (dataset, tf.data.Dataset.counter(start=int(start_batch))))
    dataset = dataset.map(
        lambda x, i: preprocessing.dequantize(
            x, n_bits, "uniform", seed=tf.stack([seed, i]), dtype=dtype),
        num_parallel_calls=tf.data.AUTOTUNE)
  elif dequantization is not None:
    dataset = dataset.map(
        lambda x: preprocessing.dequantize(x, n_bits, dequantization,
                                           dtype=dtype),
        num_parallel_calls=tf.data.AUTOTUNE)
  return dataset.prefetch(tf.data.AUTOTUNE)


def _mutated(dataset, rate, seed, start_batch):
  """Mutates each batch with a seed keyed by its index in the stream."""
  if seed is None:
    seed_pair = lambda i: tf.random.uniform([2], maxval=2**31 - 1,
                                            dtype=tf.int64)
  else:
    seed_pair = lambda i: tf.random.experimental.stateless_fold_in(
        tf.stack([tf.constant(int(seed), tf.int64), i]), 1)
  dataset = tf.data.Dataset.zip(
      (dataset, tf.data.Dataset.counter(start=int(start_batch))))
  return dataset.map(lambda x, i: mutation.mutate(x, rate, seed_pair(i)),
                     num_parallel_calls=tf.data.AUTOTUNE)


def load_dataset(config, split, batch_size, *, training):
  """`make_dataset(load_images(config, split), batch_size, ...)` from `config`.

  `training=True`: uniform noise, shuffled (`config.shuffle_buffer`), repeated
  forever, full batches only, seeded by `config.seed`. `training=False`: bin
  centres, in order, one pass, the last batch possibly smaller.
  """
  return make_dataset(
      load_images(config, split), batch_size, n_bits=config.n_bits,
      dequantization="uniform" if training else "center", shuffle=training,
      repeat=training, seed=config.seed, drop_remainder=training,
      shuffle_buffer=config.shuffle_buffer,
      mutation_rate=config.mutation_rate if training else 0.)
