"""Image datasets as uint8 arrays: local `.npz` files (see ../shared/data/README.md)."""

import os

import numpy as np

__all__ = ["DEFAULT_DATA_DIR", "default_data_dir", "load_npz"]

# The shared data folder, seen from the repository root.
DEFAULT_DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), os.pardir, "shared", "data")


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
    raise FileNotFoundError(
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
