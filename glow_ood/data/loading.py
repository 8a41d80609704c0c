"""Datasets by name -> uint8 arrays: splits, padding, special inputs, evaluation sets.

    config = DataConfig(dataset="fashion_mnist", pad_to=32, validation_size=5000)
    train = load_images(config, "train")                   # uint8 [55000, 32, 32, 1]

Where the images come from is `glow_ood.data.sources`; special inputs
("constant:128", "uniform_random", "grayed:cifar10:0.5", "jpeg:cifar10:75",
"flipped:cifar10") are requested by name too (`glow_ood.data.special`).
Splits "train" and "test" are read from `DataConfig.train_split` / `test_split` (a source split
or a slice of one, "test[:9000]"); those apply to the in-distribution dataset
and to special sets made from it, every other dataset is read whole.
"""

import os

import numpy as np

from glow_ood.configs.data import DataConfig
from glow_ood.configs.data import SPLITS
from glow_ood.configs.data import TFDS_DATASETS
from glow_ood.data import sources
from glow_ood.data import special as special_datasets
from glow_ood.data import transforms

__all__ = ["load_images", "load_images_as", "load_evaluation_sets",
           "check_datasets", "dataset_config", "stored_shape"]

# Seeds "uniform_random" differently per split.
_SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}

_SPECIAL_NAMES = ("constant:<0..255>, uniform_random, grayed:<dataset>:<factor>, "
                  "jpeg:<dataset>:<quality>, flipped:<dataset>")


def _real_name(name):
  """The real dataset `name` reads: itself, or the base of "grayed"/"jpeg"/"flipped"."""
  special = special_datasets.parse(name)
  return name if special is None or special.is_generated else special.base


def dataset_config(config, name):
  """`config` for dataset `name`: its own splits if `name` is made from `config.dataset`.

  "jpeg:svhn_cropped:75" of an svhn_cropped run with `test_split="test[9000:]"`
  compresses the same held-out images as the run's test split; any other
  dataset (an out-of-distribution set) is read whole, `"train"` / `"test"`.
  """
  if _real_name(name) == _real_name(config.dataset):
    return config.replace(dataset=name)
  return config.replace(dataset=name, train_split="train", test_split="test")


def stored_shape(config, name):
  """`(H, W, C)` of `name`'s test images as stored, before `pad_to` / `to_rgb`.

  `None` for a generated set (made at the shape it is asked for). A special
  set made from a dataset has that dataset's shape. Reads a local npz file's
  header only; a tensorflow_datasets split is loaded.

  Args:
    config: `DataConfig` (the in-distribution dataset's: `name` is read as
      `load_evaluation_sets` reads it, `dataset_config(config, name)`).
    name: a dataset name, real or special.
  """
  special = special_datasets.parse(name)
  if special is not None and special.is_generated:
    return None
  base = _real_name(name)
  named = dataset_config(config, name)
  sliced = named.source_split("test")
  path = os.path.join(config.data_dir or sources.default_data_dir(),
                      f"{base}_{sliced.name}.npz")
  if config.source != "tfds" and os.path.exists(path):
    return sources.check_npz(path, sliced.name, base)[1:]
  return tuple(sources.load_source(named, base, named.test_split).shape[1:])


def _unknown(name, what, path, config, data_dir, split):
  """The `DatasetNotFoundError` of a name no allowed source has, with the known names."""
  where = []
  if config.source != "tfds":
    where.append(f"no local file {path}")
  if config.source != "npz":
    where.append("tensorflow_datasets has no dataset of that name")
  known = []
  if config.source != "tfds":
    local = sources.local_names(data_dir, split)
    known.append(f"local files in {data_dir}: {', '.join(local) or 'none'}")
  if config.source != "npz":
    known.append(f"tensorflow_datasets: {', '.join(TFDS_DATASETS)} (or any "
                 "tfds image dataset)")
  known.append(f"special: {_SPECIAL_NAMES}")
  return sources.DatasetNotFoundError(
      f"Unknown dataset {name!r} in {what} ({' and '.join(where)}, "
      f"source={config.source!r}). Known names: {'; '.join(known)}.")


def check_datasets(config, names, *, splits=("test",), what=None):
  """Checks, before any work, that each dataset of `names` can be loaded.

  Cheap, nothing is loaded: special names are parsed, local npz files are
  checked by their headers (`sources.check_npz`: readable, uint8 `images`
  `[N, H, W, C]`, N > 0), and a name without a local file must be one that
  tensorflow_datasets knows (as `config.source` allows).

  Args:
    config: `DataConfig`; its `data_dir` and `source` apply.
    names: sequence of dataset names (real or special).
    splits: the splits read of each dataset ("validation" is carved from
      "train"). Default value: `("test",)`.
    what: how messages name the list, e.g. `"--eval_datasets=mnist,x"`.
      Default value: the names, `"[mnist, x]"`.

  Raises:
    DatasetNotFoundError: a name no allowed source has; the message lists
      the known names (local files, tfds, special).
    ValueError: a malformed special name or a bad npz file (one line).
  """
  if isinstance(names, str):
    raise TypeError(f"names must be a sequence of names, not a str; got "
                    f"{names!r} (write ({names!r},)).")
  what = what or f"[{', '.join(names)}]"
  data_dir = config.data_dir or sources.default_data_dir()
  for name in names:
    special = special_datasets.parse(name)
    if special is not None and special.is_generated:
      continue
    base = _real_name(name)
    named = dataset_config(config, name)
    for split in dict.fromkeys("train" if s == "validation" else s
                               for s in splits):
      sliced = named.source_split(split)
      path = os.path.join(data_dir, f"{base}_{sliced.name}.npz")
      if config.source != "tfds" and os.path.exists(path):
        size = sources.check_npz(path, sliced.name, base)[0]
        sources.check_slice(getattr(named, f"{split}_split"), size, path)
      elif config.source == "npz" or not sources.tfds_has_builder(base):
        raise _unknown(base, what, path, config, data_dir, sliced.name)

def load_images_as(config, split, image_shape):
  """`load_images` of `config.dataset`, conformed to `image_shape`.

  Generated datasets are made at `image_shape`; real ones are loaded with
  `config`'s own `pad_to` / `to_rgb`, then padded / tiled by `conform_images`.
  """
  special = special_datasets.parse(config.dataset)
  if special is not None and special.is_generated:
    return load_images(config.replace(image_shape=tuple(image_shape)), split)
  images = load_images(config.replace(image_shape=None), split)
  return transforms.conform_images(images, image_shape, name=f"{config.dataset}/{split}")

def load_images(config, split):
  """The images of `config.dataset`'s `split`: uint8 `[N, H, W, C]`.

  `split` is `"train"`, `"test"` or `"validation"` (`config.validation_size`
  train examples drawn with `config.seed`, which `"train"` then leaves out).
  "train" and "test" are read from `config.train_split` / `test_split`.
  Real images are padded (`pad_to`) and tiled (`to_rgb`) as configured;
  "jpeg:<dataset>:<quality>" compresses and "flipped:<dataset>" mirrors
  them before that (at their own shape, so that an odd padding margin falls
  where the dataset's own images have it), "grayed:<dataset>:<factor>" grays
  them after; generated datasets
  are made at `config.image_shape` (`num_generated_images` per split, not
  carved).

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
  if special is not None and special.kind == "jpeg":
    images = special_datasets.jpeg_images(images, special.quality)
  if special is not None and special.kind == "flipped":
    images = special_datasets.flipped_images(images)
  if config.pad_to is not None:
    images = transforms.pad_images(images, config.pad_to)
  if config.to_rgb:
    images = transforms.gray_to_rgb(images)
  if special is not None and special.kind == "grayed":
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
    return sources.load_source(config, name, config.test_split)
  if split == "validation" and not size:
    raise ValueError(f"Dataset {name!r} has no 'validation' split: set "
                     "DataConfig.validation_size > 0 to carve one from "
                     "'train'.")
  train = sources.load_source(config, name, config.train_split)
  if size >= len(train):
    raise ValueError(f"DataConfig.validation_size={size} leaves no training "
                     f"examples: {name!r} has {len(train)} train examples "
                     f"(train_split={config.train_split!r}).")
  # A seeded random subset (not the last examples: some files are sorted by
  # class), both parts in their original order.
  held_out = np.zeros(len(train), bool)
  held_out[np.random.default_rng(config.seed).permutation(len(train))[:size]] = True
  return train[held_out] if split == "validation" else train[~held_out]


def load_evaluation_sets(config, others=(), *, splits=("train", "test"),
                         image_shape=None, num_examples=None, full_splits=(),
                         loaded=None):
  """The images a model is evaluated on: `{"<dataset>/<split>": uint8 images}`.

  In order: `config.dataset`'s `splits`, then the test split of each dataset
  of `others` (out-of-distribution sets, real or special; `dataset_config`:
  whole, or `config.test_split` for sets made from `config.dataset`), conformed to
  `image_shape` (`conform_images`: e.g. MNIST padded and tiled to 32x32x3).
  Each set is a seeded random subset of at most `num_examples` images
  (`transforms.subsample`), except the splits in `full_splits`.

  Args:
    config: `DataConfig` of the in-distribution dataset; `others` are loaded
      with its other settings (data_dir, source, ...).
    others: sequence of dataset names.
    splits: in-distribution splits, from `SPLITS`.
    image_shape: `(H, W, C)` of the model; default: the in-distribution
      images' own shape.
    num_examples: Python `int` or `None` (all).
    full_splits: in-distribution splits kept whole (e.g. a validation split
      a score is fitted on).
    loaded: optional `{split: images}` already in memory (e.g. the training
      images), used instead of loading them again.
  """
  if isinstance(others, str):
    raise TypeError(f"others must be a sequence of names, not a str; got "
                    f"{others!r} (write ({others!r},)).")
  loaded = dict(loaded or {})
  # Every name and file first: a typo fails before anything is loaded.
  check_datasets(config, [config.dataset],
                 splits=[s for s in splits if s not in loaded],
                 what="the in-distribution dataset")
  check_datasets(config, others,
                 what=f"the evaluation datasets [{', '.join(others)}]")
  sets = {}
  for split in splits:
    images = loaded[split] if split in loaded else load_images(config, split)
    if image_shape is not None:
      images = transforms.conform_images(images, image_shape,
                                         name=f"{config.dataset}/{split}")
    sets[f"{config.dataset}/{split}"] = (
        images if split in full_splits
        else transforms.subsample(images, num_examples))
  if image_shape is None and sets:
    image_shape = next(iter(sets.values())).shape[1:]
  for name in others:
    images = load_images_as(dataset_config(config, name), "test", image_shape)
    sets[f"{name}/test"] = transforms.subsample(images, num_examples)
  return sets
