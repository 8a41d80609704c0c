"""The training loop: `train(config, workdir)`, a short loop over interval actions.

    results = train(TrainConfig(...), workdir="runs/x")

As Orbit's `Controller` drives a trainer: `glow_ood.train.start` checks
everything and builds the state (`glow_ood.train.state`), its compiled step
(`glow_ood.train.step`) and its input (`glow_ood.train.inputs`); this loop
runs calls of the step up to the next step boundary that an interval action
is due at (`steps_per_call` at most, never across a multiple of an
interval) and then runs the actions due: the check for consecutive skipped
steps (every boundary), the progress line and train/ summaries
(`log_every`), the checkpoint of a good state (`checkpoint_every`), the
evaluation (`eval_every`, the chief), then the stop rules and the signal
check (every boundary); after the loop, the last checkpoint, the final
evaluation, results.json and training.json.

Re-running with the same config and workdir resumes from the newest
checkpoint that loads (model, optimizer, step, EMA, counters and the data
iterator's position); the model and data settings must not change
(`TrainConfig`'s `RESUME_FIELDS`). Writes under `workdir` (see
`glow_ood.runs.folder`): `config.json` (the whole config, before the first
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
run's weights instead of the data-dependent init (`glow_ood.runs.warm_start`);
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
(`glow_ood.train.failed_writes`); training.json says so
(`stop_reason="write_failed"`) if the disk takes that write.

Under `multi_worker_mirrored`, a worker that dies, or sends no heartbeat for
`worker_timeout_seconds` (hung), stops the others at their next collective
with `WorkerLostError`, which names it and the newest checkpoint that a
restart of every worker resumes from (`glow_ood.train.lost_workers`); the
chief, unless it is the one lost, first writes training.json
(`stop_reason="worker_lost"`) and nothing else. What each stop leaves in
training.json: `glow_ood.train.record`.

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
from typing import Callable, NamedTuple, Optional

from absl import logging

from bijectors import coupling_network

from glow_ood import fileio
from glow_ood import likelihood_terms
from glow_ood import progress
from glow_ood.runs import folder as run_folder
from glow_ood.train import clock as clock_lib
from glow_ood.train import distribution
from glow_ood.train import failed_writes
from glow_ood.train import folder_lock
from glow_ood.train import health
from glow_ood.train import hparams
from glow_ood.train import lost_workers
from glow_ood.train import preemption
from glow_ood.train import record
from glow_ood.train import start as start_lib
from glow_ood.train import stopping
from glow_ood.train import summaries

__all__ = ["train", "TrainingDivergedError", "TrainingPreemptedError",
           "WorkerLostError"]

TrainingPreemptedError = preemption.TrainingPreemptedError
WorkerLostError = lost_workers.WorkerLostError


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
    glow_ood.runs.lock.RunFolderBusyError: another live process writes
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
    started = start_lib.start(config, workdir, extra_files)
    return _Controller(started, workdir, clock, watcher).run()


class _Action(NamedTuple):
  """`run(step)` at the step boundaries where `due(step)`.

  `every`: the action's interval; no call of the step runs across one of its
  multiples. `None`: no interval of its own (due at every boundary).
  """
  every: Optional[int]
  due: Callable[[int], bool]
  run: Callable[[int], None]


def _evaluators(state, strategy):
  """`(evaluator, scorer)` of the run's model, both in full precision.

  Evaluation runs outside `strategy.run`, where an ActNorm traces its
  initialization branch, which writes every replica's copy: one XLA cluster
  cannot hold that, so with several replicas evaluation runs without XLA.
  A Glow's evaluation sets are scored with their decomposition (log p(z),
  log|det|, for TensorBoard) in the same pass, as launch/evaluate.py does:
  `scorer` (`None` for a model without one).
  """
  config = state.config
  jit_compile = config.jit_compile and strategy.num_replicas_in_sync == 1
  evaluator = _in_full_precision(likelihood_terms.BitsPerDimEvaluator(
      state.model, config.eval_batch_size, jit_compile=jit_compile))
  scorer = (_in_full_precision(likelihood_terms.LikelihoodTermsEvaluator(
      state.model, config.eval_batch_size, jit_compile=jit_compile))
            if "decomposition" in state.model.capabilities else None)
  return evaluator, scorer


class _Progress:
  """The progress line and the train/ summaries: the means of the steps
  since the last line, with the last call's learning rate and gradient norm."""

  def __init__(self, state, writer, step):
    self.state, self.writer = state, writer
    config = state.config
    self.line = progress.ProgressLine(config.train_steps, step,
                                      config.batch_size)
    self.names = ("bits_per_dim",) + tuple(state.model.loss_part_names)
    self.sums, self.count, self.logged = {}, 0, step
    self.metrics = None   # of the latest call of the step

  def add(self, metrics):
    """Counts the applied steps of one call of the step."""
    self.metrics = metrics
    applied = int(metrics["applied"])
    if applied:
      for name in self.names:
        self.sums[name] = self.sums.get(name, 0.) + float(metrics[name])
      self.count += applied

  def log(self, step):
    """The progress line and the train/ summaries of the steps since the last."""
    state, metrics = self.state, self.metrics
    means = {k: v / max(self.count, 1) for k, v in self.sums.items()}
    images_per_second = self.line(step, {"bits/dim": means.get(
        "bits_per_dim", float("nan"))})
    summaries.write_scalars(self.writer, step, dict(
        {f"{k}": v for k, v in means.items()},
        learning_rate=float(metrics["learning_rate"]),
        grad_norm=float(metrics["grad_norm"]),
        images_per_second=images_per_second,
        skipped_steps=float(state.num_skipped.numpy()),
        **({"loss_scale": float(state.loss_scale.numpy())}
           if state.config.mixed_precision == "float16" else {})))
    self.sums, self.count, self.logged = {}, 0, step


class _Evaluations:
  """The chief's evaluations of the state, each added to `history`
  (evaluations.json) and written to TensorBoard with samples."""

  def __init__(self, state, evaluator, scorer, eval_sets, writers, history):
    self.state, self.evaluator, self.scorer = state, evaluator, scorer
    self.eval_sets, self.writers, self.history = eval_sets, writers, history
    self.last = None   # (step, results) of the latest periodic one

  def _evaluate(self, step):
    return summaries.evaluate(self.state, self.evaluator, self.eval_sets,
                              self.writers, step, self.scorer)

  def periodic(self, step):
    """The evaluation every `eval_every` steps."""
    self.last = (step, self._evaluate(step))
    self.history.add(*self.last)
    summaries.write_samples(self.state, self.writers.eval, step)

  def final(self, step):
    """The results of the state after `step`: the periodic evaluation's if
    it was of this very state."""
    if self.last is not None and self.last[0] == step:
      return self.last[1]
    results = self._evaluate(step)
    summaries.write_samples(self.state, self.writers.eval, step)
    self.history.add(step, results)
    return results


class _Controller:
  """Runs one started run (`glow_ood.train.start.Started`) to its end.

  The loop (`run`) alternates calls of the step with the interval actions
  due (`_actions`); `_end` saves, evaluates and records.
  """

  def __init__(self, started, workdir, clock, watcher):
    self.config, self.strategy = started.config, started.strategy
    self.state, self.trainer = started.state, started.trainer
    self.iterator, self.fault = started.iterator, started.fault
    self.history, self.workdir, self.watcher = (started.history, workdir,
                                                watcher)
    state, config = self.state, self.config
    # Only the chief writes the run folder.
    self.writers = summaries.RunWriters(workdir, enabled=state.is_chief)
    hparams.write_run_config(self.writers.root, config,
                             int(state.step.numpy()))
    evaluator, scorer = _evaluators(state, self.strategy)
    self.evaluations = _Evaluations(state, evaluator, scorer,
                                    started.eval_sets, self.writers,
                                    self.history)
    probe = state.train_images[:min(len(state.train_images),
                                    config.eval_batch_size, 256)]
    self.health = health.StateCheck(state.checkpoint_variables(), evaluator,
                                    probe, config.max_loss_increase)
    self.recent = health.RunningLoss()
    self.clock = clock_lib.RunClock(float(state.train_seconds.numpy()), clock)
    self.agree = functools.partial(distribution.max_over_workers,
                                   self.strategy)
    self.rules = stopping.StopRules(config, self.clock, self.history,
                                    agree=self.agree)
    self.progress = None   # made by `run`, when the clock of its line starts
    self.step = int(state.step.numpy())   # the last step boundary reached
    self.recorded = False   # whether this launch wrote training.json

  def run(self):
    """Trains to the end; returns the final evaluation (`{}` off the chief).

    A lost worker or a write the disk refused ends the run with training.json
    too (`_record_failure`), then raises as `train` says.
    """
    try:
      with lost_workers.reported(self.config, self.workdir):
        return self._train()
    except lost_workers.WorkerLostError as e:
      self._record_failure(stopping.WORKER_LOST, str(e), e.checkpoint)
      raise
    except failed_writes.ERRORS as e:
      failed = failed_writes.as_write_failure(e, self.workdir)
      if failed is None:
        raise
      self._record_failure(stopping.WRITE_FAILED, str(failed), (
          failed_writes.resume_point(self.workdir) or (None,))[0])
      raise

  def _train(self):
    """The loop over calls of the step and the actions due, then `_end`."""
    config = self.config
    step = self.step
    self.watcher.start()   # SIGTERM / SIGINT: stop at the next step boundary
    request = None
    stop = (self.rules.check(step, start=True) if step < config.train_steps
            else None)
    self.progress = _Progress(self.state, self.writers.train, step)
    actions = self._actions()
    intervals = [action.every for action in actions if action.every]
    while step < config.train_steps and stop is None and request is None:
      # Up to steps_per_call steps in one call, never across an interval.
      step = self._run_steps(min(
          [config.steps_per_call, config.train_steps - step] +
          [every - step % every for every in intervals]))
      for action in actions:
        if action.due(step):
          action.run(step)
      if step < config.train_steps:
        stop = self.rules.check(step)
      # Every boundary, every worker (one collective on a cluster).
      request = self.watcher.check(self.agree)
    return self._end(step, stop, request)

  def _actions(self):
    """The interval actions, in the order they run at a boundary."""
    config, state = self.config, self.state
    end = config.train_steps
    actions = [
        _Action(None, lambda step: True, self._check_skips),
        _Action(config.log_every,
                lambda step: step % config.log_every == 0 or step == end,
                self.progress.log),
        _Action(config.checkpoint_every,
                lambda step: (step % config.checkpoint_every == 0 and
                              step < end and
                              int(state.consecutive_skips.numpy()) == 0),
                self._save_if_good)]
    if config.eval_every:
      actions.append(_Action(
          config.eval_every,
          lambda step: (state.is_chief and step % config.eval_every == 0 and
                        step < end),
          self._evaluate))
    if self.fault is not None:
      actions.append(_Action(None, lambda step: True,
                             self.fault.at_boundary))
    return actions

  def _run_steps(self, num_steps):
    """One call of the step: `num_steps` steps; returns the step after it."""
    state = self.state
    with self.clock.training(num_steps * self.config.batch_size):
      metrics = self.trainer.train_steps(self.iterator, num_steps)
      step = self.step = int(state.step.numpy())
    self.progress.add(metrics)
    applied = int(metrics["applied"])
    if applied:
      self.recent.add(float(metrics["bits_per_dim"]) / applied, applied)
    if applied < num_steps:
      logging.warning("%d of steps %d-%d skipped: non-finite loss, gradient "
                      "or update (%d in a row, %d in all).",
                      num_steps - applied, step - num_steps + 1, step,
                      int(state.consecutive_skips.numpy()),
                      int(state.num_skipped.numpy()))
    return step

  def _check_skips(self, step):
    """Stops as diverged after `max_consecutive_skips` skipped steps in a row."""
    consecutive = int(self.state.consecutive_skips.numpy())
    if consecutive >= self.config.max_consecutive_skips:
      raise self._diverged(
          f"{consecutive} consecutive training steps had a non-finite loss, "
          f"gradient or update (the last was step {step})")

  def _save_if_good(self, step):
    """Checkpoints the state after `step` if it is good, else stops as diverged."""
    good, probe_bpd, reason = self.health.check(self.recent.take())
    if not good:
      raise self._diverged(f"The state after step {step} is not good: "
                           f"{reason}; it was not saved")
    self.state.train_seconds.assign(self.clock.seconds())
    self.state.save(step)
    # The events of every step up to the newest checkpoint are on disk, however
    # the process ends later (kill -9, a lost worker): a resume rewrites the rest.
    self.writers.flush()
    logging.info("Saved the state after step %d (%.4f bits/dim on the probe "
                 "batch).", step, probe_bpd)

  def _evaluate(self, step):
    """The periodic evaluation (the chief); the throughput window restarts."""
    self.evaluations.periodic(step)
    self.progress.line.reset_clock(step)

  def _end(self, step, stop, request):
    """After the loop: the last line, checkpoint and evaluation; results.json
    and training.json (the chief); raises if a signal stopped the run."""
    self.clock.stop()   # the last save and the final evaluation do not count
    # Stopped early between progress lines: log the steps since the last one
    # (unless an evaluation at this step restarted the throughput window).
    last_evaluation = self.evaluations.last or (None,)
    if self.progress.logged != step and last_evaluation[0] != step:
      self.progress.log(step)
    if request is None:
      stop = stop or stopping.completed(self.config, step)
      print(stop.message, flush=True)
    if self.state.last_good is None or self.state.last_good[1] != step:
      self._save_if_good(step)
    # Also a signal during that save: the final evaluation is not waited for.
    request = self.watcher.check(self.agree)
    if request is not None:
      raise self._preempted(request, step)
    self.watcher.release()   # the evaluation: the signals act as before training
    results = {}
    if self.state.is_chief:
      results = self.evaluations.final(step)
      self.writers.flush()
      fileio.write_json(
          os.path.join(self.workdir, run_folder.RESULTS_FILE),
          {"step": step, "bits_per_dim": results,
           "skipped_steps": int(self.state.num_skipped.numpy())})
      self._finish(stop, (self.state.last_good or (None,))[0], results)
    distribution.barrier(self.strategy)   # the other workers wait for the chief
    return results

  def _finish(self, stop, checkpoint, final=None):
    """Writes training.json (the chief): `stop`, the newest good
    `checkpoint` (a path or `None`), the `final` evaluation."""
    if self.state.is_chief:
      record.write_training_record(
          self.workdir, stop, self.history, final, checkpoint=checkpoint,
          train_seconds=self.clock.seconds(),
          images_per_second=self.clock.images_per_second(),
          in_distribution=self.rules.in_distribution)
      self.recorded = True

  def _record_failure(self, reason, message, checkpoint):
    """training.json of a run a lost worker or a refused write stopped at the
    last step boundary, unless this launch has recorded its stop already.

    Only the record is written (no checkpoint is touched). If the disk
    refuses it too, that is logged, not raised: the error on its way up is
    the one to report.
    """
    if self.recorded:
      return
    try:
      self._finish(stopping.Stop(reason, self.step, message), checkpoint)
    except failed_writes.ERRORS as e:
      logging.warning("%s was not written: %s", run_folder.TRAINING_FILE, e)

  def _diverged(self, problem):
    """The error of a diverged run, after its training.json."""
    path, good_step = self.state.last_good or (None, None)
    error = TrainingDivergedError(problem, self.workdir, path, good_step,
                                  min(self.config.learning_rate / 10, 1e-3))
    self._finish(stopping.Stop(stopping.DIVERGED,
                               int(self.state.step.numpy()), str(error)), path)
    return error

  def _preempted(self, request, step):
    """The error of a run stopped by a signal at `step` (its state saved)."""
    path, _ = self.state.last_good
    error = preemption.TrainingPreemptedError(
        request, step, self.config.train_steps, path)
    self._finish(stopping.Stop(stopping.PREEMPTED, step, str(error)), path)
    self.writers.flush()
    return error
