"""Tests of `glow_ood.train.inputs`: the per-replica input, keyed by step.

An iterator made at step `s` yields what one made at step 0 yields after `s`
batches (a resume continues the stream exactly), and the replicas of one
process split each global batch of `make_dataset` in order.
"""

import types

import numpy as np
import tensorflow as tf

from glow_ood.data import pipeline
from glow_ood.train import distribution
from glow_ood.train import inputs
from tests.glow_ood.train.recording import TWO_CPUS
from tests.glow_ood.train.recording import needs_two_cpus
from tests.glow_ood.train.recording import tiny_config
from tests.toy_data import toy_images


def _state(config, strategy, images, step):
  """What `make_iterator` reads of a `TrainState`."""
  return types.SimpleNamespace(
      config=config, strategy=strategy, train_images=images,
      dequantization="uniform", step=tf.Variable(step, dtype=tf.int64))


def _replica_batches(strategy, iterator, count):
  """`count` batches, each as the list of its per-replica values."""
  return [[v.numpy() for v in strategy.experimental_local_results(
      next(iterator))] for _ in range(count)]


@needs_two_cpus
def test_an_iterator_at_a_step_continues_the_stream_per_replica(tmp_path):
  config = tiny_config(tmp_path, strategy="mirrored", devices=TWO_CPUS,
                       batch_size=4, seed=7)
  strategy = distribution.make_strategy(config.strategy, config.devices)
  images = toy_images(10, seed=1)   # epochs of 2.5 batches: reshuffled
  from_start = _replica_batches(
      strategy, inputs.make_iterator(_state(config, strategy, images, 0)), 7)
  resumed = _replica_batches(
      strategy, inputs.make_iterator(_state(config, strategy, images, 4)), 3)
  for want, got in zip(from_start[4:], resumed):
    assert len(got) == 2
    for a, b in zip(want, got):
      np.testing.assert_array_equal(a, b)
  # Replica r holds rows [2r, 2r + 2) of the global batch.
  expected = [b.numpy() for b in pipeline.make_dataset(
      images, 4, dequantization="uniform", shuffle=True, repeat=True,
      seed=7, drop_remainder=True, shuffle_buffer=config.data.shuffle_buffer,
      mutation_rate=config.data.mutation_rate).take(7)]
  for want, got in zip(expected, from_start):
    np.testing.assert_array_equal(np.concatenate(got), want)
  assert not np.array_equal(expected[0], expected[1])
