"""The compiled training step: one update of a `TrainState` per global batch.

    trainer = Trainer(state)
    metrics = trainer.train_steps(iterator, k)   # k steps, one compiled call

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
by a dynamic loss scale `S` (from `glow_ood.train.state.INITIAL_LOSS_SCALE`)
before the gradient (and the gradients by `1/S`):
a step whose loss is finite but whose gradients overflow halves `S` and is
skipped without counting towards `max_consecutive_skips`; after
`LOSS_SCALE_PERIOD` applied steps in a row `S` doubles.

The state (`glow_ood.train.state`) and the input (`glow_ood.train.inputs`)
live in their own modules; the loop around the step, in `glow_ood.train.loop`.
"""

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood.train import regularization

__all__ = ["Trainer", "learning_rate_at", "LOSS_SCALE_PERIOD"]

# Dynamic loss scaling of float16 mixed precision: the scale doubles after
# this many applied steps in a row (the value of
# tf.keras.mixed_precision.LossScaleOptimizer).
LOSS_SCALE_PERIOD = 2000


def learning_rate_at(config, step):
  """Linear warm-up to `config.learning_rate` over `warmup_steps`, then constant."""
  rate = tf.constant(config.learning_rate, tf.float32)
  if not config.warmup_steps:
    return rate
  fraction = tf.cast(step + 1, tf.float32) / float(config.warmup_steps)
  return rate * tf.minimum(1., fraction)


class Trainer:
  """The compiled step that updates a `glow_ood.train.state.TrainState`.

  `train_step(iterator)` takes one global batch from `iterator`
  (`glow_ood.train.inputs.make_iterator`), computes the update in
  cross-replica context and applies it only if everything is finite;
  `train_steps(iterator, k)` runs `k` of them in one call.
  """

  def __init__(self, state):
    self.state = state
    self.config = state.config
    # Fault injection: the loss of the steps numbered like the progress
    # lines (the k-th update is step k; `state.step` is k - 1 while it runs).
    self._nonfinite_steps = tf.constant(
        sorted(self.config.nonfinite_loss_steps) or [-1], tf.int64)
    self._train_steps = tf.function(self._train_steps_fn, autograph=False)
    self._metric_names = (("bits_per_dim",)
                          + tuple(state.model.loss_part_names))

  def train_steps(self, iterator, num_steps):
    """Runs `num_steps` training steps in one compiled call.

    Returns a dict of scalars: `bits_per_dim` and the model's
    `loss_part_names` (Glow: `log_prob_z`, `log_det`; VAE: `reconstruction`,
    `kl`): the sums over the applied steps of the batch means; `applied`:
    how many steps were applied; `loss`, `grad_norm`, `learning_rate`: those
    of the last step.
    """
    return self._train_steps(iterator, tf.constant(num_steps, tf.int64))

  def train_step(self, iterator):
    """One training step (`train_steps(iterator, 1)`)."""
    return self.train_steps(iterator, 1)

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
    config, state = self.config, self.state
    variables = state.model.trainable_variables
    with tf.GradientTape() as tape:
      terms = state.model.loss_terms(x)
      bpd = terms.bits_per_dim
      poisoned = tf.reduce_any(tf.equal(state.step + 1, self._nonfinite_steps))
      bpd = tf.where(poisoned, tf.constant(np.nan, bpd.dtype), bpd)
      loss = tf.nn.compute_average_loss(bpd, global_batch_size=config.batch_size)
      if config.l2_weight:
        # Once per step: each replica adds its share of the penalty.
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        loss += regularization.l2_penalty_bits_per_dim(
            variables, config.l2_weight, state.model.num_dims) / replicas
      scaled = loss * state.loss_scale if state.scaled_loss else loss
    grads = tape.gradient(scaled, variables)
    grads = [tf.zeros_like(v) if g is None else g
             for g, v in zip(grads, variables)]
    if state.scaled_loss:
      grads = [g / state.loss_scale for g in grads]
    sums = {"bits_per_dim": tf.reduce_sum(bpd)}
    sums.update({name: tf.reduce_sum(terms.parts[name])
                 for name in state.model.loss_part_names})
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
    config, state, strategy = self.config, self.state, self.state.strategy
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
    learning_rate = learning_rate_at(config, state.step)
    update = state.optimizer.updates(grads, learning_rate)
    finite_loss = tf.math.is_finite(loss)
    finite = tf.logical_and(finite_loss, tf.math.is_finite(grad_norm))
    for value in update[0]:
      finite = tf.logical_and(finite,
                              tf.reduce_all(tf.math.is_finite(value)))

    applied = tf.cond(finite, lambda: self._apply(update),
                      lambda: self._skip(finite_loss))
    with tf.control_dependencies([applied]):
      step_update = state.step.assign_add(1)
    with tf.control_dependencies([step_update]):
      applied = tf.identity(applied)
    metrics.update(loss=loss, grad_norm=grad_norm, learning_rate=learning_rate,
                   applied=applied)
    return metrics

  def _apply(self, update):
    """Applies `update`: the optimizer's, the EMA's, the loss scale's."""
    state = self.state
    ops = [state.optimizer.assign(*update), state.consecutive_skips.assign(0)]
    if state.scaled_loss:
      good = state.loss_scale_good_steps + 1
      grow = good >= LOSS_SCALE_PERIOD
      ops += [state.loss_scale.assign(tf.where(grow, 2. * state.loss_scale,
                                              state.loss_scale)),
              state.loss_scale_good_steps.assign(
                  tf.where(grow, tf.zeros_like(good), good))]
    with tf.control_dependencies(ops):
      if state.ema is not None:
        with tf.control_dependencies([state.ema.update()]):
          return tf.constant(True)
      return tf.constant(True)

  def _skip(self, finite_loss):
    """Skips the step: counts it; under float16 an overflow halves the scale."""
    state = self.state
    ops = [state.num_skipped.assign_add(1)]
    if state.scaled_loss:
      # Finite loss, overflowing gradients: the scale is too large. Halve
      # it; this skip does not count towards max_consecutive_skips.
      overflow = tf.logical_and(finite_loss, state.loss_scale > 1.)
      ops += [state.loss_scale.assign(tf.where(
                  overflow, state.loss_scale / 2., state.loss_scale)),
              state.loss_scale_good_steps.assign(0),
              state.consecutive_skips.assign_add(
                  tf.where(overflow, tf.constant(0, tf.int64), 1))]
    else:
      ops.append(state.consecutive_skips.assign_add(1))
    with tf.control_dependencies(ops):
      return tf.constant(False)
