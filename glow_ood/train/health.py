"""Whether the state about to be checkpointed is good, and the running loss it is judged by.

A step whose loss, gradient norm or update is non-finite is never applied
(`glow_ood.train.step`). That is not enough: an update can be finite and still
wreck the model (with a learning rate of 1e6 the weights jump to ~1e6, every
later loss is NaN), so the state reached by the last applied step is checked
before it is saved. A state is **good** when

  * every floating-point variable (weights, optimizer slots, EMA) is finite;
  * the bits/dim of the state itself on a fixed probe batch (training images,
    bin-centre dequantization) is finite and at most
    `recent + max_loss_increase`, where `recent` is the mean training bits/dim
    of the applied steps since the previous check (the loss this run was just
    reaching; the probe uses the weights the checkpoint would hold).

Only good states are saved, so the newest checkpoint is always a state to
resume from.
"""

import math

import numpy as np
import tensorflow.compat.v2 as tf

__all__ = ["RunningLoss", "StateCheck"]


class RunningLoss:
  """Mean training bits/dim of the applied steps since the last `take()`."""

  def __init__(self):
    self._sum, self._count, self._last = 0., 0, None

  def add(self, bits_per_dim, count=1):
    """Adds `count` steps whose mean training bits/dim was `bits_per_dim`."""
    self._sum += float(bits_per_dim) * count
    self._count += count

  def take(self):
    """The mean since the last call (the previous mean if no step was applied since)."""
    if self._count:
      self._last = self._sum / self._count
    self._sum, self._count = 0., 0
    return self._last


class StateCheck:
  """`check(recent)` -> `(good, probe_bits_per_dim, reason)` for the model's current state.

  Args:
    variables: every variable a checkpoint saves (model, optimizer, EMA).
    evaluator: uint8 images -> per-example bits/dim of the current weights
      (`glow_ood.likelihood_terms.BitsPerDimEvaluator`).
    probe_images: uint8 `[N, H, W, C]`, the same on every worker.
    max_loss_increase: Python `float`, bits/dim the probe may lie above the
      recent training loss.
  """

  def __init__(self, variables, evaluator, probe_images, max_loss_increase):
    self._variables = [v for v in variables if v.dtype.is_floating]
    self._evaluator = evaluator
    self._probe = np.asarray(probe_images)
    self.max_loss_increase = float(max_loss_increase)

  def _all_finite(self):
    """One host sync for all variables."""
    return bool(tf.reduce_all(tf.stack(
        [tf.reduce_all(tf.math.is_finite(v)) for v in self._variables])))

  def check(self, recent):
    """Whether the current state is good; `recent` is the running training bits/dim (or `None`)."""
    if not self._all_finite():
      return False, float("nan"), "some weights or optimizer slots are not finite"
    probe = float(np.mean(self._evaluator(self._probe)))
    if not math.isfinite(probe):
      return False, probe, (f"its bits/dim on {len(self._probe)} training images "
                            "is not finite")
    if recent is not None and probe > recent + self.max_loss_increase:
      return False, probe, (
          f"its bits/dim on {len(self._probe)} training images is {probe:.4g}, "
          f"more than {self.max_loss_increase:g} above the recent training "
          f"loss {recent:.4f}")
    return True, probe, ""
