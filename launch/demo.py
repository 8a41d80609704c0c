"""Builds a Glow, initializes it on real images and prints bits/dim per split.

  python launch/demo.py --dataset=cifar10_lossless --preset=cpu_small

An untrained model's bits/dim is ~8 or more; training (launch/train.py) brings
CIFAR-10 to ~3.5. This demo checks the install end to end on real data.
"""

import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

import glow_ood
from glow_ood import config as config_lib
from glow_ood import data

_DATASET = flags.DEFINE_string(
    "dataset", "cifar10_lossless", "Local dataset <name> of <name>_<split>.npz.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Folder of the .npz files (default: $GLOW_OOD_DATA_DIR or "
    "../shared/data).")
_PRESET = flags.DEFINE_enum(
    "preset", "cpu_small", sorted(config_lib.PRESETS), "Glow architecture.")
_NUM_IMAGES = flags.DEFINE_integer(
    "num_images", 256, "Images scored per split.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Batch size.", lower_bound=1)


def main(argv):
  del argv
  images = {split: data.load_npz(_DATASET.value, split, _DATA_DIR.value,
                                 limit=_NUM_IMAGES.value)[0]
            for split in ("train", "test")}
  config = glow_ood.GlowConfig.from_preset(
      _PRESET.value, image_shape=images["train"].shape[1:])
  model = glow_ood.Glow(config)
  print(f"Glow {_PRESET.value}: {config.num_levels} levels x "
        f"{config.num_steps_per_level} steps, width {config.hidden_width}, "
        f"{sum(int(np.prod(v.shape)) for v in model.trainable_variables):,} "
        f"parameters, images {config.image_shape}")
  model.initialize(model.preprocess(images["train"][:_BATCH_SIZE.value]))
  bits_per_dim = tf.function(model.bits_per_dim)
  bits_per_dim(images["train"][:_BATCH_SIZE.value])  # trace once, untimed
  for split, split_images in images.items():
    start = time.perf_counter()
    bpd = np.concatenate([
        bits_per_dim(split_images[i:i + _BATCH_SIZE.value]).numpy()
        for i in range(0, len(split_images), _BATCH_SIZE.value)])
    seconds = time.perf_counter() - start
    print(f"{_DATASET.value}/{split}: {bpd.mean():.3f} bits/dim "
          f"(untrained; {len(bpd)} images, {len(bpd) / seconds:.0f} images/s)")


if __name__ == "__main__":
  app.run(main)
