"""Tests of local `.npz` loading (real files from GLOW_OOD_DATA_DIR when present)."""

import os

import numpy as np
import pytest

from glow_ood import data

DATA_DIR = data.default_data_dir()
needs_data = pytest.mark.skipif(
    not os.path.exists(os.path.join(DATA_DIR, "mnist_test.npz")),
    reason=f"real data not found in {DATA_DIR} (set GLOW_OOD_DATA_DIR to the "
           "folder holding ../shared/data's .npz files)")


@needs_data
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
