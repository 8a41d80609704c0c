"""One training step of Glow under a `tf.distribute` strategy, and the state it updates.

The loss is the mean bits/dim of the global batch under uniform
dequantization, `-(log p(x) - D log 2^n_bits) / (D log 2)`; per-replica losses
are divided by the global batch size and the gradients summed over replicas.
The update is computed in cross-replica context and applied only if the loss,
the gradient norm and every updated value are finite; otherwise the step is
skipped and counted.
"""

import os

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import model as model_lib
from glow_ood import preprocessing
from glow_ood import run_folder
from glow_ood.data import pipeline
from glow_ood.train import ema as ema_lib
from glow_ood.train import optimizers

__all__ = ["TrainState", "learning_rate_at"]


def learning_rate_at(config, step):
  """Linear warm-up to `config.learning_rate` over `warmup_steps`, then constant."""
  rate = tf.constant(config.learning_rate, tf.float32)
  if not config.warmup_steps:
    return rate
  fraction = tf.cast(step + 1, tf.float32) / float(config.warmup_steps)
  return rate * tf.minimum(1., fraction)

class TrainState:
  """The state of one training run under its strategy, and its compiled step.

  Built inside `strategy.scope()`: the `Glow`, the optimizer (`optimizers`),
  the optional EMA of the weights, the step and skip counters, and one
  `tf.train.Checkpoint` of all of them in `<workdir>/checkpoints`.
  `initialize_or_restore()` restores the latest checkpoint or runs ActNorm's
  data-dependent init once, in cross-replica context, on one global batch;
  `train_step(iterator)` takes one global batch, computes the update in
  cross-replica context and applies it only if everything is finite.
  """

  def __init__(self, config, workdir, strategy, train_images):
    self.config = config
    self.strategy = strategy
    with strategy.scope():
      self.model = model_lib.Glow(config.model)
      variables = self.model.trainable_variables
      self.optimizer = optimizers.make_optimizer(config.optimizer, variables)
      self.ema = (ema_lib.ExponentialMovingAverage(variables, config.ema_decay)
                  if config.ema_decay else None)
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
      self.num_skipped = tf.Variable(0, dtype=tf.int64, trainable=False,
                                     name="num_skipped")
      self.consecutive_skips = tf.Variable(0, dtype=tf.int64, trainable=False,
                                           name="consecutive_skips")
    self.train_images = train_images
    trackables = dict(model=self.model, optimizer=self.optimizer,
                      step=self.step, num_skipped=self.num_skipped,
                      consecutive_skips=self.consecutive_skips)
    if self.ema is not None:
      trackables["ema"] = self.ema
    self.checkpoint = tf.train.Checkpoint(**trackables)
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, os.path.join(workdir, run_folder.CHECKPOINTS_DIR), max_to_keep=3)
    self.iterator = None  # made by `initialize_or_restore`, at the saved step
    self._nonfinite_steps = tf.constant(
        sorted(config.nonfinite_loss_steps) or [-1], tf.int64)
    self.train_step = tf.function(self._train_step, autograph=False)

  def _make_iterator(self):
    """The training batches from step `self.step` on.

    The pipeline is a deterministic function of the seed (seeded shuffle,
    noise keyed by batch index), so skipping `step` batches puts a resumed
    run exactly where the interrupted one stopped.
    """
    config = self.config
    dataset = pipeline.make_dataset(
        self.train_images, config.batch_size, n_bits=config.data.n_bits,
        dequantization="uniform", shuffle=True, repeat=True,
        seed=config.seed, drop_remainder=True,
        shuffle_buffer=config.data.shuffle_buffer,
        dtype=tf.as_dtype(config.model.dtype),
        start_batch=int(self.step.numpy()),
        mutation_rate=config.data.mutation_rate)
    return iter(self.strategy.experimental_distribute_dataset(dataset))

  def initialize_or_restore(self):
    """Restores the latest checkpoint, or runs ActNorm's data-dependent init."""
    restored = self.manager.restore_or_initialize()
    self.iterator = self._make_iterator()
    if restored is not None:
      print(f"Resumed from {restored} at step {int(self.step.numpy())}.",
            flush=True)
      return False
    rng = np.random.default_rng(self.config.seed)
    count = min(self.config.init_batch_size, len(self.train_images))
    images = self.train_images[rng.choice(len(self.train_images), count,
                                          replace=False)]
    x = preprocessing.dequantize(
        images, self.config.model.n_bits, "uniform", seed=[self.config.seed, 0],
        dtype=tf.as_dtype(self.config.model.dtype))
    with self.strategy.scope():  # cross-replica: one global init batch
      log_prob = self.model.initialize(x)
      if self.ema is not None:
        self.ema.reset()
    bpd = preprocessing.bits_per_dim(log_prob, self.config.model.num_dims,
                                     self.config.model.n_bits)
    print(f"Initialized ActNorm on {count} images: {float(np.mean(bpd)):.4f} "
          "bits/dim.", flush=True)
    return True

  def _replica_fn(self, x):
    """`_replica_step`, XLA-compiled if `config.jit_compile` (the update is
    applied in cross-replica context, outside the compiled function)."""
    if not self.config.jit_compile:
      return self._replica_step(x)
    # A new compiled function for every replica (traced inside `strategy.run`):
    # one function shared by the replicas runs on the first replica's device
    # and cannot read the other replicas' variables.
    return tf.function(self._replica_step, jit_compile=True)(x)

  def _replica_step(self, x):
    config = self.config
    variables = self.model.trainable_variables
    with tf.GradientTape() as tape:
      terms = self.model.decompose(x)
      bpd = preprocessing.bits_per_dim(terms.log_prob, config.model.num_dims,
                                       config.model.n_bits)
      poisoned = tf.reduce_any(tf.equal(self.step, self._nonfinite_steps))
      bpd = tf.where(poisoned, tf.constant(np.nan, bpd.dtype), bpd)
      loss = tf.nn.compute_average_loss(bpd, global_batch_size=config.batch_size)
    grads = tape.gradient(loss, variables)
    grads = [tf.zeros_like(v) if g is None else g
             for g, v in zip(grads, variables)]
    sums = {"bits_per_dim": tf.reduce_sum(bpd),
            "log_prob_z": tf.reduce_sum(terms.log_prob_z),
            "log_det": tf.reduce_sum(terms.log_det)}
    return loss, grads, sums

  def _train_step(self, iterator):
    config = self.config
    strategy = self.strategy
    x = next(iterator)
    loss, grads, sums = strategy.run(self._replica_fn, args=(x,))
    reduce = lambda v: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
    loss = reduce(loss)
    grads = [reduce(g) for g in grads]
    metrics = {k: reduce(v) / config.batch_size for k, v in sums.items()}
    grad_norm = tf.linalg.global_norm(grads)
    if config.grad_clip_norm is not None:
      grads, _ = tf.clip_by_global_norm(grads, config.grad_clip_norm,
                                        use_norm=grad_norm)
    learning_rate = learning_rate_at(config, self.step)
    update = self.optimizer.updates(grads, learning_rate)
    finite = tf.logical_and(tf.math.is_finite(loss), tf.math.is_finite(grad_norm))
    for value in update[0]:
      finite = tf.logical_and(finite,
                              tf.reduce_all(tf.math.is_finite(value)))

    def apply():
      with tf.control_dependencies([self.optimizer.assign(*update),
                                    self.consecutive_skips.assign(0)]):
        if self.ema is not None:
          with tf.control_dependencies([self.ema.update()]):
            return tf.constant(True)
        return tf.constant(True)

    def skip():
      with tf.control_dependencies([self.num_skipped.assign_add(1),
                                    self.consecutive_skips.assign_add(1)]):
        return tf.constant(False)

    applied = tf.cond(finite, apply, skip)
    with tf.control_dependencies([applied]):
      self.step.assign_add(1)
    metrics.update(loss=loss, grad_norm=grad_norm, learning_rate=learning_rate,
                   applied=applied)
    return metrics
