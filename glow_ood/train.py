"""Custom training loop for Glow under a `tf.distribute` strategy.

    results = train(TrainConfig(...), workdir="runs/x")

Re-running with the same config and workdir resumes from the last checkpoint
(model, optimizer, step, EMA, counters and the data iterator's position).
Writes under `workdir`: `checkpoints/`, TensorBoard events in `train/` and
`eval/`, and `results.json` (final bits/dim per split) at the end.

The loss is the mean bits/dim of the global batch under uniform
dequantization, `-(log p(x) - D log 2^n_bits) / (D log 2)`; per-replica losses
are divided by the global batch size and the gradients summed over replicas.
The update is computed in cross-replica context and applied only if the loss,
the gradient norm and every updated value are finite; otherwise the step is
skipped and counted, and the run stops after `max_consecutive_skips`
consecutive skips, leaving the last good checkpoint in place.
"""

import contextlib
import json
import os
import time

from absl import logging
import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import data
from glow_ood import distribution
from glow_ood import ema as ema_lib
from glow_ood import evaluation
from glow_ood import model as model_lib
from glow_ood import optimizers
from glow_ood import preprocessing
from glow_ood import progress

__all__ = ["train", "ConfigurationError", "TrainingDivergedError",
           "learning_rate_at"]


class ConfigurationError(ValueError):
  """The run cannot start: bad configuration or data (raised before training)."""


class TrainingDivergedError(FloatingPointError):
  """Too many consecutive steps had a non-finite loss, gradient or update."""


def learning_rate_at(config, step):
  """Linear warm-up to `config.learning_rate` over `warmup_steps`, then constant."""
  rate = tf.constant(config.learning_rate, tf.float32)
  if not config.warmup_steps:
    return rate
  fraction = tf.cast(step + 1, tf.float32) / float(config.warmup_steps)
  return rate * tf.minimum(1., fraction)


def _check_images(images, config, name):
  if tuple(images.shape[1:]) != tuple(config.model.image_shape):
    raise ValueError(
        f"Dataset {name!r} has images of shape {tuple(images.shape[1:])} but "
        f"the model expects {tuple(config.model.image_shape)}. Set the model's "
        "image shape to the data's, or pad (--pad_to=32) / tile (--to_rgb) "
        "the images.")


def load_evaluation_sets(config, train_images):
  """`{"<dataset>/<split>": uint8 images}`: in-distribution train and test, and every
  `eval_datasets` entry's test split, at most `eval_num_examples` each (a
  seeded random subset, `data.subsample`)."""
  limit = config.eval_num_examples
  in_distribution = config.data.dataset
  sets = {f"{in_distribution}/train": data.subsample(train_images, limit),
          f"{in_distribution}/test": data.subsample(
              data.load_images(config.data, "test"), limit)}
  for name in config.eval_datasets:
    other = config.data.replace(dataset=name)
    sets[f"{name}/test"] = data.subsample(data.load_images_as(
        other, "test", config.model.image_shape), limit)
  for name, images in sets.items():
    _check_images(images, config, name)
  return sets


class _Run:
  """The state and compiled functions of one training run."""

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
        self.checkpoint, os.path.join(workdir, "checkpoints"), max_to_keep=3)
    self.iterator = None  # made by `initialize_or_restore`, at the saved step
    self._nonfinite_steps = tf.constant(
        sorted(config.nonfinite_loss_steps) or [-1], tf.int64)
    self.train_step = tf.function(self._train_step)

  def _make_iterator(self):
    """The training batches from step `self.step` on.

    The pipeline is a deterministic function of the seed (seeded shuffle,
    noise keyed by batch index), so skipping `step` batches puts a resumed
    run exactly where the interrupted one stopped.
    """
    config = self.config
    dataset = data.make_dataset(
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


def _write_scalars(writer, step, values):
  with writer.as_default(step=step):
    for name, value in values.items():
      tf.summary.scalar(name, value)


def _evaluation_weights(run):
  """Context in which the model holds its evaluation (EMA, if configured) weights."""
  if run.ema is None:
    return contextlib.nullcontext()
  return run.ema.averaged_weights()


def _evaluate(run, evaluator, eval_sets, writer, step):
  """Bits/dim of every evaluation set (EMA weights if configured)."""
  with _evaluation_weights(run):
    results = {name: float(np.mean(evaluator(images)))
               for name, images in eval_sets.items()}
  _write_scalars(writer, step, {f"bits_per_dim/{k}": v for k, v in results.items()})
  print(f"eval at step {step}: " + "  ".join(
      f"{k} {v:.4f}" for k, v in results.items()), flush=True)
  return results


def _write_samples(run, writer, step):
  """Sample grids at each temperature (EMA weights if configured)."""
  config = run.config
  with _evaluation_weights(run), writer.as_default(step=step):
    for temperature in config.sample_temperatures:
      x = run.model.sample(config.num_samples, temperature,
                           seed=[config.seed, int(step)])
      images = preprocessing.to_uint8(x, config.model.n_bits).numpy()
      tf.summary.image(f"samples/temperature_{temperature:g}",
                       evaluation.image_grid(images), step=step)


def _all_finite(variables):
  """Whether every floating-point variable holds only finite values."""
  return all(bool(tf.reduce_all(tf.math.is_finite(v)))
             for v in variables if v.dtype.is_floating)


def train(config, workdir):
  """Trains (or resumes) the run described by `config` in `workdir`.

  Args:
    config: `TrainConfig`.
    workdir: folder for checkpoints, summaries and results.

  Returns:
    dict `"<dataset>/<split>" -> mean bits/dim` of the final evaluation.

  Raises:
    TrainingDivergedError: after `config.max_consecutive_skips` non-finite
      steps in a row (the last checkpoint holds the last good state).
    ConfigurationError: bad configuration or data (a missing dataset, a batch
      not divisible by the replicas, images of the wrong shape), raised
      before anything is written to `workdir`.
  """
  try:
    strategy = distribution.make_strategy(config.strategy, config.devices)
    distribution.check_global_batch(config.batch_size, strategy)
    train_images = data.load_images(config.data, "train")
    _check_images(train_images, config, config.data.dataset)
    eval_sets = load_evaluation_sets(config, train_images)  # fails early
    tf.io.gfile.makedirs(workdir)
    run = _Run(config, workdir, strategy, train_images)
  except (ValueError, FileNotFoundError, tf.errors.InvalidArgumentError) as e:
    raise ConfigurationError(str(e)) from e
  run.initialize_or_restore()
  model_config = config.model
  print(f"Training Glow ({model_config.num_levels} levels x "
        f"{model_config.num_steps_per_level} steps, width "
        f"{model_config.hidden_width}, {model_config.coupling_scale} coupling) "
        f"on {config.data.dataset} {tuple(run.train_images.shape)} with "
        f"{strategy.num_replicas_in_sync} replica(s), global batch "
        f"{config.batch_size}, {config.optimizer} lr {config.learning_rate:g}.",
        flush=True)
  train_writer = tf.summary.create_file_writer(os.path.join(workdir, "train"))
  eval_writer = tf.summary.create_file_writer(os.path.join(workdir, "eval"))
  # Evaluation runs outside `strategy.run`, where an ActNorm traces its
  # initialization branch, which writes every replica's copy: one XLA cluster
  # cannot hold that, so with several replicas evaluation runs without XLA.
  evaluator = evaluation.BitsPerDimEvaluator(
      run.model, config.eval_batch_size,
      jit_compile=config.jit_compile and strategy.num_replicas_in_sync == 1)
  step = int(run.step.numpy())
  line = progress.ProgressLine(config.train_steps, step, config.batch_size)
  sums, count = {}, 0
  while step < config.train_steps:
    metrics = run.train_step(run.iterator)
    step = int(run.step.numpy())
    if bool(metrics["applied"]):
      for name in ("bits_per_dim", "log_prob_z", "log_det"):
        sums[name] = sums.get(name, 0.) + float(metrics[name])
      count += 1
    consecutive = int(run.consecutive_skips.numpy())
    if consecutive:
      logging.warning("Step %d skipped: non-finite loss, gradient or update "
                      "(%d in a row, %d in all).", step, consecutive,
                      int(run.num_skipped.numpy()))
      if consecutive >= config.max_consecutive_skips:
        raise TrainingDivergedError(
            f"{consecutive} consecutive training steps had a non-finite loss, "
            f"gradient or update (last at step {step}). The latest checkpoint "
            f"in {run.manager.directory} holds the last good state; lower the "
            "learning rate, add warm-up (--warmup_steps) or clip gradients "
            "(--grad_clip_norm) and re-run to resume.")
    if step % config.log_every == 0 or step == config.train_steps:
      means = {k: v / max(count, 1) for k, v in sums.items()}
      images_per_second = line(step, {"bits/dim": means.get("bits_per_dim",
                                                            float("nan"))})
      _write_scalars(train_writer, step, dict(
          {f"{k}": v for k, v in means.items()},
          learning_rate=float(metrics["learning_rate"]),
          grad_norm=float(metrics["grad_norm"]),
          images_per_second=images_per_second,
          skipped_steps=float(run.num_skipped.numpy())))
      sums, count = {}, 0
    if (step % config.checkpoint_every == 0 and consecutive == 0 and
        _all_finite(run.model.variables)):
      run.manager.save(checkpoint_number=step)
    if config.eval_every and step % config.eval_every == 0 and step < config.train_steps:
      _evaluate(run, evaluator, eval_sets, eval_writer, step)
      _write_samples(run, eval_writer, step)
      line.reset_clock(step)
  if int(run.consecutive_skips.numpy()) == 0 and _all_finite(run.model.variables):
    run.manager.save(checkpoint_number=step)
  results = _evaluate(run, evaluator, eval_sets, eval_writer, step)
  _write_samples(run, eval_writer, step)
  train_writer.flush()
  eval_writer.flush()
  with tf.io.gfile.GFile(os.path.join(workdir, "results.json"), "w") as f:
    json.dump({"step": step, "bits_per_dim": results,
               "skipped_steps": int(run.num_skipped.numpy())}, f, indent=2)
  return results

