"""Starting a training run: every check before the first write, then the state.

    started = start(config, workdir, extra_files)   # or ConfigurationError

Checks the configuration (the strategy, `mixed_precision` resolved on its
devices, the global batch), the data (loaded, of the model's image shape),
the workdir (writable; a resumed run's model and data settings unchanged:
`TrainConfig`'s `RESUME_FIELDS`, `glow_ood.data.fingerprints`) and its
checkpoints (the newest that loads); only then does the chief write
config.json (and the launcher's extra files), and the state is restored or
initialized (`glow_ood.train.state`), with its `Trainer` and an input
iterator at its step. Nothing is written before the start has succeeded.
"""

import os
from typing import Any, NamedTuple, Optional

import tensorflow.compat.v2 as tf

from glow_ood import fileio
from glow_ood import data
from glow_ood import models
from glow_ood.runs import folder as run_folder
from glow_ood import write_errors
from glow_ood.configs import serialization
from glow_ood.configs import train as train_config
from glow_ood.train import distribution
from glow_ood.train import faults
from glow_ood.train import inputs
from glow_ood.train import precision
from glow_ood.train import record
from glow_ood.train import state as state_lib
from glow_ood.train import step as step_lib
from glow_ood.runs import warm_start

__all__ = ["start", "Started", "ConfigurationError"]


class ConfigurationError(ValueError):
  """The run cannot start: bad configuration, data or workdir (raised before
  anything is written to the workdir)."""


class Started(NamedTuple):
  """A run ready to train: what `start` checked and built."""
  config: Any          # the `TrainConfig`, `mixed_precision` resolved
  strategy: Any        # its `tf.distribute.Strategy`
  state: Any           # `glow_ood.train.state.TrainState`, restored or new
  trainer: Any         # `glow_ood.train.step.Trainer` of `state`
  iterator: Any        # the input at `state.step` (`glow_ood.train.inputs`)
  eval_sets: dict      # `"<dataset>/<split>" -> uint8 images`
  history: Any         # `glow_ood.train.record.EvaluationHistory`
  fault: Optional[Any]  # tests' `faults.SelfSignal`, or `None`


def start(config, workdir, extra_files=None):
  """Checks `config`, its data and `workdir`, then builds the run's state.

  Args:
    config: `TrainConfig`; its `mixed_precision="auto"` is resolved here.
    workdir: the run folder.
    extra_files: dict `name -> text` the chief writes into `workdir` with
      config.json once the checks have passed.

  Returns:
    `Started`.

  Raises:
    ConfigurationError: bad configuration, data or workdir (see
      `glow_ood.train.loop.train`); nothing was written.
  """
  try:
    fault = faults.from_environment()   # tests only: a signal at a step
    strategy = distribution.make_strategy(config.strategy, config.devices,
                                          config.worker_timeout_seconds)
    config, choice = precision.resolve_config(
        config, strategy.extended.worker_devices)
    distribution.check_global_batch(config.batch_size, strategy)
    if distribution.is_chief(strategy):   # the one that will write it
      fileio.check_writable(workdir, "workdir")
    train_images, eval_sets = _load_data(config)
    saved = _check_resumable(config, workdir)
    state = state_lib.TrainState(config, workdir, strategy, train_images)
    found = state.find_checkpoint()
    print(_precision_line(choice, saved, found is not None), flush=True)
    # A new run's warm start; a resumed run's own checkpoint wins.
    source = (warm_start.find_source(config)
              if found is None and config.init_from else None)
    history = (record.EvaluationHistory.read(workdir, found.step if found
                                             else 0)
               if state.is_chief else record.EvaluationHistory())
    if state.is_chief:
      _start_run_folder(workdir, config, extra_files)
    state.initialize_or_restore(found, source)
    trainer = step_lib.Trainer(state)
    iterator = inputs.make_iterator(state)   # at the restored step
  except (ValueError, FileNotFoundError, tf.errors.InvalidArgumentError) as e:
    raise ConfigurationError(str(e)) from e
  print(f"Training {models.describe(config.model)} "
        f"on {config.data.dataset} {tuple(train_images.shape)} with "
        f"{strategy.num_replicas_in_sync} replica(s), global batch "
        f"{config.batch_size}, {config.optimizer} lr {config.learning_rate:g}"
        + ("" if state.is_chief else f"; this is {distribution.task_name(strategy)}"
           ", the chief writes the run folder") + ".", flush=True)
  return Started(config, strategy, state, trainer, iterator, eval_sets,
                 history, fault)


def _check_images(images, config, name):
  if tuple(images.shape[1:]) != tuple(config.model.image_shape):
    raise ValueError(
        f"Dataset {name!r} has images of shape {tuple(images.shape[1:])} but "
        f"the model expects {tuple(config.model.image_shape)}. Set the model's "
        "image shape to the data's, or pad (--pad_to=32) / tile (--to_rgb) "
        "the images.")


def _check_resumable(config, workdir):
  """A workdir's saved model / data settings must not change between runs.

  Returns the saved config's dict (`{}` for a new folder).
  """
  if not os.path.exists(os.path.join(workdir, run_folder.CONFIG_FILE)):
    return {}
  payload = fileio.read_json(
      os.path.join(workdir, run_folder.CONFIG_FILE), "run config")
  saved = payload.get("config", {})
  # Fields added since the folder was written take their defaults (a run
  # from before `data.train_split` existed trained on "train").
  completed = serialization.to_dict(serialization.from_dict(
      {"format_version": serialization.FORMAT_VERSION, "type": "TrainConfig",
       "config": saved}))["config"]
  run_folder.check_compatible(
      completed, serialization.to_dict(config)["config"],
      workdir, fields=train_config.RESUME_FIELDS,
      fix="keep the model and data settings (relaunch with "
      f"--flagfile={os.path.join(workdir, run_folder.FLAGS_FILE)}), or use a "
      "new workdir")
  for line in data.fingerprints.check_resume(payload, config.data,
                                             config.eval_datasets, workdir):
    print(line, flush=True)
  return saved


def _precision_line(choice, saved, resumed):
  """`choice.message()`, and on resume the precision config.json held before
  if it differs (a run moved to other hardware)."""
  before = saved.get("mixed_precision")
  if not resumed or before in (None, choice.value):
    return choice.message()
  return (f"{choice.message()} The steps so far ran with mixed_precision="
          f"{before}; the run continues from its checkpoint (weights in the "
          f"model's dtype) with {choice.value}, which config.json now "
          "records.")


def _start_run_folder(workdir, config, extra_files):
  """Makes `workdir` (if new) and writes its metadata; the start has succeeded."""
  fingerprints = data.fingerprints.of_run(config.data, config.eval_datasets)
  created = not os.path.exists(workdir)
  try:
    os.makedirs(workdir, exist_ok=True)
    run_folder.write_config(workdir, config, fingerprints)
    for name, text in (extra_files or {}).items():
      fileio.write_text(os.path.join(workdir, name), text)
  except OSError as e:
    if created and os.path.isdir(workdir) and not os.listdir(workdir):
      os.rmdir(workdir)
    if isinstance(e, write_errors.WriteFailedError):
      raise   # a full or read-only disk: one line of its own
    raise ValueError(f"cannot write the run folder {workdir} ({e.strerror or e}); "
                     "pass a writable workdir.") from e


def _load_data(config):
  train_images = data.load_images(config.data, "train")
  _check_images(train_images, config, config.data.dataset)
  eval_sets = data.load_evaluation_sets(  # fails early
      config.data, config.eval_datasets, image_shape=config.model.image_shape,
      num_examples=config.eval_num_examples, loaded={"train": train_images})
  for name, images in eval_sets.items():
    _check_images(images, config, name)
  return train_images, eval_sets
