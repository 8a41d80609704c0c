"""Warm start: a new run's model weights from another run's newest good checkpoint.

    source = find_source(config)     # TrainConfig.init_from; before anything is written
    step = read_evaluation_weights(model, source.path, source.ema_decay)

The weights are the ones `glow_ood.runs.load_run` evaluates by default: the
Polyak averages (EMA) if the source run kept them, else its trained weights;
the model's other variables (ActNorm's data-dependent statistics and
"initialized" flags) come with them, so the new run skips the
data-dependent init. Nothing else is taken: the optimizer, the step, the
EMA of the new run (reset to the loaded weights) and the data start afresh.
The source's model config must equal the new run's; its data may differ
(fine-tuning a JPEG CIFAR-10 Glow on lossless CIFAR-10 is the use).
"""

import dataclasses
import os
from typing import Optional

import tensorflow.compat.v2 as tf

from glow_ood.configs import serialization
from glow_ood.configs.train import TrainConfig
from glow_ood.models import ema as ema_lib
from glow_ood.runs import checkpoints
from glow_ood.runs import folder as run_folder

__all__ = ["Source", "find_source", "read_evaluation_weights"]


@dataclasses.dataclass(frozen=True)
class Source:
  """A checkpoint to start from: its run folder, prefix path, step, and the
  source run's `ema_decay` (`None`: it kept no averages)."""
  workdir: str
  path: str
  step: int
  ema_decay: Optional[float]


def find_source(config):
  """The `Source` of `config.init_from`, checked against `config`'s model.

  Raises:
    run_folder.MissingConfigError: `init_from` is no run folder.
    ValueError: its model config differs (the message names every differing
      field), or its checkpoints are all damaged.
    FileNotFoundError: it has no checkpoint.
  """
  workdir = config.init_from
  source = run_folder.read_config(workdir, TrainConfig)
  changed = run_folder.differences(
      serialization.to_dict(source)["config"],
      serialization.to_dict(config)["config"], fields=("model",))
  if changed:
    raise ValueError(
        f"init_from={workdir} holds another model ("
        + "; ".join(f"{name}={old!r} there, {new!r} here"
                    for name, old, new in changed)
        + "): a warm start needs the same model config; use the source's "
        f"model settings (its {run_folder.CONFIG_FILE}), or leave init_from "
        "unset.")
  directory = os.path.join(workdir, run_folder.CHECKPOINTS_DIR)
  found = checkpoints.newest_loadable(directory)
  if found is None:
    raise FileNotFoundError(
        f"init_from={workdir} has no checkpoint in {directory}: train it "
        "first, or pass a run folder that has one.")
  checkpoints.report(found.notes())
  return Source(workdir=workdir, path=found.path, step=found.step,
                ema_decay=source.ema_decay)


def read_evaluation_weights(model, path, ema_decay=None):
  """Reads checkpoint `path`'s model into `model`: its averages if `ema_decay` is set.

  Args:
    model: a freshly built model of the checkpoint's model config (inside the
      strategy's scope if it has one).
    path: a training checkpoint's prefix (`.../checkpoints/ckpt-<step>`).
    ema_decay: the run's `ema_decay`: with a value, the trainable variables
      get the checkpoint's Polyak averages (what the trainer evaluates);
      `None`: the trained weights.

  Returns:
    The checkpoint's training step, Python `int`.

  Raises:
    ValueError: the checkpoint's model never ran its data-dependent init.
  """
  step = tf.Variable(0, dtype=tf.int64, trainable=False)
  trackables = dict(model=model, step=step)
  average = None
  if ema_decay:
    average = ema_lib.ExponentialMovingAverage(model.trainable_variables,
                                               ema_decay)
    trackables["ema"] = average
  tf.train.Checkpoint(**trackables).read(path).expect_partial()
  if not model.is_initialized:
    raise ValueError(f"{path} holds a model whose data-dependent init never "
                     "ran; it is not a trained run.")
  if average is not None:
    for variable, shadow in zip(model.trainable_variables, average.shadows):
      variable.assign(shadow)
  return int(step.numpy())
