"""Toy image datasets in the format of ../shared/data, and the tiny configs trained on them.

One place for what many tests share: `write_dataset` writes blocky 8x8x1
images as `<name>_{train,test}.npz`; `tiny_train_config` trains a 2-level,
1-step, width-8 Glow on them in seconds on one CPU.
"""

import os

import numpy as np

from glow_ood import configs

IMAGE_SHAPE = (8, 8, 1)


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


def tiny_glow_config(**overrides):
  """A 2-level, 1-step, width-8 Glow on 8x8x1 images (model seed 3)."""
  values = dict(image_shape=IMAGE_SHAPE, num_levels=2, num_steps_per_level=1,
                hidden_width=8, seed=3)
  values.update(overrides)
  return configs.GlowConfig(**values)


def tiny_train_config(data_dir, **overrides):
  """Trains `tiny_glow_config()` for 4 steps on the "toy" files in `data_dir`, one CPU."""
  values = dict(
      model=tiny_glow_config(),
      data=configs.DataConfig(dataset="toy", data_dir=str(data_dir),
                              source="npz", shuffle_buffer=64),
      batch_size=8, init_batch_size=32, eval_batch_size=32, train_steps=4,
      learning_rate=3e-3, log_every=1, eval_every=0, checkpoint_every=1000,
      sample_temperatures=(1.0,), num_samples=4, strategy="one_device",
      devices=("/cpu:0",), seed=5)
  values.update(overrides)
  return configs.TrainConfig(**values)
