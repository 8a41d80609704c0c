"""The state of one training run under its strategy: build, restore, save.

    state = TrainState(config, workdir, strategy, train_images)
    state.initialize_or_restore(state.find_checkpoint())   # or a warm start
    ...
    state.save(step)                                       # ckpt-<step>

Built inside `strategy.scope()`: the model, the optimizer
(`glow_ood.train.optimizers`), the optional EMA of the weights, the step and
skip counters, float16's dynamic loss scale, the seconds of training over the
run's life, and one `tf.train.Checkpoint` of all of them in
`<workdir>/checkpoints`, written by the chief only. A new run gets its
weights from ActNorm's (the model's) data-dependent init, once, in
cross-replica context on one global batch (the same images on every worker,
so every worker gets the same values), or from another run
(`glow_ood.runs.warm_start`); a resumed run restores the newest checkpoint
that loads (`glow_ood.runs.checkpoints`), the init flags included. What updates
the state is `glow_ood.train.step`; what feeds it, `glow_ood.train.inputs`.
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
from glow_ood.train import distribution
from glow_ood.models import ema as ema_lib
from glow_ood.train import inputs
from glow_ood.train import optimizers
from glow_ood.runs import warm_start

__all__ = ["TrainState", "INITIAL_LOSS_SCALE"]

# The dynamic loss scale of float16 mixed precision starts here (the value of
# tf.keras.mixed_precision.LossScaleOptimizer); `glow_ood.train.step` moves it.
INITIAL_LOSS_SCALE = 2. ** 15


def _remove_folder(folder):
  if tf.io.gfile.exists(folder):
    tf.io.gfile.rmtree(folder)


class TrainState:
  """The variables of one training run under its strategy, and their checkpoints.

  `initialize_or_restore(find_checkpoint())` restores the newest checkpoint
  that loads, or copies a warm start's weights, or runs the model's
  data-dependent init; `save(step)` checkpoints (every worker takes part, the
  chief writes); `last_good` is `(path, step)` of the newest good checkpoint.

  Attributes:
    config: the resolved `TrainConfig` (`mixed_precision` is not `"auto"`).
    strategy: the `tf.distribute.Strategy` the variables live under.
    model, optimizer, ema: the model, its optimizer, the EMA or `None`.
    step, num_skipped, consecutive_skips, loss_scale, loss_scale_good_steps,
      train_seconds: scalar variables (checkpointed; the loss scale under
      float16 only).
    scaled_loss: whether the loss is scaled (float16).
    dequantization: what the model trains on (`inputs.dequantization_of`).
    train_images: uint8 `[N, H, W, C]`, the training set.
    is_chief: whether this worker writes the run folder.
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
    self.scaled_loss = precision == "float16"
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
          INITIAL_LOSS_SCALE if self.scaled_loss else 1., dtype=tf.float32,
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
    if self.scaled_loss:
      trackables.update(loss_scale=self.loss_scale,
                        loss_scale_good_steps=self.loss_scale_good_steps)
    self.checkpoint = tf.train.Checkpoint(**trackables)
    self.is_chief = distribution.is_chief(strategy)
    self.checkpoint_dir = os.path.join(workdir, run_folder.CHECKPOINTS_DIR)
    self.manager = None   # the chief's, made by `initialize_or_restore`
    self.last_good = None  # (path, step) of the newest good checkpoint
    # What the family trains on, for the data-dependent init and the input.
    self.dequantization = inputs.dequantization_of(self.model)

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

    Returns whether the run was initialized (a new run). The input then
    starts at `self.step` (`glow_ood.train.inputs.make_iterator`).

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
    return found is None

  def _data_init(self):
    """The model's data-dependent init (Glow: ActNorm; PixelCNN: weight norm)
    on one seeded global batch, in cross-replica context, and the EMA's reset."""
    rng = np.random.default_rng(self.config.seed)
    count = min(self.config.init_batch_size, len(self.train_images))
    images = self.train_images[rng.choice(len(self.train_images), count,
                                          replace=False)]
    if self.dequantization is None:
      x = tf.constant(images)
    else:
      x = preprocessing.dequantize(
          images, self.config.model.n_bits, self.dequantization,
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
