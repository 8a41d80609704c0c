"""One training step of Glow under a `tf.distribute` strategy, and the state it updates.

The loss is the mean bits/dim of the global batch under uniform
dequantization, `-(log p(x) - D log 2^n_bits) / (D log 2)`; per-replica losses
are divided by the global batch size and the gradients summed over replicas.
With `TrainConfig.l2_weight` > 0 the loss also holds the L2 penalty of
`glow_ood.train.regularization` (the `bits_per_dim` metric does not).
The update is computed in cross-replica context and applied only if the loss,
the gradient norm and every updated value are finite; otherwise the step is
skipped and counted. `train_steps(iterator, k)` runs `k` such steps in one
compiled call (a `tf.while_loop`), so the host meets the device once per call.

Mixed precision (`TrainConfig.mixed_precision`, resolved: `TrainState` refuses
`"auto"`, which `glow_ood.train.precision.resolve_config` turns into what this
hardware runs) runs the coupling networks in
bfloat16 or float16 (`glow_ood.models.glow.Glow`); with float16 the loss is scaled
by a dynamic loss scale `S` before the gradient (and the gradients by `1/S`):
a step whose loss is finite but whose gradients overflow halves `S` and is
skipped without counting towards `max_consecutive_skips`; after
`LOSS_SCALE_PERIOD` applied steps in a row `S` doubles.
"""

import hashlib
import os
import tempfile

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood.runs import checkpoints
from glow_ood import models
from glow_ood import preprocessing
from glow_ood.runs import folder as run_folder
from glow_ood import write_errors
from glow_ood.configs import families
from glow_ood.data import pipeline
from glow_ood.train import distribution
from glow_ood.models import ema as ema_lib
from glow_ood.train import optimizers
from glow_ood.train import regularization
from glow_ood.runs import warm_start

__all__ = ["TrainState", "learning_rate_at", "LOSS_SCALE_PERIOD",
           "INITIAL_LOSS_SCALE"]

# Dynamic loss scaling of float16 mixed precision (the values of
# tf.keras.mixed_precision.LossScaleOptimizer).
INITIAL_LOSS_SCALE = 2. ** 15
LOSS_SCALE_PERIOD = 2000


def _remove_folder(folder):
  if tf.io.gfile.exists(folder):
    tf.io.gfile.rmtree(folder)


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
  the optional EMA of the weights, the step and skip counters, the seconds
  of training over the run's life, and one
  `tf.train.Checkpoint` of all of them in `<workdir>/checkpoints` (written by
  the chief only, `save`). `initialize_or_restore(find_checkpoint())`
  restores the newest checkpoint that loads (`glow_ood.checkpoints`), or
  copies a warm start's weights (`glow_ood.train.warm_start`), or runs
  ActNorm's data-dependent init once, in cross-replica context, on one
  global batch (the same images on every worker, so every worker gets the
  same values);
  `train_step(iterator)` takes one global batch, computes the update in
  cross-replica context and applies it only if everything is finite;
  `train_steps(iterator, k)` runs `k` of them in one call.
  """

  def __init__(self, config, workdir, strategy, train_images):
    self.config = config
    self.strategy = strategy
    precision = config.mixed_precision
    if precision == "auto":
      raise ValueError(
          "TrainState needs a resolved mixed_precision, got 'auto'; pass "
          "glow_ood.train.precision.resolve_config(config, "
          "strategy.extended.worker_devices)[0] (train() does).")
    self._scaled_loss = precision == "float16"
    with strategy.scope():
      coupling_options = dict(
          coupling_compute_dtype=None if precision == "none" else precision,
          recompute_couplings=config.recompute_couplings) if families.of_config(
              config.model).has("coupling_precision") else {}
      self.model = models.build_model(config.model, **coupling_options)
      variables = self.model.trainable_variables
      self.optimizer = optimizers.make_optimizer(config.optimizer, variables)
      self.ema = (ema_lib.ExponentialMovingAverage(variables, config.ema_decay)
                  if config.ema_decay else None)
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
      self.num_skipped = tf.Variable(0, dtype=tf.int64, trainable=False,
                                     name="num_skipped")
      self.consecutive_skips = tf.Variable(0, dtype=tf.int64, trainable=False,
                                           name="consecutive_skips")
      self.loss_scale = tf.Variable(
          INITIAL_LOSS_SCALE if self._scaled_loss else 1., dtype=tf.float32,
          trainable=False, name="loss_scale")
      self.loss_scale_good_steps = tf.Variable(
          0, dtype=tf.int64, trainable=False, name="loss_scale_good_steps")
      # Seconds of training over the run's life (`glow_ood.train.clock`),
      # set before every save.
      self.train_seconds = tf.Variable(0., dtype=tf.float64, trainable=False,
                                       name="train_seconds")
    self.train_images = train_images
    trackables = dict(model=self.model, optimizer=self.optimizer,
                      step=self.step, num_skipped=self.num_skipped,
                      consecutive_skips=self.consecutive_skips,
                      train_seconds=self.train_seconds)
    if self.ema is not None:
      trackables["ema"] = self.ema
    if self._scaled_loss:
      trackables.update(loss_scale=self.loss_scale,
                        loss_scale_good_steps=self.loss_scale_good_steps)
    self.checkpoint = tf.train.Checkpoint(**trackables)
    self.is_chief = distribution.is_chief(strategy)
    self.checkpoint_dir = os.path.join(workdir, run_folder.CHECKPOINTS_DIR)
    self.manager = None   # the chief's, made by `initialize_or_restore`
    self.last_good = None  # (path, step) of the newest good checkpoint
    self.iterator = None  # made by `initialize_or_restore`, at the saved step
    # Fault injection: the loss of the steps numbered like the progress
    # lines (the k-th update is step k; `self.step` is k - 1 while it runs).
    self._nonfinite_steps = tf.constant(
        sorted(config.nonfinite_loss_steps) or [-1], tf.int64)
    self._train_steps = tf.function(self._train_steps_fn, autograph=False)
    # What the family trains on (`density_model`): noisy dequantized floats
    # (Glow), or the uint8 images themselves (PixelCNN, VAE).
    self._dequantization = ("uniform" if self.model.training_input ==
                            "dequantized" else None)
    self._metric_names = ("bits_per_dim",) + tuple(self.model.loss_extras)

  def train_steps(self, iterator, num_steps):
    """Runs `num_steps` training steps in one compiled call.

    Returns a dict of scalars: `bits_per_dim` and the model's
    `loss_extras` (Glow: `log_prob_z`, `log_det`; VAE: `reconstruction`,
    `kl`): the sums over the applied steps of the batch means; `applied`:
    how many steps were applied; `loss`, `grad_norm`, `learning_rate`: those
    of the last step.
    """
    return self._train_steps(iterator, tf.constant(num_steps, tf.int64))

  def train_step(self, iterator):
    """One training step (`train_steps(iterator, 1)`)."""
    return self.train_steps(iterator, 1)

  def _make_iterator(self):
    """The training batches from step `self.step` on, one slice per worker.

    The pipeline is a deterministic function of the seed (seeded shuffle,
    noise keyed by batch index), so skipping `step` batches puts a resumed
    run exactly where the interrupted one stopped. Every input pipeline (one
    per worker) builds the same stream of global batches and keeps its slice
    (`make_dataset(shard=...)`), which its local replicas split in order: the
    examples of replica `r` are the same whether the replicas live in one
    process or on several hosts.
    """
    config = self.config
    step = int(self.step.numpy())

    def dataset_fn(context):
      pipelines = context.num_input_pipelines
      local_replicas = context.num_replicas_in_sync // pipelines
      dataset = pipeline.make_dataset(
          self.train_images, config.batch_size, n_bits=config.data.n_bits,
          dequantization=self._dequantization, shuffle=True, repeat=True,
          seed=config.seed, drop_remainder=True,
          shuffle_buffer=config.data.shuffle_buffer,
          dtype=tf.as_dtype(config.model.dtype), start_batch=step,
          mutation_rate=config.data.mutation_rate,
          shard=(context.input_pipeline_id, pipelines))
      if local_replicas > 1:
        dataset = dataset.rebatch(
            context.get_per_replica_batch_size(config.batch_size))
      return dataset

    return iter(self.strategy.distribute_datasets_from_function(dataset_fn))

  def find_checkpoint(self):
    """The newest checkpoint in the run folder that loads (`None`: a new run).

    Raises `ValueError` if checkpoints are there but none loads; changes
    nothing (the chief repairs the folder in `initialize_or_restore`).
    """
    return checkpoints.newest_loadable(self.checkpoint_dir)

  def initialize_or_restore(self, found, source=None):
    """Restores `found` (from `find_checkpoint()`), else starts a new run:
    from the weights of `source` (a `warm_start.Source`, `init_from`) if
    given, else with ActNorm's data-dependent init.

    Returns whether the run was initialized (a new run).

    Every worker restores from the chief's `checkpoints/` (the run folder is
    shared); only the chief keeps a `tf.train.CheckpointManager` there, after
    making the folder consistent with `found` (`checkpoints.repair`).
    """
    notes = found.notes() if found is not None else []
    if self.is_chief:
      notes += checkpoints.repair(self.checkpoint_dir, found)
      self.manager = tf.train.CheckpointManager(
          self.checkpoint, self.checkpoint_dir, max_to_keep=3)
    else:   # a save of a killed worker of this run
      _remove_folder(self._worker_checkpoint_dir())
    checkpoints.report(notes)
    if found is not None:
      self.checkpoint.restore(found.path)
      self.last_good = (found.path, found.step)
      print(f"Resumed from {found.path} at step {int(self.step.numpy())}.",
            flush=True)
    elif source is not None:
      self._warm_start(source)
    else:
      self._data_init()
    self.iterator = self._make_iterator()   # at the restored step
    return found is None

  def _data_init(self):
    """The model's data-dependent init (Glow: ActNorm; PixelCNN: weight norm)
    on one seeded global batch, in cross-replica context, and the EMA's reset."""
    rng = np.random.default_rng(self.config.seed)
    count = min(self.config.init_batch_size, len(self.train_images))
    images = self.train_images[rng.choice(len(self.train_images), count,
                                          replace=False)]
    if self._dequantization is None:
      x = tf.constant(images)
    else:
      x = preprocessing.dequantize(
          images, self.config.model.n_bits, self._dequantization,
          seed=[self.config.seed, 0],
          dtype=tf.as_dtype(self.config.model.dtype))
    with self.strategy.scope():  # cross-replica: one global init batch
      bpd = self.model.data_init(x)
      if self.ema is not None:
        self.ema.reset()
    what = families.of_config(self.config.model).initializes
    print(f"Initialized {what} on {count} images: {float(np.mean(bpd)):.4f} "
          "bits/dim.", flush=True)

  def _warm_start(self, source):
    """The model's weights from `source` (no data-dependent init), the EMA's
    reset to them; the optimizer and the counters stay fresh."""
    with self.strategy.scope():
      step = warm_start.read_evaluation_weights(self.model, source.path,
                                                source.ema_decay)
      if self.ema is not None:
        self.ema.reset()
    weights = "its EMA weights" if source.ema_decay else "its weights"
    print(f"Initialized the model from {source.path} (step {step}, {weights}); "
          "the optimizer starts afresh.", flush=True)

  def checkpoint_variables(self):
    """Every variable a checkpoint holds: model, optimizer and EMA."""
    variables = list(self.model.variables) + list(self.optimizer.variables)
    if self.ema is not None:
      variables += list(self.ema.shadows)
    return list({id(v): v for v in variables}.values())

  def _worker_checkpoint_dir(self):
    """This worker's private checkpoint folder: one name per run and task, so
    a restarted worker removes what a killed one left (`initialize_or_restore`)."""
    key = hashlib.sha1(os.path.abspath(self.checkpoint_dir).encode()).hexdigest()
    task = distribution.task_name(self.strategy).replace(" ", "_")
    return os.path.join(tempfile.gettempdir(),
                        f"glow_ood_worker_checkpoint_{key[:12]}_{task}")

  def save(self, step):
    """Checkpoints the state as `ckpt-<step>`: the chief into the run folder;
    every other worker into a private temporary folder it then removes (all
    workers take part in a save).

    Raises:
      glow_ood.write_errors.WriteFailedError: the disk refused the save
        (full, read-only); what it left of `ckpt-<step>` is removed
        (`checkpoints.discard_failed_save`), every earlier checkpoint is as
        it was, and `last_good` still names the newest of them.
    """
    name = f"ckpt-{int(step)}"
    if self.is_chief:
      try:
        self.manager.save(checkpoint_number=step)
      except (OSError, tf.errors.OpError) as e:
        failed = write_errors.from_error(
            e, os.path.join(self.checkpoint_dir, name))
        if failed is None:
          raise
        checkpoints.discard_failed_save(self.checkpoint_dir, step)
        raise failed from e
    else:
      folder = self._worker_checkpoint_dir()
      try:
        self.checkpoint.write(os.path.join(folder, name))
      finally:
        _remove_folder(folder)
    self.last_good = (os.path.join(self.checkpoint_dir, name), int(step))

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
      terms = self.model.loss_terms(x)
      bpd = terms.bits_per_dim
      poisoned = tf.reduce_any(tf.equal(self.step + 1, self._nonfinite_steps))
      bpd = tf.where(poisoned, tf.constant(np.nan, bpd.dtype), bpd)
      loss = tf.nn.compute_average_loss(bpd, global_batch_size=config.batch_size)
      if config.l2_weight:
        # Once per step: each replica adds its share of the penalty.
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        loss += regularization.l2_penalty_bits_per_dim(
            variables, config.l2_weight, self.model.num_dims) / replicas
      scaled = loss * self.loss_scale if self._scaled_loss else loss
    grads = tape.gradient(scaled, variables)
    grads = [tf.zeros_like(v) if g is None else g
             for g, v in zip(grads, variables)]
    if self._scaled_loss:
      grads = [g / self.loss_scale for g in grads]
    sums = {"bits_per_dim": tf.reduce_sum(bpd)}
    sums.update({name: tf.reduce_sum(terms.extras[name])
                 for name in self.model.loss_extras})
    return loss, grads, sums

  def _train_steps_fn(self, iterator, num_steps):
    zero = tf.constant(0., tf.float32)
    names = self._metric_names

    def body(i, applied, sums, last):
      metrics = self._one_step(iterator)
      # A skipped step adds nothing (0 * NaN would be NaN).
      sums = tuple(total + tf.where(metrics["applied"],
                                    tf.cast(metrics[n], tf.float32), 0.)
                   for total, n in zip(sums, names))
      last = tuple(tf.cast(metrics[n], tf.float32)
                   for n in ("loss", "grad_norm", "learning_rate"))
      return (i + 1, applied + tf.cast(metrics["applied"], tf.int64), sums,
              last)

    _, applied, sums, last = tf.while_loop(
        lambda i, *_: i < num_steps, body,
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64),
         (zero,) * len(names), (zero,) * 3), parallel_iterations=1)
    result = dict(zip(names, sums))
    result.update(zip(("loss", "grad_norm", "learning_rate"), last))
    result["applied"] = applied
    return result

  def _one_step(self, iterator):
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
    finite_loss = tf.math.is_finite(loss)
    finite = tf.logical_and(finite_loss, tf.math.is_finite(grad_norm))
    for value in update[0]:
      finite = tf.logical_and(finite,
                              tf.reduce_all(tf.math.is_finite(value)))

    def apply():
      ops = [self.optimizer.assign(*update), self.consecutive_skips.assign(0)]
      if self._scaled_loss:
        good = self.loss_scale_good_steps + 1
        grow = good >= LOSS_SCALE_PERIOD
        ops += [self.loss_scale.assign(tf.where(grow, 2. * self.loss_scale,
                                                self.loss_scale)),
                self.loss_scale_good_steps.assign(
                    tf.where(grow, tf.zeros_like(good), good))]
      with tf.control_dependencies(ops):
        if self.ema is not None:
          with tf.control_dependencies([self.ema.update()]):
            return tf.constant(True)
        return tf.constant(True)

    def skip():
      ops = [self.num_skipped.assign_add(1)]
      if self._scaled_loss:
        # Finite loss, overflowing gradients: the scale is too large. Halve
        # it; this skip does not count towards max_consecutive_skips.
        overflow = tf.logical_and(finite_loss, self.loss_scale > 1.)
        ops += [self.loss_scale.assign(tf.where(
                    overflow, self.loss_scale / 2., self.loss_scale)),
                self.loss_scale_good_steps.assign(0),
                self.consecutive_skips.assign_add(
                    tf.where(overflow, tf.constant(0, tf.int64), 1))]
      else:
        ops.append(self.consecutive_skips.assign_add(1))
      with tf.control_dependencies(ops):
        return tf.constant(False)

    applied = tf.cond(finite, apply, skip)
    with tf.control_dependencies([applied]):
      step_update = self.step.assign_add(1)
    with tf.control_dependencies([step_update]):
      applied = tf.identity(applied)
    metrics.update(loss=loss, grad_norm=grad_norm, learning_rate=learning_rate,
                   applied=applied)
    return metrics
