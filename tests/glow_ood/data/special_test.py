"""Tests of the special OOD inputs (constant, uniform random, grayed, JPEG, flipped) and their names."""

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
    ("jpeg:cifar10_lossless:75", sd.SpecialDataset("jpeg", base="cifar10_lossless",
                                                   quality=75)),
    ("jpeg:mnist:1", sd.SpecialDataset("jpeg", base="mnist", quality=1)),
    ("jpeg:svhn_cropped:95", sd.SpecialDataset("jpeg", base="svhn_cropped",
                                               quality=95)),
    ("flipped:fashion_mnist", sd.SpecialDataset("flipped", base="fashion_mnist")),
    ("flipped:cifar10_jpeg", sd.SpecialDataset("flipped", base="cifar10_jpeg")),
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
    ("jpeg:cifar10", "needs a dataset and a quality"),
    ("jpeg:", "needs a dataset and a quality"),
    ("jpeg:cifar10:x", "the quality 'x' is not an integer"),
    ("jpeg:cifar10:7.5", "not an integer"),
    ("jpeg:cifar10:0", r"the quality 0 is not in 1\.\.95"),
    ("jpeg:cifar10:96", r"not in 1\.\.95"),
    ("jpeg:uniform_random:75", "the jpeg dataset 'uniform_random' must be a "
                               "real dataset"),
    ("jpeg:grayed:mnist:0.5:75", "must be a real dataset"),
    ("flipped:", "needs a dataset"),
    ("flipped", "needs a dataset"),
    ("flipped:constant:0", "the flipped dataset 'constant:0' must be a real"),
    ("flipped:jpeg:mnist:75", "must be a real dataset"),
])
def test_malformed_special_names_name_the_syntax(name, problem):
  with pytest.raises(ValueError, match=problem + ".*grayed:<dataset>:<factor"
                     ".*jpeg:<dataset>:<quality in 1..95>.*flipped:<dataset>"
                     ) as info:
    sd.parse(name)
  assert "\n" not in str(info.value)


def test_generate():
  np.testing.assert_array_equal(
      sd.generate(sd.parse("constant:3"), 2, (2, 2, 1)), np.full([2, 2, 2, 1], 3))
  np.testing.assert_array_equal(
      sd.generate(sd.parse("uniform_random"), 2, (2, 2, 1), seed=5),
      sd.uniform_random_images(2, (2, 2, 1), seed=5))
  with pytest.raises(ValueError, match="grayed_images"):
    sd.generate(sd.parse("grayed:mnist:0.5"), 2, (2, 2, 1))
  with pytest.raises(ValueError, match="jpeg_images"):
    sd.generate(sd.parse("jpeg:mnist:75"), 2, (2, 2, 1))
  with pytest.raises(ValueError, match="flipped_images"):
    sd.generate(sd.parse("flipped:mnist"), 2, (2, 2, 1))


def test_is_generated():
  assert sd.is_generated("constant:0")
  assert sd.is_generated("uniform_random")
  assert not sd.is_generated("grayed:mnist:0.5")
  assert not sd.is_generated("jpeg:mnist:75")
  assert not sd.is_generated("flipped:mnist")
  assert not sd.is_generated("mnist")


def _photo_like(num, shape, seed=0):
  """Smooth colour gradients plus a little noise: images JPEG is made for."""
  rng = np.random.default_rng(seed)
  h, w, c = shape
  ramp = np.linspace(0., 1., h)[:, None] + np.linspace(0., 1., w)[None, :]
  images = (rng.uniform(30, 120, (num, 1, 1, c)) * ramp[None, :, :, None]
            + rng.uniform(0, 60, (num, 1, 1, c))
            + rng.normal(0, 8, (num, h, w, c)))
  return np.clip(np.round(images), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28, 1), (9, 13, 3)])
def test_jpeg_images_keep_shape_and_dtype_and_are_deterministic(shape):
  images = _photo_like(4, shape)
  out = sd.jpeg_images(images, 75)
  assert out.shape == images.shape and out.dtype == np.uint8
  np.testing.assert_array_equal(out, sd.jpeg_images(images, 75))
  assert not np.array_equal(out, images)          # lossy at 75
  assert np.abs(out.astype(int) - images).mean() < 10.


def test_jpeg_images_are_pillow_s_round_trip():
  import io  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  image = _photo_like(1, (16, 16, 3))[0]
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format="JPEG", quality=60,
                              subsampling="4:2:0")
  expected = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
  np.testing.assert_array_equal(sd.jpeg_images(image[None], 60)[0], expected)
  gray = _photo_like(1, (16, 16, 1))[0]
  buffer = io.BytesIO()
  Image.fromarray(gray[..., 0]).save(buffer, format="JPEG", quality=60)  # "L"
  expected = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
  np.testing.assert_array_equal(sd.jpeg_images(gray[None], 60)[0, ..., 0],
                                expected)


@pytest.mark.parametrize("channels", [3, 1])
def test_higher_jpeg_quality_is_closer_to_the_original(channels):
  images = _photo_like(20, (32, 32, channels))
  error = {q: np.abs(sd.jpeg_images(images, q).astype(int) - images).mean()
           for q in (30, 75, 95)}
  assert error[95] < error[75] < error[30], error


def test_jpeg_images_refuse_bad_inputs():
  with pytest.raises(TypeError, match="uint8"):
    sd.jpeg_images(np.zeros([1, 8, 8, 3], np.float32), 75)
  with pytest.raises(ValueError, match="C = 1 or 3"):
    sd.jpeg_images(np.zeros([1, 8, 8, 2], np.uint8), 75)
  for quality in (0, 96, 7.5):
    with pytest.raises(ValueError, match=r"int in 1\.\.95"):
      sd.jpeg_images(np.zeros([1, 8, 8, 3], np.uint8), quality)


def test_flipped_images_mirror_each_row():
  images = np.arange(2 * 3 * 4 * 2, dtype=np.uint8).reshape(2, 3, 4, 2)
  flipped = sd.flipped_images(images)
  assert flipped.shape == images.shape and flipped.dtype == np.uint8
  for j in range(4):    # column j is the original's column W - 1 - j
    np.testing.assert_array_equal(flipped[:, :, j], images[:, :, 3 - j])
  assert not np.array_equal(flipped, images)
  np.testing.assert_array_equal(sd.flipped_images(flipped), images)
  # The same values, only their places change.
  np.testing.assert_array_equal(np.sort(flipped, axis=2), np.sort(images, axis=2))
  symmetric = np.broadcast_to(np.array([1, 5, 5, 1], np.uint8)[None, None, :, None],
                              (1, 2, 4, 1))
  np.testing.assert_array_equal(sd.flipped_images(symmetric), symmetric)


def test_flipped_images_refuse_bad_inputs():
  with pytest.raises(TypeError, match="uint8"):
    sd.flipped_images(np.zeros([1, 4, 4, 1], np.float32))
  with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
    sd.flipped_images(np.zeros([4, 4, 1], np.uint8))
