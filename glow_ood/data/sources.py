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
ways to provide it.
"""

import os

from absl import logging
import numpy as np
import tensorflow.compat.v2 as tf

__all__ = ["DEFAULT_DATA_DIR", "DatasetNotFoundError", "default_data_dir",
           "load_npz", "load_source"]

# The shared data folder, seen from the repository root.
DEFAULT_DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), os.pardir, "shared", "data")

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

def load_source(config, name, split):
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
