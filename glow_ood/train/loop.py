"""Custom training loop for Glow under a `tf.distribute` strategy.

    results = train(TrainConfig(...), workdir="runs/x")

The loop around `glow_ood.train.step`: intervals of logging, evaluation and
checkpoints. Re-running with the same config and workdir resumes from the
last checkpoint (model, optimizer, step, EMA, counters and the data
iterator's position); the model and data settings must not change
(`TrainConfig`'s `RESUME_FIELDS`). Writes under `workdir` (see
`glow_ood.run_folder`): `config.json` (the whole config, before the first
step), `checkpoints/`, TensorBoard events in `train/` and `eval/`, and
`results.json` (final bits/dim per set) at the end. The run stops after
`max_consecutive_skips` consecutive non-finite steps, leaving the last good
checkpoint in place.
"""

import os

from absl import logging
import tensorflow.compat.v2 as tf

from glow_ood import data
from glow_ood import likelihood_terms
from glow_ood import progress
from glow_ood import run_folder
from glow_ood.configs import serialization
from glow_ood.configs import train as train_config
from glow_ood.train import distribution
from glow_ood.train import step as step_lib
from glow_ood.train import summaries

__all__ = ["train", "ConfigurationError", "TrainingDivergedError"]


class ConfigurationError(ValueError):
  """The run cannot start: bad configuration or data (raised before training)."""

class TrainingDivergedError(FloatingPointError):
  """Too many consecutive steps had a non-finite loss, gradient or update."""

def _check_images(images, config, name):
  if tuple(images.shape[1:]) != tuple(config.model.image_shape):
    raise ValueError(
        f"Dataset {name!r} has images of shape {tuple(images.shape[1:])} but "
        f"the model expects {tuple(config.model.image_shape)}. Set the model's "
        "image shape to the data's, or pad (--pad_to=32) / tile (--to_rgb) "
        "the images.")

def _check_resumable(config, workdir):
  """A workdir's saved model / data settings must not change between runs."""
  if not os.path.exists(os.path.join(workdir, run_folder.CONFIG_FILE)):
    return
  saved = run_folder.read_json(os.path.join(workdir, run_folder.CONFIG_FILE),
                               "run config")
  run_folder.check_compatible(
      saved.get("config", {}), serialization.to_dict(config)["config"],
      workdir, fields=train_config.RESUME_FIELDS,
      fix="keep the model and data settings (relaunch with "
      f"--flagfile={os.path.join(workdir, run_folder.FLAGS_FILE)}), or use a "
      "new workdir")


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
    eval_sets = data.load_evaluation_sets(  # fails early
        config.data, config.eval_datasets, image_shape=config.model.image_shape,
        num_examples=config.eval_num_examples, loaded={"train": train_images})
    for name, images in eval_sets.items():
      _check_images(images, config, name)
    _check_resumable(config, workdir)
    tf.io.gfile.makedirs(workdir)
    run_folder.write_config(workdir, config)
    run = step_lib.TrainState(config, workdir, strategy, train_images)
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
  evaluator = likelihood_terms.BitsPerDimEvaluator(
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
      summaries.write_scalars(train_writer, step, dict(
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
      summaries.evaluate(run, evaluator, eval_sets, eval_writer, step)
      summaries.write_samples(run, eval_writer, step)
      line.reset_clock(step)
  if int(run.consecutive_skips.numpy()) == 0 and _all_finite(run.model.variables):
    run.manager.save(checkpoint_number=step)
  results = summaries.evaluate(run, evaluator, eval_sets, eval_writer, step)
  summaries.write_samples(run, eval_writer, step)
  train_writer.flush()
  eval_writer.flush()
  run_folder.write_json(
      os.path.join(workdir, run_folder.RESULTS_FILE),
      {"step": step, "bits_per_dim": results,
       "skipped_steps": int(run.num_skipped.numpy())})
  return results
