"""Tests of the special OOD inputs (constant, uniform random, grayed) and their names."""

import numpy as np
import pytest

from glow_ood.data import special as sd


def test_constant_images_have_one_value():
  images = sd.constant_images(7, 3, (4, 5, 1))
  assert images.shape == (3, 4, 5, 1) and images.dtype == np.uint8
  assert np.all(images == 7)
  assert sd.constant_images(255, 0, (2, 2, 3)).shape == (0, 2, 2, 3)


@pytest.mark.parametrize("value", [-1, 256, 3.5])
def test_constant_rejects_values_outside_0_255(value):
  with pytest.raises(ValueError, match="0..255"):
    sd.constant_images(value, 1, (2, 2, 1))


def test_uniform_random_images_are_uniform_and_seeded():
  images = sd.uniform_random_images(10, (32, 32, 3), seed=1)
  assert images.shape == (10, 32, 32, 3) and images.dtype == np.uint8
  np.testing.assert_array_equal(images, sd.uniform_random_images(10, (32, 32, 3), 1))
  assert not np.array_equal(images, sd.uniform_random_images(10, (32, 32, 3), 2))
  assert images.min() == 0 and images.max() == 255
  # 30720 draws: the mean of U{0..255} is 127.5, its std 73.9 (std error 0.42).
  assert abs(images.mean() - 127.5) < 2.
  counts = np.bincount(images.ravel(), minlength=256)
  assert counts.min() > 60 and counts.max() < 190        # 120 expected per value


def test_bad_shapes_are_rejected():
  with pytest.raises(ValueError, match=r"\(H, W, C\)"):
    sd.uniform_random_images(1, (32, 32), seed=0)


def test_grayed_factor_one_is_identity_and_zero_is_grey():
  images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
  np.testing.assert_array_equal(sd.grayed_images(images, 1.), images)
  np.testing.assert_array_equal(sd.grayed_images(images, 0.), np.full_like(images, 128))


def test_grayed_half_contrast_values():
  x = np.array([0, 1, 2, 127, 128, 129, 254, 255], np.uint8)
  # floor(128 + 0.5 * (x - 128) + 1/2): halves round up.
  expected = [64, 65, 65, 128, 128, 129, 191, 192]
  np.testing.assert_array_equal(sd.grayed_images(x, 0.5), expected)
  out = sd.grayed_images(np.arange(256, dtype=np.uint8), 0.25)
  assert out.dtype == np.uint8 and out.min() == 96 and out.max() == 160
  assert np.all(np.diff(out.astype(int)) >= 0)           # order preserved


def test_grayed_rejects_floats_and_factors_outside_0_1():
  with pytest.raises(TypeError, match="uint8"):
    sd.grayed_images(np.zeros([1, 2, 2, 1], np.float32), 0.5)
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    sd.grayed_images(np.zeros([1, 2, 2, 1], np.uint8), 1.5)


@pytest.mark.parametrize("name, expected", [
    ("constant:0", sd.SpecialDataset("constant", value=0)),
    ("constant:128", sd.SpecialDataset("constant", value=128)),
    ("uniform_random", sd.SpecialDataset("uniform_random")),
    ("grayed:cifar10:0.5", sd.SpecialDataset("grayed", base="cifar10", factor=0.5)),
    ("grayed:fashion_mnist:1", sd.SpecialDataset("grayed", base="fashion_mnist",
                                                 factor=1.)),
])
def test_parse_special_names(name, expected):
  assert sd.parse(name) == expected
  assert sd.is_special(name)


@pytest.mark.parametrize("name", ["cifar10", "svhn_cropped", "constants", "my:data"])
def test_real_names_are_not_special(name):
  assert sd.parse(name) is None


@pytest.mark.parametrize("name, problem", [
    ("constant:abc", "not an integer"),
    ("constant:", "not an integer"),
    ("constant:300", r"not in 0\.\.255"),
    ("uniform_random:3", "no arguments"),
    ("grayed:cifar10", "needs a dataset and a factor"),
    ("grayed:cifar10:x", "not a number"),
    ("grayed:cifar10:2", r"not in \[0, 1\]"),
    ("grayed:constant:128:0.5", "must be a real dataset"),
])
def test_malformed_special_names_name_the_syntax(name, problem):
  with pytest.raises(ValueError, match=problem + ".*grayed:<dataset>:<factor"):
    sd.parse(name)


def test_generate():
  np.testing.assert_array_equal(
      sd.generate(sd.parse("constant:3"), 2, (2, 2, 1)), np.full([2, 2, 2, 1], 3))
  np.testing.assert_array_equal(
      sd.generate(sd.parse("uniform_random"), 2, (2, 2, 1), seed=5),
      sd.uniform_random_images(2, (2, 2, 1), seed=5))
  with pytest.raises(ValueError, match="grayed_images"):
    sd.generate(sd.parse("grayed:mnist:0.5"), 2, (2, 2, 1))


def test_is_generated():
  assert sd.is_generated("constant:0")
  assert sd.is_generated("uniform_random")
  assert not sd.is_generated("grayed:mnist:0.5")
  assert not sd.is_generated("mnist")
