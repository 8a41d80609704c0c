"""Where images come from: local `<name>_<split>.npz` files or tensorflow_datasets.

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
ways to provide it. A split may be a slice, `"test[:9000]"`
(`glow_ood.configs.split_names`): the npz source slices the file's arrays,
tfds reads the slice itself.
"""

import os
import zipfile
import zlib

from absl import logging
import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood.configs import split_names

__all__ = ["DEFAULT_DATA_DIR", "DatasetNotFoundError", "default_data_dir",
           "load_npz", "check_npz", "check_images_array", "local_names",
           "tfds_has_builder", "check_slice", "load_source"]

# The shared data folder, seen from the repository root.
DEFAULT_DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), os.pardir, "shared", "data")

_TFDS_DEFAULT_DIR = "tfds's default ($TFDS_DATA_DIR or ~/tensorflow_datasets)"

class DatasetNotFoundError(FileNotFoundError):
  """No allowed source (local npz file, tensorflow_datasets) has the dataset."""

def default_data_dir():
  """`$GLOW_OOD_DATA_DIR`, else `../shared/data` beside the repository."""
  return os.path.normpath(os.environ.get("GLOW_OOD_DATA_DIR", DEFAULT_DATA_DIR))

_SCHEMA = ("uint8 'images' [N, H, W, C] and int64 'labels' [N], saved with "
           "numpy.savez_compressed (the format of the data folder's README)")

# What np.load and reading an array of a truncated or corrupt file raise.
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
               KeyError)


class _NpzError(ValueError):
  """A one-line problem of an npz file (a `ValueError`)."""


def _unreadable(path, error):
  reason = str(error).splitlines()[0] if str(error).strip() else type(error).__name__
  if "pickled" in reason:
    reason = "not a zip archive"
  return _NpzError(
      f"{path} is not a readable npz file ({type(error).__name__}: {reason}; "
      "truncated or corrupt, e.g. a copy that did not finish?): copy it again "
      f"or rewrite it with {_SCHEMA}.")


def check_images_array(path, dtype, shape, split=None, name=None):
  """Raises a one-line `ValueError` unless `dtype` / `shape` are those of uint8 NHWC images.

  Args:
    path: the file, for the message.
    dtype: `numpy.dtype` of its `images`.
    shape: their shape.
    split, name: the split and dataset, for the message on zero images.
  """
  shape = tuple(int(d) for d in shape)
  if np.dtype(dtype) != np.uint8:
    raise _NpzError(
        f"{path}: 'images' are {np.dtype(dtype)}, not uint8; convert them "
        "(images.astype(np.uint8) for values in 0..255, or "
        "np.round(255 * images).astype(np.uint8) for floats in [0, 1]) and "
        "save the file again.")
  if len(shape) != 4:
    hint = (" (grayscale [N, H, W] needs a channel axis: images[..., None])"
            if len(shape) == 3 else "")
    raise _NpzError(f"{path}: 'images' have shape {shape}, not [N, H, W, C]"
                    f"{hint}; reshape them and save the file again.")
  if min(shape[1:]) < 1:
    raise _NpzError(f"{path}: 'images' have shape {shape}; every image "
                    "needs H, W, C >= 1.")
  if shape[0] == 0:
    what = (f"split {split!r} of {name!r}" if split and name
            else "this split")
    raise _NpzError(f"{what} has no images ({path} holds 0 of shape "
                    f"{shape[1:]}); write at least one image into it, or "
                    "use another dataset.")


def check_npz(path, split=None, name=None):
  """Checks `path` is an npz file of uint8 NHWC `images`, reading headers only.

  Cheap (the arrays are not decompressed): for checking every dataset of a
  command before any work. Corruption inside the compressed data shows only
  when `load_npz` reads it.

  Returns:
    The shape `(N, H, W, C)` of its `images`.

  Raises:
    ValueError: one line naming the file, the problem and the fix.
  """
  if os.path.isdir(path):
    raise _NpzError(f"{path} is a folder, not an npz file; move it away.")
  try:
    with zipfile.ZipFile(path) as archive:
      members = archive.namelist()
      if "images.npy" not in members:
        raise _no_images_error(path, sorted(
            m[:-4] if m.endswith(".npy") else m for m in members))
      with archive.open("images.npy") as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
  except _NpzError:
    raise
  except _UNREADABLE as e:
    raise _unreadable(path, e) from e
  check_images_array(path, dtype, shape, split, name)
  return tuple(int(d) for d in shape)


def _no_images_error(path, keys):
  return _NpzError(f"{path} has no 'images' array (it holds {keys or 'none'});"
                   f" the npz files need {_SCHEMA}.")


def load_npz(name, split, data_dir=None, limit=None):
  """Loads `<data_dir>/<name>_<split>.npz` -> (`images` uint8 NHWC, `labels` int64).

  Args:
    name: dataset name, e.g. `"cifar10_lossless"`, `"fashion_mnist"`.
    split: `"train"` or `"test"`.
    data_dir: folder of the files. Default value: `default_data_dir()`.
    limit: optional maximum number of examples (the first ones).

  Raises:
    DatasetNotFoundError: the file does not exist.
    ValueError: one line naming the file, for a truncated or corrupt file, no
      `images` array, images not uint8 or not `[N, H, W, C]`, or no images.
  """
  data_dir = data_dir or default_data_dir()
  path = os.path.join(data_dir, f"{name}_{split}.npz")
  if not os.path.exists(path):
    raise DatasetNotFoundError(
        f"No local file for dataset {name!r} split {split!r}: {path} does not "
        "exist. Point --data_dir (or GLOW_OOD_DATA_DIR) at a folder of "
        "<name>_<split>.npz files with uint8 'images' [N, H, W, C] and "
        "'labels' [N].")
  check_npz(path, split, name)   # the archive, its keys and the header
  try:
    with np.load(path, allow_pickle=False) as data:
      images = data["images"][:limit]
      labels = data["labels"][:limit] if "labels" in data else None
  except _UNREADABLE as e:   # e.g. a CRC error inside the compressed data
    raise _unreadable(path, e) from e
  return images, labels


def local_names(data_dir=None, split=None):
  """Sorted names `<name>` of the `<name>_<split>.npz` files in `data_dir` (any split if `None`)."""
  data_dir = data_dir or default_data_dir()
  try:
    files = os.listdir(data_dir)
  except OSError:
    return []
  names = set()
  for file in files:
    stem, extension = os.path.splitext(file)
    name, _, file_split = stem.rpartition("_")
    if extension == ".npz" and name and (
        file_split == split if split else file_split in ("train", "test")):
      names.add(name)
  return sorted(names)


def tfds_has_builder(name):
  """True if tensorflow_datasets (installed) has a dataset named `name`; no data is read."""
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError:
    return False
  try:
    tfds.builder_cls(name)
  except Exception:  # pylint: disable=broad-except
    return False
  return True


def check_slice(split, size, path):
  """Raises a one-line `ValueError` if the split text `split` takes none of `size` images."""
  sliced = split_names.parse_split(split, "split")
  if not len(range(size)[sliced.start:sliced.stop]):
    raise _NpzError(
        f"split {split!r} selects none of the {size} images of {path}; "
        f"choose start:stop within 0..{size} (DataConfig.train_split / "
        "test_split, --train_split / --test_split).")


def load_source(config, name, split):
  """uint8 `[N, H, W, C]` of a source split of `name`, from npz or tfds.

  Args:
    config: `DataConfig` (`data_dir`, `source`, tfds settings).
    name: a real dataset name.
    split: a source split, `"train"`, `"test"` or a slice of one such as
      `"test[:9000]"` (`glow_ood.configs.split_names`): from npz the
      file `<name>_<split name>.npz`, sliced; from tfds the string as is.
  """
  sliced = split_names.parse_split(split, "split")
  data_dir = config.data_dir or default_data_dir()
  path = os.path.join(data_dir, f"{name}_{sliced.name}.npz")
  if config.source in ("auto", "npz") and os.path.exists(path):
    images, _ = load_npz(name, sliced.name, data_dir)
    check_slice(split, len(images), path)
    images = sliced.take(images)
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
      if not len(images):
        raise ValueError(
            f"split {split!r} of {name!r} has no images (tensorflow_datasets, "
            f"data_dir={config.tfds_data_dir or _TFDS_DEFAULT_DIR}); prepare "
            "it again or use another dataset.")
      return images
  npz_problem = ("not tried (source='tfds')" if config.source == "tfds"
                 else "the file does not exist")
  local = ", ".join(local_names(data_dir, sliced.name)) or "none"
  raise DatasetNotFoundError(
      f"Dataset {name!r} split {split!r} not found (source="
      f"{config.source!r}). Provide it one of two ways:\n"
      f"  1. a local file {path} ({npz_problem}): uint8 'images' [N, H, W, C] "
      "and int64 'labels' [N], written with `numpy.savez_compressed(path, "
      "images=..., labels=...)`; pass its folder as --data_dir "
      f"(DataConfig.data_dir, or $GLOW_OOD_DATA_DIR); local datasets in "
      f"{data_dir}: {local}.\n"
      f"  2. tensorflow_datasets {name!r} in data_dir="
      f"{config.tfds_data_dir or _TFDS_DEFAULT_DIR} ({tfds_problem}): "
      + ("only a local file can provide this name." if unknown_to_tfds else
         "with internet access, pass --tfds_download "
         "(DataConfig.tfds_download=True); without, copy a tensorflow_datasets "
         f"folder that holds {name!r} (prepared on a machine with internet by "
         f"`python -c \"import tensorflow_datasets as tfds; tfds.load('{name}', "
         "data_dir='DIR')\"`) and pass it as --tfds_data_dir=DIR "
         "(DataConfig.tfds_data_dir).")
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
