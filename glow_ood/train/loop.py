"""Custom training loop for Glow under a `tf.distribute` strategy.

    results = train(TrainConfig(...), workdir="runs/x")

The loop around `glow_ood.train.step`: intervals of logging, evaluation and
checkpoints. Re-running with the same config and workdir resumes from the
newest checkpoint that loads (model, optimizer, step, EMA, counters and the data
iterator's position); the model and data settings must not change
(`TrainConfig`'s `RESUME_FIELDS`). Writes under `workdir` (see
`glow_ood.run_folder`): `config.json` (the whole config, before the first
step), `checkpoints/`, TensorBoard events (the hparams and config in the
folder itself, then `train/`, `eval/`, `eval_sets/`: `glow_ood.train.summaries`), and
`results.json` (final bits/dim per set) at the end; under
`multi_worker_mirrored` only the chief writes. Only good states are saved
(`glow_ood.train.health`); the run stops as diverged after
`max_consecutive_skips` consecutive non-finite steps or when the state due
for a checkpoint is not good, and its message names the newest good
checkpoint. Nothing is written before the start has succeeded (config,
data, workdir and checkpoints checked).

The run ends at `train_steps`, or earlier on a wall budget
(`max_train_minutes`, counted over the run's life: the count is in every
checkpoint) or a plateau of the in-distribution test bits/dim
(`plateau_min_improvement` over `plateau_window_steps`), both checked at step
boundaries (`glow_ood.train.stopping`); whatever the reason, it saves a
checkpoint, runs the final evaluation, prints one line saying why it stopped
and how to continue, and writes `training.json` (`glow_ood.train.record`;
also after a divergence). `evaluations.json` keeps every evaluation, for the
plateau rule across resumes. A new run with `init_from` starts from another
run's weights instead of the data-dependent init (`glow_ood.train.warm_start`);
a resumed one restores its own checkpoint.

SIGTERM or SIGINT (a scheduler's preemption, Ctrl-C) while training stops
the run at the next step boundary (the end of the current call of the
step: up to `steps_per_call` steps later), on every worker of a cluster at
the same step; it saves a checkpoint there, writes `training.json`, skips
the final evaluation and raises `TrainingPreemptedError`; a re-run resumes
from that checkpoint exactly (`glow_ood.train.preemption`).

A write the disk refuses (full, read-only) ends the run with one
`WriteFailedError` naming the file, the errno and the checkpoint a rerun
resumes from; what was written before is intact
(`glow_ood.train.failed_writes`).

Under `multi_worker_mirrored`, a worker that dies, or sends no heartbeat for
`worker_timeout_seconds` (hung), stops the others at their next collective
with `WorkerLostError`, which names it and the newest checkpoint that a
restart of every worker resumes from (`glow_ood.train.lost_workers`).

`mixed_precision="auto"` is resolved first, on the devices of the strategy
(`glow_ood.train.precision`), and the choice printed; everything after gets
the resolved config, and config.json records what runs. It is not a resume
field: a run resumed on other hardware continues from its checkpoint (the
weights are in the model's dtype in every precision) in what auto gives
there, says so, and config.json then records the new value (TensorBoard's
`config` text keeps one entry per launch).
"""

import functools
import os
import time

from absl import logging
import tensorflow.compat.v2 as tf

from bijectors import coupling_network

from glow_ood import data
from glow_ood import likelihood_terms
from glow_ood import models
from glow_ood import progress
from glow_ood.runs import folder as run_folder
from glow_ood import write_errors
from glow_ood.configs import serialization
from glow_ood.configs import train as train_config
from glow_ood.train import clock as clock_lib
from glow_ood.train import distribution
from glow_ood.train import failed_writes
from glow_ood.train import faults
from glow_ood.train import folder_lock
from glow_ood.train import health
from glow_ood.train import hparams
from glow_ood.train import lost_workers
from glow_ood.train import precision
from glow_ood.train import preemption
from glow_ood.train import record
from glow_ood.train import step as step_lib
from glow_ood.train import stopping
from glow_ood.train import summaries
from glow_ood.runs import warm_start

__all__ = ["train", "ConfigurationError", "TrainingDivergedError",
           "TrainingPreemptedError", "WorkerLostError"]

TrainingPreemptedError = preemption.TrainingPreemptedError
WorkerLostError = lost_workers.WorkerLostError


class ConfigurationError(ValueError):
  """The run cannot start: bad configuration, data or workdir (raised before
  anything is written to the workdir)."""


class TrainingDivergedError(FloatingPointError):
  """The run stopped because it diverged; nothing bad was saved.

  Attributes:
    workdir: the run folder.
    checkpoint: path of the newest good checkpoint (the one a re-run resumes
      from), or `None` if the run diverged before its first one.
    step: that checkpoint's step, or `None`.
    learning_rate: the learning rate the message suggests: a tenth of the
      run's, at most openai/glow's 1e-3.
  """

  def __init__(self, problem, workdir, checkpoint, step, learning_rate):
    self.problem, self.workdir = problem, workdir
    self.checkpoint, self.step = checkpoint, step
    self.learning_rate = learning_rate
    super().__init__(self.describe(
        f"train(config.replace(learning_rate={learning_rate:g}), workdir)"))

  def describe(self, command):
    """The message, with `command` as the way to recover."""
    if self.checkpoint is None:
      state = (f"No good state was saved in {self.workdir} before it "
               "diverged, so a re-run starts afresh")
    else:
      state = (f"The newest good state is {self.checkpoint} (step "
               f"{self.step}), which a re-run resumes from")
    return (f"{self.problem}. {state}: lower the learning rate, add warm-up "
            "(warmup_steps) or clip gradients (grad_clip_norm), e.g. "
            f"{command}.")


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
  payload = run_folder.read_json(
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
      run_folder.write_text(os.path.join(workdir, name), text)
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


def _in_full_precision(evaluator):
  """`evaluator` run (and traced) in the model's dtype, also under mixed
  precision: evaluations, results.json and the health probe are float32
  numbers, comparable with any other run's and with `launch/evaluate.py`."""
  def evaluate(images):
    with coupling_network.full_precision():
      return evaluator(images)
  return evaluate


@folder_lock.one_writer
@failed_writes.say_what_resumes
def train(config, workdir, extra_files=None, clock=time.monotonic):
  """Trains (or resumes) the run described by `config` in `workdir`.

  Under `multi_worker_mirrored` every worker calls this with the same
  arguments (the workdir on storage every worker reads); the chief alone
  writes it, and evaluates.

  Args:
    config: `TrainConfig`; its `mixed_precision="auto"` is resolved on this
      host's devices of the strategy (`glow_ood.train.precision`).
    workdir: folder for checkpoints, summaries and results.
    extra_files: dict `name -> text` the chief writes into `workdir`
      (atomically) with config.json once the start has succeeded, e.g. the
      launcher's `flags.cfg`.
    clock: `() -> seconds`, the wall clock of the budget and of
      training.json (`glow_ood.train.clock`). Default value: `time.monotonic`.

  Returns:
    dict `"<dataset>/<split>" -> mean bits/dim` of the final evaluation
    (on the chief; `{}` on the other workers).

  Raises:
    TrainingDivergedError: after `config.max_consecutive_skips` non-finite
      steps in a row, or when the state due to be checkpointed is not good
      (`glow_ood.train.health`); its message names the newest good
      checkpoint and how to resume from it.
    ConfigurationError: bad configuration, data or workdir (a missing
      dataset, a batch not divisible by the replicas, images of the wrong
      shape, a changed model on resume, an `init_from` of another model),
      raised before anything is written to `workdir`; also data that
      differ from what config.json records (`glow_ood.data.fingerprints`).
    glow_ood.run_lock.RunFolderBusyError: another live process writes
      `workdir` (`glow_ood.train.folder_lock`).
    glow_ood.write_errors.WriteFailedError: the disk refused a write (full,
      read-only): a checkpoint, a JSON file of the folder, TensorBoard
      events; the message names the file, the errno and the checkpoint a
      rerun resumes from, and nothing half-written is left to be taken for
      good (`glow_ood.train.failed_writes`).
    TrainingPreemptedError: SIGTERM or SIGINT came while training (here or,
      under `multi_worker_mirrored`, on another worker): the state was saved
      at the next step boundary (the end of the current call of the step)
      and the final evaluation skipped; a re-run resumes from that
      checkpoint exactly (`glow_ood.train.preemption`).
    WorkerLostError: under `multi_worker_mirrored`, another worker died, or
      sent no heartbeat for `config.worker_timeout_seconds` (hung); its
      message names it and the checkpoint a restart of every worker resumes
      from (`glow_ood.train.lost_workers`).
  """
  # The handlers are put back however training ends; a lost worker of a
  # cluster becomes one `WorkerLostError`.
  with preemption.SignalWatcher() as watcher, lost_workers.reported(
      config, workdir):
    return _train(config, workdir, extra_files, clock, watcher)


def _train(config, workdir, extra_files, clock, watcher):
  """`train`'s body; `watcher` is the `preemption.SignalWatcher` it starts."""
  try:
    fault = faults.from_environment()   # tests only: a signal at a step
    strategy = distribution.make_strategy(config.strategy, config.devices,
                                          config.worker_timeout_seconds)
    config, choice = precision.resolve_config(
        config, strategy.extended.worker_devices)
    distribution.check_global_batch(config.batch_size, strategy)
    if distribution.is_chief(strategy):   # the one that will write it
      run_folder.check_writable(workdir, "workdir")
    train_images, eval_sets = _load_data(config)
    saved = _check_resumable(config, workdir)
    run = step_lib.TrainState(config, workdir, strategy, train_images)
    found = run.find_checkpoint()
    print(_precision_line(choice, saved, found is not None), flush=True)
    # A new run's warm start; a resumed run's own checkpoint wins.
    source = (warm_start.find_source(config)
              if found is None and config.init_from else None)
    history = (record.EvaluationHistory.read(workdir, found.step if found
                                             else 0)
               if run.is_chief else record.EvaluationHistory())
    if run.is_chief:
      _start_run_folder(workdir, config, extra_files)
    run.initialize_or_restore(found, source)
  except (ValueError, FileNotFoundError, tf.errors.InvalidArgumentError) as e:
    raise ConfigurationError(str(e)) from e
  print(f"Training {models.describe(config.model)} "
        f"on {config.data.dataset} {tuple(run.train_images.shape)} with "
        f"{strategy.num_replicas_in_sync} replica(s), global batch "
        f"{config.batch_size}, {config.optimizer} lr {config.learning_rate:g}"
        + ("" if run.is_chief else f"; this is {distribution.task_name(strategy)}"
           ", the chief writes the run folder") + ".", flush=True)
  # Only the chief writes the run folder.
  writers = summaries.RunWriters(workdir, enabled=run.is_chief)
  train_writer, eval_writer = writers.train, writers.eval
  hparams.write_run_config(writers.root, config, int(run.step.numpy()))
  # Evaluation runs outside `strategy.run`, where an ActNorm traces its
  # initialization branch, which writes every replica's copy: one XLA cluster
  # cannot hold that, so with several replicas evaluation runs without XLA.
  evaluator = _in_full_precision(likelihood_terms.BitsPerDimEvaluator(
      run.model, config.eval_batch_size,
      jit_compile=config.jit_compile and strategy.num_replicas_in_sync == 1))
  # A Glow's evaluation sets are scored with their decomposition (log p(z),
  # log|det|, for TensorBoard) in the same pass, as launch/evaluate.py does.
  scorer = (_in_full_precision(likelihood_terms.ModelScorer(
      run.model, config.eval_batch_size,
      jit_compile=config.jit_compile and strategy.num_replicas_in_sync == 1))
            if "decomposition" in run.model.extras else None)
  probe = run.train_images[:min(len(run.train_images), config.eval_batch_size,
                                256)]
  health_check = health.StateCheck(run.checkpoint_variables(), evaluator,
                                   probe, config.max_loss_increase)
  recent = health.RunningLoss()

  def finish(stop, final=None):
    """Writes training.json (the chief)."""
    if run.is_chief:
      record.write_training_record(
          workdir, stop, history, final, train_seconds=run_clock.seconds(),
          images_per_second=run_clock.images_per_second(),
          in_distribution=rules.in_distribution)

  def diverged(problem):
    path, good_step = run.last_good or (None, None)
    error = TrainingDivergedError(problem, workdir, path, good_step,
                                  min(config.learning_rate / 10, 1e-3))
    finish(stopping.Stop(stopping.DIVERGED, int(run.step.numpy()), str(error)))
    return error

  def preempted(request, step):
    """The error of a run stopped by a signal at `step` (its state saved)."""
    path, _ = run.last_good
    error = TrainingPreemptedError(request, step, config.train_steps, path)
    finish(stopping.Stop(stopping.PREEMPTED, step, str(error)))
    writers.flush()
    return error

  def save_if_good(step):
    good, probe_bpd, reason = health_check.check(recent.take())
    if not good:
      raise diverged(f"The state after step {step} is not good: {reason}; it "
                     "was not saved")
    run.train_seconds.assign(run_clock.seconds())
    run.save(step)
    # The events of every step up to the newest checkpoint are on disk, however
    # the process ends later (kill -9, a lost worker): a resume rewrites the rest.
    writers.flush()
    logging.info("Saved the state after step %d (%.4f bits/dim on the probe "
                 "batch).", step, probe_bpd)

  def log(step, metrics):
    """The progress line and the train/ summaries of the steps since the last."""
    nonlocal sums, count, logged
    means = {k: v / max(count, 1) for k, v in sums.items()}
    images_per_second = line(step, {"bits/dim": means.get("bits_per_dim",
                                                          float("nan"))})
    summaries.write_scalars(train_writer, step, dict(
        {f"{k}": v for k, v in means.items()},
        learning_rate=float(metrics["learning_rate"]),
        grad_norm=float(metrics["grad_norm"]),
        images_per_second=images_per_second,
        skipped_steps=float(run.num_skipped.numpy()),
        **({"loss_scale": float(run.loss_scale.numpy())}
           if config.mixed_precision == "float16" else {})))
    sums, count, logged = {}, 0, step

  step = logged = int(run.step.numpy())
  run_clock = clock_lib.RunClock(float(run.train_seconds.numpy()), clock)
  agree = functools.partial(distribution.max_over_workers, strategy)
  rules = stopping.StopRules(config, run_clock, history, agree=agree)
  watcher.start()   # SIGTERM / SIGINT: stop at the next step boundary
  request = None
  stop = (rules.check(step, start=True) if step < config.train_steps
          else None)
  last_evaluation = None   # (step, results) of this process's latest
  line = progress.ProgressLine(config.train_steps, step, config.batch_size)
  sums, count = {}, 0
  intervals = [config.log_every, config.checkpoint_every] + (
      [config.eval_every] if config.eval_every else [])
  while step < config.train_steps and stop is None:
    # Up to steps_per_call steps in one call, never across an interval.
    num_steps = min([config.steps_per_call, config.train_steps - step] +
                    [every - step % every for every in intervals])
    with run_clock.training(num_steps * config.batch_size):
      metrics = run.train_steps(run.iterator, num_steps)
      step = int(run.step.numpy())
    applied = int(metrics["applied"])
    if applied:
      for name in ("bits_per_dim",) + tuple(run.model.loss_extras):
        sums[name] = sums.get(name, 0.) + float(metrics[name])
      count += applied
      recent.add(float(metrics["bits_per_dim"]) / applied, applied)
    consecutive = int(run.consecutive_skips.numpy())
    if applied < num_steps:
      logging.warning("%d of steps %d-%d skipped: non-finite loss, gradient "
                      "or update (%d in a row, %d in all).",
                      num_steps - applied, step - num_steps + 1, step,
                      consecutive, int(run.num_skipped.numpy()))
    if consecutive >= config.max_consecutive_skips:
      raise diverged(
          f"{consecutive} consecutive training steps had a non-finite loss, "
          f"gradient or update (the last was step {step})")
    if step % config.log_every == 0 or step == config.train_steps:
      log(step, metrics)
    if (step % config.checkpoint_every == 0 and step < config.train_steps and
        consecutive == 0):
      save_if_good(step)
    if (run.is_chief and config.eval_every and step % config.eval_every == 0
        and step < config.train_steps):
      last_evaluation = (step, summaries.evaluate(
          run, evaluator, eval_sets, writers, step, scorer))
      history.add(*last_evaluation)
      summaries.write_samples(run, eval_writer, step)
      line.reset_clock(step)
    if fault is not None:
      fault.at_boundary(step)
    if step < config.train_steps:
      stop = rules.check(step)
    # Every boundary, every worker (one collective on a cluster).
    request = watcher.check(agree)
    if request is not None:
      break
  run_clock.stop()   # the last save and the final evaluation do not count
  # Stopped early between progress lines: log the steps since the last one
  # (unless an evaluation at this step restarted the throughput window).
  if logged != step and (last_evaluation or (None,))[0] != step:
    log(step, metrics)
  if request is None:
    stop = stop or stopping.completed(config, step)
    print(stop.message, flush=True)
  if run.last_good is None or run.last_good[1] != step:
    save_if_good(step)
  # Also a signal during that save: the final evaluation is not waited for.
  request = watcher.check(agree)
  if request is not None:
    raise preempted(request, step)
  watcher.release()   # the evaluation: the signals act as before training
  results = {}
  if run.is_chief:
    if last_evaluation is not None and last_evaluation[0] == step:
      results = last_evaluation[1]   # this very state was just evaluated
    else:
      results = summaries.evaluate(run, evaluator, eval_sets, writers, step,
                                   scorer)
      summaries.write_samples(run, eval_writer, step)
      history.add(step, results)
    writers.flush()
    run_folder.write_json(
        os.path.join(workdir, run_folder.RESULTS_FILE),
        {"step": step, "bits_per_dim": results,
         "skipped_steps": int(run.num_skipped.numpy())})
    finish(stop, results)
  distribution.barrier(strategy)   # the other workers wait for the chief
  return results
