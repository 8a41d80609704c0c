"""`TrainConfig`: everything `glow_ood.train.train` needs, frozen (no TensorFlow)."""

import dataclasses
from typing import Optional, Tuple

from glow_ood.configs import dataset_names
from glow_ood.configs import families
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate
from glow_ood.configs.data import DataConfig

__all__ = ["TrainConfig", "OPTIMIZERS", "STRATEGIES", "MIXED_PRECISION",
           "RESUME_FIELDS"]

OPTIMIZERS = ("adamax", "adam")
STRATEGIES = ("mirrored", "one_device", "multi_worker_mirrored")
# The dtype the coupling networks' convolutions run in ("none": the model's
# dtype, no mixed precision; "auto": bfloat16 where the hardware computes in
# it natively, else "none", resolved by `glow_ood.train.train`).
MIXED_PRECISION = ("auto", "none", "bfloat16", "float16")

# What a resumed run must share with the run in its folder: the model, the
# data its checkpoint was trained on and the optimizer state's meaning.
# Dotted paths into the config; everything else (train_steps, intervals,
# evaluation sets, strategy, learning-rate schedule, data_dir, ...) may change.
RESUME_FIELDS = (
    "model", "data.dataset", "data.pad_to", "data.to_rgb",
    "data.train_split", "data.test_split",
    "data.validation_size", "data.mutation_rate", "data.seed",
    "data.n_bits", "batch_size", "optimizer", "seed")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """A training run: model, data, optimization, evaluation and bookkeeping.

  Attributes:
    model: the model's config, whose class is its family (`family`): the
      config of a family of `glow_ood.configs.families` (`GlowConfig`,
      `PixelCNNConfig`, `VAEConfig`, or one registered from outside).
    data: `DataConfig` of the in-distribution dataset.
    eval_datasets: names evaluated periodically and at the end besides the
      in-distribution test split (out-of-distribution sets, e.g. "mnist",
      "constant:128"); loaded with `data`'s other settings.
    batch_size: global batch size (divisible by the replicas).
    init_batch_size: images for ActNorm's data-dependent initialization
      (openai/glow: 512), one global batch in cross-replica context.
    eval_batch_size: batch size of evaluation (one device).
    train_steps: total optimizer steps of the run (resumed runs continue).
    max_train_minutes: a wall budget: the run stops (checkpoint, final
      evaluation) at the first step boundary after this many minutes of
      training over the run's life (resumes included; periodic evaluations
      and checkpoints count, start-up and the final evaluation do not), or
      `None`. The count is saved in every checkpoint.
    plateau_min_improvement: the plateau rule: at a periodic evaluation at
      step `s`, the run stops (as on the budget) if the in-distribution test
      bits/dim improved by less than this since the evaluation at step
      `s - plateau_window_steps`; `None`: off. Needs `eval_every` > 0 dividing
      `plateau_window_steps`.
    plateau_window_steps: the plateau rule's window, in steps.
    init_from: warm start: a run folder whose newest good checkpoint gives
      the model weights of a *new* run (its EMA weights if it kept them,
      what `glow_ood.runs.load_run` evaluates), instead of the data-dependent
      init; the optimizer starts afresh. The model configs must be equal;
      the data may differ. A resumed run restores its own checkpoint and
      does not read it. `None`: off.
    optimizer: `"adamax"` (openai/glow) or `"adam"`.
    learning_rate: peak learning rate.
    warmup_steps: linear warm-up from 0 to `learning_rate` over these steps.
    grad_clip_norm: clip the global gradient norm to this, or `None`.
    ema_decay: Polyak averaging decay for evaluation weights, or `None`.
    l2_weight: `lambda` of an L2 penalty `lambda * sum ||w||^2` on the
      model's weights (rank >= 2), in nats per image, added to the loss
      (Ren et al.'s background models; `glow_ood.train.regularization`).
    max_consecutive_skips: stop after this many consecutive non-finite steps.
    max_loss_increase: a state is saved only if its bits/dim on a probe
      batch is at most this above the recent training loss
      (`glow_ood.train.health`); otherwise the run stops as diverged.
    log_every: steps between terminal lines / train summaries.
    eval_every: steps between evaluations (0: only at the end).
    checkpoint_every: steps between checkpoints (and one at the end).
    eval_num_examples: examples per evaluation set (`None`: all).
    sample_temperatures: temperatures of the sample grids in TensorBoard.
    num_samples: images per sample grid (0: none; sampling a PixelCNN
      takes one network pass per pixel).
    strategy: `"mirrored"`, `"one_device"` or `"multi_worker_mirrored"`.
    devices: devices for the strategy, e.g. `("/cpu:0", "/cpu:1")`; empty
      means the strategy's default.
    worker_timeout_seconds: under `multi_worker_mirrored`, a worker whose
      heartbeats (sent by TensorFlow's coordination service, whatever the
      worker's Python is doing) stop for this long counts as lost (hung,
      frozen or cut off); the others stop with one line naming it
      (`glow_ood.train.lost_workers`). A worker that dies is usually seen
      sooner, by the next collective. Ignored by the other strategies.
    jit_compile: XLA-compile the per-replica forward/backward pass.
    steps_per_call: training steps per call of the compiled step function
      (one host round trip per call), so that the host does not throttle a
      fast device. Logging, checkpoint and evaluation intervals are kept
      exactly: a call never crosses one.
    mixed_precision: `"auto"`, `"none"`, or the dtype the coupling networks'
      convolutions run in (`"bfloat16"`, `"float16"`). `"auto"` is
      `"bfloat16"` on CPUs with AVX512_BF16 or AMX-BF16 and GPUs of compute
      capability >= 8.0, `"none"` elsewhere and for families without
      coupling networks (the `"coupling_precision"` capability); `train` resolves it at the start, prints the choice
      and records the resolved value in config.json
      (`glow_ood.train.precision`). All other flow
      arithmetic, log-dets, ActNorm statistics and 1x1-convolution
      determinants stay in the model's dtype, and so do the weights.
      `"float16"` gets dynamic loss scaling. Evaluations (and results.json)
      are computed in the model's dtype, as `launch/evaluate.py` does.
    recompute_couplings: gradient checkpointing: recompute the coupling
      networks' activations in the backward pass instead of keeping them
      (less memory, more compute; for deep models on accelerators).
    nonfinite_loss_steps: fault injection: the loss of these steps is made
      NaN, to check that the run skips them (never saves them). Steps count
      from 1, as in the progress lines and checkpoint names (step 3 is the
      third update; `ckpt-3` holds the state after it).
    seed: seeds data order and noise (the model has its own seed).
  """
  model: families.ModelConfig = dataclasses.field(
      default_factory=families.default_config)
  data: DataConfig = DataConfig()
  eval_datasets: Tuple[str, ...] = option(
      (), "Other datasets evaluated on their test split "
      "(out-of-distribution), e.g. svhn_cropped,constant:128.")
  batch_size: int = option(64, "Global batch size.", minimum=1)
  init_batch_size: int = option(
      512, "Images for ActNorm's data-dependent init.", minimum=1)
  eval_batch_size: int = option(256, "Evaluation batch size.", minimum=1)
  train_steps: int = option(100_000, "Total training steps.", minimum=1)
  max_train_minutes: Optional[float] = option(
      None, "Wall budget: stop (checkpoint, final evaluation) after this many "
      "minutes of training over the run's life, resumes included; 0 = none.",
      minimum=0., exclusive_minimum=True, flag_none=0.)
  plateau_min_improvement: Optional[float] = option(
      None, "Stop when the in-distribution test bits/dim improved by less "
      "than this over the last plateau_window_steps (checked at each "
      "evaluation); 0 = never.", minimum=0., exclusive_minimum=True,
      flag_none=0.)
  plateau_window_steps: int = option(
      1000, "Window of the plateau rule, in steps (a multiple of eval_every).",
      minimum=1)
  init_from: Optional[str] = option(
      None, "Warm start: a new run starts from this run folder's newest "
      "checkpoint (EMA weights if kept; same model config, any data), with a "
      "fresh optimizer. Not read on resume.")
  optimizer: str = option("adamax", "Optimizer.", choices=OPTIMIZERS)
  learning_rate: float = option(1e-3, "Peak learning rate.", minimum=0.,
                                exclusive_minimum=True)
  warmup_steps: int = option(0, "Linear learning-rate warm-up steps.",
                             minimum=0)
  grad_clip_norm: Optional[float] = option(
      None, "Clip the global gradient norm to this; 0 = no clipping.",
      minimum=0., exclusive_minimum=True, flag_none=0.)
  ema_decay: Optional[float] = option(
      None, "Polyak (EMA) decay of evaluation weights; 0 = none.", minimum=0.,
      maximum=1., exclusive_minimum=True, exclusive_maximum=True,
      flag_none=0.)
  l2_weight: float = option(
      0., "L2 penalty lambda * sum ||w||^2 on the model's weights (kernels), "
      "in nats per image, added to the loss (Ren et al.: 0, 10, 100).",
      minimum=0.)
  max_consecutive_skips: int = option(
      20, "Stop after this many consecutive non-finite steps.", minimum=1)
  max_loss_increase: float = option(
      1.0, "A checkpoint is saved only if its bits/dim on a probe batch is at "
      "most this above the recent training loss (else: diverged).",
      minimum=0., exclusive_minimum=True)
  log_every: int = option(100, "Steps between progress lines.", minimum=1)
  eval_every: int = option(
      5000, "Steps between evaluations (0 = only at the end).", minimum=0)
  checkpoint_every: int = option(1000, "Steps between checkpoints.",
                                 minimum=1)
  eval_num_examples: Optional[int] = option(
      None, "Examples per evaluation set; 0 = all.", minimum=1, flag_none=0)
  sample_temperatures: Tuple[float, ...] = option(
      (0.7, 1.0), "Temperatures of the TensorBoard sample grids.",
      minimum=0., exclusive_minimum=True)
  num_samples: int = option(
      16, "Images per sample grid in TensorBoard (0 = no samples).",
      minimum=0)
  strategy: str = option("mirrored", "tf.distribute strategy.",
                         choices=STRATEGIES)
  devices: Tuple[str, ...] = option(
      (), "Devices of the strategy (e.g. /gpu:0,/gpu:1); empty = the "
      "strategy's default.")
  worker_timeout_seconds: int = option(
      30, "multi_worker_mirrored: a worker silent (no heartbeat) for this "
      "many seconds is lost; the others stop naming it.", minimum=1)
  jit_compile: bool = option(False, "XLA-compile the training step.")
  steps_per_call: int = option(
      1, "Training steps per compiled call (fewer host round trips).",
      minimum=1)
  mixed_precision: str = option(
      "auto", "Run the coupling networks' convolutions in this dtype "
      "(weights, log-dets and all other flow arithmetic stay float32); auto: "
      "bfloat16 on hardware with native bfloat16, else none.",
      choices=MIXED_PRECISION)
  recompute_couplings: bool = option(
      False, "Gradient checkpointing: recompute coupling activations in the "
      "backward pass (less memory, more compute).")
  nonfinite_loss_steps: Tuple[int, ...] = option(
      (), "Fault injection: make the loss NaN at these steps, counted from 1 "
      "as in the progress lines (to check that they are skipped).",
      minimum=1)
  seed: int = option(0, "Seed of data order and noise.")

  def __post_init__(self):
    validate(self)
    family = families.of_config(self.model, "TrainConfig.model")
    for name in self.eval_datasets:
      dataset_names.parse(name)   # raises on a malformed special name
    if not family.has("coupling_precision"):
      used = [flag for flag, used in (
          ("--mixed_precision",
           self.mixed_precision not in ("auto", "none")),
          ("--recompute_couplings", self.recompute_couplings)) if used]
      if used:
        them = "them" if len(used) > 1 else "it"
        raise ValueError(
            f"TrainConfig: {' and '.join(used)} "
            f"{'apply' if len(used) > 1 else 'applies'} to "
            f"{families.titles_with('coupling_precision')}'s coupling "
            f"networks only; a {family.name} run cannot use {them}. Leave "
            f"{them} at the default.")
    if self.plateau_min_improvement is not None and (
        not self.eval_every or self.plateau_window_steps % self.eval_every):
      raise ValueError(
          "TrainConfig: the plateau rule compares evaluations "
          f"plateau_window_steps={self.plateau_window_steps} steps apart, "
          f"which needs eval_every > 0 dividing it; got eval_every="
          f"{self.eval_every}. Set eval_every to a divisor of "
          f"plateau_window_steps (e.g. {self.plateau_window_steps}), or "
          "plateau_window_steps to a multiple of eval_every.")
    if self.init_from == "":
      raise ValueError("TrainConfig: init_from is empty; pass a run folder, "
                       "or None for no warm start.")
    if self.data.n_bits != self.model.n_bits:
      raise ValueError(
          f"TrainConfig: data.n_bits={self.data.n_bits} differs from "
          f"model.n_bits={self.model.n_bits}; set both to the same value.")

  @property
  def family(self):
    """The model family's name (`glow_ood.configs.families`)."""
    return self.model.family

  def replace(self, **changes):
    return dataclasses.replace(self, **changes)
