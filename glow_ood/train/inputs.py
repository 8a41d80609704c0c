"""The training input: one slice of every global batch per replica, keyed by step.

    state.initialize_or_restore(state.find_checkpoint())
    iterator = make_iterator(state)   # batches from state.step on

The stream is a deterministic function of `config.seed` (seeded shuffle,
noise keyed by batch index: `glow_ood.data.pipeline.make_dataset`), so an
iterator made at step `s` yields the batches a run that never stopped yields
after `s` steps: a resumed run continues exactly where the interrupted one
stopped.
"""

import tensorflow.compat.v2 as tf

from glow_ood.data import pipeline

__all__ = ["dequantization_of", "make_iterator"]


def dequantization_of(model):
  """What `model` trains on (`density_model.training_input`): `"uniform"`
  (noisy dequantized floats: Glow) or `None` (the uint8 images themselves:
  PixelCNN, VAE)."""
  return "uniform" if model.training_input == "dequantized" else None


def make_iterator(state):
  """The training batches from step `state.step` on, one slice per worker.

  Every input pipeline (one per worker) builds the same stream of global
  batches (`config.batch_size`) and keeps its slice (`make_dataset(shard=...)`),
  which its local replicas split in order: the examples of replica `r` are
  the same whether the replicas live in one process or on several hosts.

  Args:
    state: a `glow_ood.train.state.TrainState` (restored or initialized):
      its `config`, `strategy`, `train_images` (uint8 `[N, H, W, C]`),
      `dequantization` (`dequantization_of(model)`) and `step` (the batches
      before it are skipped).

  Returns:
    A distributed iterator of per-replica batches.
  """
  config = state.config
  start_step = int(state.step.numpy())

  def dataset_fn(context):
    pipelines = context.num_input_pipelines
    local_replicas = context.num_replicas_in_sync // pipelines
    dataset = pipeline.make_dataset(
        state.train_images, config.batch_size, n_bits=config.data.n_bits,
        dequantization=state.dequantization, shuffle=True, repeat=True,
        seed=config.seed, drop_remainder=True,
        shuffle_buffer=config.data.shuffle_buffer,
        dtype=tf.as_dtype(config.model.dtype), start_batch=start_step,
        mutation_rate=config.data.mutation_rate,
        shard=(context.input_pipeline_id, pipelines))
    if local_replicas > 1:
      dataset = dataset.rebatch(
          context.get_per_replica_batch_size(config.batch_size))
    return dataset

  return iter(state.strategy.distribute_datasets_from_function(dataset_fn))
