"""`DataConfig`: which images a run loads and how they are shaped (no TensorFlow)."""

import dataclasses
from typing import Optional, Tuple

from glow_ood.configs import dataset_names
from glow_ood.configs import split_names
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate

__all__ = ["DataConfig", "SOURCES", "SPLITS", "TFDS_DATASETS"]

SOURCES = ("auto", "npz", "tfds")
SPLITS = ("train", "test", "validation")
# The tfds datasets of the experiments (others with an "image" feature work).
TFDS_DATASETS = ("cifar10", "svhn_cropped", "mnist", "fashion_mnist")


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Which images to load and how to shape them.

  Attributes:
    dataset: a dataset name (`TFDS_DATASETS`, a local `<name>_<split>.npz`) or
      a special name (`"constant:<0..255>"`, `"uniform_random"`,
      `"grayed:<dataset>:<factor>"`, `"jpeg:<dataset>:<quality>"`,
      `"flipped:<dataset>"`, see `glow_ood.data.special`).
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
    train_split: the source split the `"train"` images come from: a split
      name or a slice `"<name>[<start>:<stop>]"` of ints
      (`glow_ood.configs.split_names`), e.g. `"test[:9000]"` to train on
      9,000 SVHN test images where no SVHN train split is at hand.
      Default value: `"train"`.
    test_split: the source split of the in-distribution `"test"` images,
      same syntax, e.g. `"test[9000:]"`. Default value: `"test"`. Both apply
      to `dataset` and to special sets made from it ("jpeg:<dataset>:75");
      other datasets are read whole (their "train" and "test").
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
      by a uniform random one with this probability (`glow_ood.data.mutation`);
      Ren et al.'s background model for the likelihood-ratio score. Default
      value: `0.`, no mutation. Evaluation data are never mutated.
  """
  dataset: str = option(
      "cifar10", "In-distribution dataset: tfds name (cifar10, svhn_cropped, "
      "mnist, fashion_mnist) or local npz name (notmnist, cifar10_jpeg, "
      "cifar10_lossless, ...), or a special name (constant:128, "
      "uniform_random, grayed:<dataset>:<factor>, "
      "jpeg:<dataset>:<quality>, flipped:<dataset>).")
  data_dir: Optional[str] = option(
      None, "Folder of <name>_<split>.npz files (default: $GLOW_OOD_DATA_DIR "
      "or ../shared/data).")
  tfds_data_dir: Optional[str] = option(None, "tensorflow_datasets data_dir.")
  source: str = option(
      "auto", "Where datasets come from: auto (npz if present, else tfds), "
      "npz or tfds.", choices=SOURCES, flag="data_source")
  tfds_download: bool = option(
      False, "Let tensorflow_datasets download missing datasets.")
  n_bits: int = option(8, "Bits per pixel the model sees.", minimum=1,
                       maximum=8)
  pad_to: Optional[int] = option(
      None, "Zero-pad images to this square size (28 -> 32 for MNIST-like "
      "data); 0 = no padding.", minimum=1, flag_none=0)
  to_rgb: bool = option(False, "Tile grayscale images to 3 channels.")
  train_split: str = option(
      "train", "Source split of the training images: a split name or a "
      "slice name[start:stop] (ints, either may be empty), e.g. test[:9000].")
  test_split: str = option(
      "test", "Source split of the in-distribution test images: a split "
      "name or a slice name[start:stop], e.g. test[9000:].")
  validation_size: int = option(
      0, "Train examples held out as a 'validation' split (0 = none).",
      minimum=0)
  shuffle_buffer: int = option(
      100_000, "Shuffle buffer size (capped at the dataset size).", minimum=1)
  seed: int = option(0, "Seed of data order and noise.")
  image_shape: Optional[Tuple[int, int, int]] = option(
      None, "Shape every loaded image must have (generated sets: made at it).",
      minimum=1, flag=False)
  num_generated_images: int = option(
      1000, "Images per split of a generated dataset.", minimum=1,
      flag=False)
  mutation_rate: float = option(
      0., "Mutate training inputs: each value replaced by a random one with "
      "this probability (the background model of Ren et al.'s likelihood "
      "ratio; e.g. 0.2).", minimum=0., maximum=1.)

  def __post_init__(self):
    validate(self)
    if not self.dataset:
      raise ValueError("DataConfig.dataset is empty; name a dataset, e.g. "
                       "'cifar10'.")
    dataset_names.parse(self.dataset)  # Raises on malformed special names.
    for name in ("train_split", "test_split"):
      split_names.parse_split(getattr(self, name), f"DataConfig.{name}")

  def source_split(self, split):
    """The `SplitSlice` that split `"train"` or `"test"` is read from."""
    field = {"train": self.train_split, "test": self.test_split}[split]
    return split_names.parse_split(field)

  def replace(self, **changes):
    """A copy with `changes` applied (validated again)."""
    return dataclasses.replace(self, **changes)
