"""Reopening a run folder: `load_run(workdir)` rebuilds config, model and weights.

    run = load_run("runs/fashion_mnist_glow_cpu")      # latest checkpoint, EMA
    run.config.model.num_levels, run.step, run.model.bits_per_dim(images)

The config comes from the run's own `config.json` (written by
`glow_ood.train.train`, from Python or from `launch/train.py` alike), the
weights from its latest (or `step`'s) checkpoint.
"""

import dataclasses
import os

from glow_ood import models
from glow_ood.configs import TrainConfig
from glow_ood.runs import checkpoints
from glow_ood.runs import folder as run_folder
from glow_ood.runs import warm_start

__all__ = ["Run", "load_run", "checkpoint_path", "restore_model"]


@dataclasses.dataclass(frozen=True)
class Run:
  """A trained model: `name` (for tables), `workdir`, `TrainConfig`, the model
  (`Glow`, `PixelCNN` or `VAE`: `glow_ood.models`), `step`, and `weights`:
  `"ema"` (the Polyak average the run kept) or `"raw"` (the trained weights)."""
  name: str
  workdir: str
  config: TrainConfig
  model: object
  step: int
  weights: str = "raw"


def load_run(workdir, step=None, use_ema=True, name=None):
  """The run in `workdir`: its config.json and its latest (or `step`'s) checkpoint.

  Args:
    workdir: a run folder written by `glow_ood.train.train`.
    step: Python `int` or `None` (the latest checkpoint).
    use_ema: load the EMA weights if the run kept them.
    name: the run's name in tables. Default value: the folder's name.

  Raises:
    run_folder.MissingConfigError: no config.json (the message says what to do).
    FileNotFoundError: no checkpoint (of `step`).
  """
  config = run_folder.read_config(workdir, TrainConfig)
  model, trained_step = restore_model(config, workdir, step, use_ema=use_ema)
  name = name or os.path.basename(os.path.normpath(workdir))
  return Run(name=name, workdir=workdir, config=config, model=model,
             step=trained_step,
             weights="ema" if config.ema_decay and use_ema else "raw")


def checkpoint_path(workdir, step=None):
  """Path of the newest checkpoint in `<workdir>/checkpoints` that loads (or of `step`'s).

  Checkpoints are found from their own files (`glow_ood.runs.checkpoints`), so a
  missing or garbled state file or a damaged newest checkpoint does not hide
  the intact ones; what was passed over is printed (once).

  Raises:
    FileNotFoundError: no checkpoint (of `step`).
    ValueError: checkpoints are there but none loads.
  """
  directory = os.path.join(workdir, run_folder.CHECKPOINTS_DIR)
  found = checkpoints.newest_loadable(directory, step)
  if found is None:
    raise FileNotFoundError(
        f"No checkpoint in {directory}. Train first (launch/train.py "
        f"--workdir={workdir}) or pass the folder of a trained run.")
  checkpoints.report(found.notes())
  return found.path


def restore_model(config, workdir, step=None, use_ema=True):
  """The run's model (`glow_ood.models.build_model`) with a checkpoint's weights.

  Args:
    config: the run's `TrainConfig` (`load_run` reads it from config.json).
    workdir: the run folder.
    step: Python `int` or `None` (latest). Default value: `None`.
    use_ema: if the run kept an exponential moving average of the weights,
      load the averages (what the trainer evaluates). Default value: `True`.

  Returns:
    `(model, step)`: the model (data-dependent init from the checkpoint) and
    the checkpoint's training step.
  """
  path = checkpoint_path(workdir, step)
  model = models.build_model(config.model)
  trained_step = warm_start.read_evaluation_weights(
      model, path, config.ema_decay if use_ema else None)
  return model, trained_step
