"""Restoring a trained Glow from a run folder written by `glow_ood.train`."""

import os

import tensorflow.compat.v2 as tf

from glow_ood import ema as ema_lib
from glow_ood import model as model_lib

__all__ = ["checkpoint_path", "restore_model"]


def checkpoint_path(workdir, step=None):
  """Path of the latest checkpoint in `<workdir>/checkpoints` (or of `step`'s)."""
  directory = os.path.join(workdir, "checkpoints")
  state = tf.train.get_checkpoint_state(directory)
  if state is None:
    raise FileNotFoundError(
        f"No checkpoint in {directory}. Train first (launch/train.py "
        f"--workdir={workdir}) or pass the folder of a trained run.")
  if step is None:
    return state.model_checkpoint_path
  path = os.path.join(directory, f"ckpt-{int(step)}")
  if path not in state.all_model_checkpoint_paths:
    kept = [p.rsplit("-", 1)[-1] for p in state.all_model_checkpoint_paths]
    raise FileNotFoundError(f"No checkpoint of step {step} in {directory}; "
                            f"kept steps: {', '.join(kept)}.")
  return path


def restore_model(config, workdir, step=None, use_ema=True):
  """A `glow_ood.Glow` with the weights of a run's checkpoint.

  Args:
    config: the run's `TrainConfig` (e.g. from
      `glow_ood.flags.train_config_from_flagfile(<workdir>/flags.cfg)`).
    workdir: the run folder.
    step: Python `int` or `None` (latest). Default value: `None`.
    use_ema: if the run kept an exponential moving average of the weights,
      load the averages (what the trainer evaluates). Default value: `True`.

  Returns:
    `(model, step)`: the model (ActNorm initialized from the checkpoint) and
    the checkpoint's training step.
  """
  path = checkpoint_path(workdir, step)
  model = model_lib.Glow(config.model)
  trained_step = tf.Variable(0, dtype=tf.int64, trainable=False)
  trackables = dict(model=model, step=trained_step)
  average = None
  if config.ema_decay and use_ema:
    average = ema_lib.ExponentialMovingAverage(model.trainable_variables,
                                               config.ema_decay)
    trackables["ema"] = average
  tf.train.Checkpoint(**trackables).read(path).expect_partial()
  if not model.is_initialized:
    raise ValueError(f"{path} holds a model whose ActNorm layers were never "
                     "initialized; it is not a trained run.")
  if average is not None:
    with average.averaged_weights():
      averaged = [v.numpy() for v in model.trainable_variables]
    for variable, value in zip(model.trainable_variables, averaged):
      variable.assign(value)
  return model, int(trained_step.numpy())
