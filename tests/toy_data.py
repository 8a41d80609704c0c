"""Toy image datasets for tests, in the format of ../shared/data (`tests/` is on sys.path)."""

import os

import numpy as np


def toy_images(num, seed, shape=(8, 8, 1)):
  """Blocky uint8 images (2x2 random blocks, upsampled, plus noise): learnable."""
  rng = np.random.default_rng(seed)
  h, w, c = shape
  blocks = rng.integers(40, 216, (num, 2, 2, c))
  images = np.repeat(np.repeat(blocks, h // 2, axis=1), w // 2, axis=2)
  images = images + rng.integers(-30, 31, (num,) + tuple(shape))
  return np.clip(images, 0, 255).astype(np.uint8)


def write_dataset(folder, name="toy", num_train=64, num_test=16,
                  shape=(8, 8, 1), seed=0):
  """`<folder>/<name>_{train,test}.npz` (uint8 `images`, int64 `labels`)."""
  os.makedirs(folder, exist_ok=True)
  for split, num in (("train", num_train), ("test", num_test)):
    np.savez(os.path.join(folder, f"{name}_{split}.npz"),
             images=toy_images(num, seed=(seed, len(split)), shape=shape),
             labels=np.zeros([num], np.int64))
