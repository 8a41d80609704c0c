"""uint8 images -> batched, dequantized, seeded `tf.data` pipelines.

    train = load_images(config, "train")                   # uint8 [55000, 32, 32, 1]
    ds = make_dataset(train, 64, dequantization="uniform", shuffle=True,
                      repeat=True, seed=config.seed, drop_remainder=True)
"""

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import preprocessing
from glow_ood.data import loading
from glow_ood.data import mutation

__all__ = ["DEQUANTIZATIONS", "make_dataset", "load_dataset"]

# `None` yields the uint8 images themselves.
DEQUANTIZATIONS = preprocessing.DEQUANTIZATIONS + (None,)

def make_dataset(images, batch_size, *, n_bits=8, dequantization="uniform",
                 shuffle=False, repeat=False, seed=None, drop_remainder=False,
                 shuffle_buffer=100_000, dtype=tf.float32, start_batch=0,
                 mutation_rate=0., shard=(0, 1)):
  """uint8 images `[N, H, W, C]` -> `tf.data.Dataset` of batches `[B, H, W, C]`.

  Order of operations: shuffle (buffer `shuffle_buffer`, reshuffled each
  epoch) -> repeat -> batch -> mutate (if `mutation_rate`) -> dequantize ->
  shard (if `shard`) -> prefetch(AUTOTUNE).

  Args:
    images: uint8 `[N, H, W, C]` (e.g. from `load_images`).
    batch_size: Python `int`, `B` (the global batch under a strategy).
    n_bits: bits per pixel kept (1..8), see `preprocessing.dequantize`.
    dequantization: `"uniform"` (training: `U[0, 1)` noise in each bin),
      `"center"` (evaluation: deterministic bin centres), both yielding
      `dtype` in `[-0.5, 0.5)`; or `None`, yielding the uint8 images
      unchanged (for `Glow.bits_per_dim`, which dequantizes itself).
    shuffle: shuffle the examples. Default value: `False`.
    repeat: repeat forever. Default value: `False`.
    seed: Python `int` or `None`. With an int the shuffle order and the noise
      are reproducible: the noise of the `i`-th batch is
      `stateless_uniform(seed=[seed, i])` (`i` counts batches over all
      epochs), whatever the parallelism. `None`: fresh randomness.
    drop_remainder: drop a last batch smaller than `B` (training).
    shuffle_buffer: Python `int` >= 1, capped at `N`.
    dtype: float dtype of dequantized batches. Default value: `tf.float32`.
    start_batch: Python `int`, batches to skip first (before dequantization,
      so cheaply), e.g. to resume a seeded stream where it stopped: the noise
      stays keyed by the batch's index in the whole stream.
    mutation_rate: Python `float` in [0, 1]: each uint8 value is replaced by a
      uniform random one with this probability (`glow_ood.data.mutation.mutate`,
      keyed like the noise), before dequantization. Default value: `0.`.
    shard: `(index, count)`: yield only slice `index` of `count` equal slices
      of every batch, rows `[index * B / count, (index + 1) * B / count)`
      (`B` divisible by `count`). Every worker of a multi-worker run builds
      the same seeded stream of global batches and keeps its own slice, so
      worker `i` sees exactly the examples (and noise) replica `i` of a
      one-process run sees, keyed by step. Default value: `(0, 1)` (all).
  """
  images = np.asarray(images)
  index, count = _check_arguments(images, batch_size, n_bits, dequantization,
                                  shuffle_buffer, mutation_rate, shard)
  dataset = tf.data.Dataset.from_tensor_slices(images)
  if shuffle:
    dataset = dataset.shuffle(min(int(shuffle_buffer), max(len(images), 1)),
                              seed=seed, reshuffle_each_iteration=True)
  if repeat:
    dataset = dataset.repeat()
  dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)
  dataset = dataset.skip(int(start_batch))
  if float(mutation_rate):
    dataset = _mutated(dataset, float(mutation_rate), seed, start_batch)
  dataset = _dequantized(dataset, dequantization, n_bits, seed, start_batch,
                         dtype)
  if count > 1:
    size = int(batch_size) // count
    dataset = dataset.map(lambda x: x[index * size:(index + 1) * size])
  return dataset.prefetch(tf.data.AUTOTUNE)

def _check_arguments(images, batch_size, n_bits, dequantization,
                     shuffle_buffer, mutation_rate, shard):
  """Raises `ValueError` on an argument `make_dataset` cannot take; returns
  `shard` as `(index, count)` ints."""
  if images.dtype != np.uint8 or images.ndim != 4:
    raise ValueError(f"make_dataset needs uint8 images [N, H, W, C]; got "
                     f"{images.dtype} {images.shape}.")
  if dequantization not in DEQUANTIZATIONS:
    raise ValueError(f"Unknown dequantization {dequantization!r}; choose one "
                     f"of {DEQUANTIZATIONS}.")
  if int(batch_size) < 1 or int(shuffle_buffer) < 1:
    raise ValueError(f"batch_size and shuffle_buffer must be >= 1; got "
                     f"{batch_size} and {shuffle_buffer}.")
  if dequantization is not None:
    preprocessing.check_n_bits(n_bits)
  index, count = (int(v) for v in shard)
  if not 0 <= index < count or int(batch_size) % count:
    raise ValueError(f"shard=({index}, {count}) needs 0 <= index < count and "
                     f"a batch size divisible by count; got {batch_size}.")
  if not 0. <= float(mutation_rate) <= 1.:
    raise ValueError(f"mutation_rate must be in [0, 1]; got "
                     f"{float(mutation_rate)}.")
  return index, count

def _dequantized(dataset, dequantization, n_bits, seed, start_batch, dtype):
  """uint8 batches -> `dtype` batches in `[-0.5, 0.5)` (`None`: unchanged);
  seeded uniform noise is keyed by the batch's index in the whole stream."""
  if dequantization == "uniform" and seed is not None:
    seed = tf.constant(int(seed), tf.int64)
    dataset = tf.data.Dataset.zip(
        (dataset, tf.data.Dataset.counter(start=int(start_batch))))
    return dataset.map(
        lambda x, i: preprocessing.dequantize(
            x, n_bits, "uniform", seed=tf.stack([seed, i]), dtype=dtype),
        num_parallel_calls=tf.data.AUTOTUNE)
  if dequantization is not None:
    return dataset.map(
        lambda x: preprocessing.dequantize(x, n_bits, dequantization,
                                           dtype=dtype),
        num_parallel_calls=tf.data.AUTOTUNE)
  return dataset

def _mutated(dataset, rate, seed, start_batch):
  """Mutates each batch with a seed keyed by its index in the stream."""
  if seed is None:
    seed_pair = lambda i: tf.random.uniform([2], maxval=2**31 - 1,
                                            dtype=tf.int64)
  else:
    seed_pair = lambda i: tf.random.experimental.stateless_fold_in(
        tf.stack([tf.constant(int(seed), tf.int64), i]), 1)
  dataset = tf.data.Dataset.zip(
      (dataset, tf.data.Dataset.counter(start=int(start_batch))))
  return dataset.map(lambda x, i: mutation.mutate(x, rate, seed_pair(i)),
                     num_parallel_calls=tf.data.AUTOTUNE)

def load_dataset(config, split, batch_size, *, training):
  """`make_dataset(load_images(config, split), batch_size, ...)` from `config`.

  `training=True`: uniform noise, shuffled (`config.shuffle_buffer`), repeated
  forever, full batches only, seeded by `config.seed`. `training=False`: bin
  centres, in order, one pass, the last batch possibly smaller.
  """
  return make_dataset(
      loading.load_images(config, split), batch_size, n_bits=config.n_bits,
      dequantization="uniform" if training else "center", shuffle=training,
      repeat=training, seed=config.seed, drop_remainder=training,
      shuffle_buffer=config.shuffle_buffer,
      mutation_rate=config.mutation_rate if training else 0.)
