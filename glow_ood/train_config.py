"""`TrainConfig`: everything `glow_ood.train.train` needs, frozen."""

import dataclasses
from typing import Optional, Tuple

from glow_ood import config as config_lib
from glow_ood import data as data_lib
from glow_ood import distribution
from glow_ood import optimizers

__all__ = ["TrainConfig"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """A training run: model, data, optimization, evaluation and bookkeeping.

  Attributes:
    model: `GlowConfig`.
    data: `DataConfig` of the in-distribution dataset.
    eval_datasets: names evaluated periodically and at the end besides the
      in-distribution test split (out-of-distribution sets, e.g. "mnist",
      "constant:128"); loaded with `data`'s other settings.
    batch_size: global batch size (divisible by the replicas).
    init_batch_size: images for ActNorm's data-dependent initialization
      (openai/glow: 512), one global batch in cross-replica context.
    eval_batch_size: batch size of evaluation (one device).
    train_steps: total optimizer steps of the run (resumed runs continue).
    optimizer: `"adamax"` (openai/glow) or `"adam"`.
    learning_rate: peak learning rate.
    warmup_steps: linear warm-up from 0 to `learning_rate` over these steps.
    grad_clip_norm: clip the global gradient norm to this, or `None`.
    ema_decay: Polyak averaging decay for evaluation weights, or `None`.
    max_consecutive_skips: stop after this many consecutive non-finite steps.
    log_every: steps between terminal lines / train summaries.
    eval_every: steps between evaluations (0: only at the end).
    checkpoint_every: steps between checkpoints (and one at the end).
    eval_num_examples: examples per evaluation set (`None`: all).
    sample_temperatures: temperatures of the sample grids in TensorBoard.
    num_samples: images per sample grid.
    strategy: `"mirrored"`, `"one_device"` or `"multi_worker_mirrored"`.
    devices: devices for the strategy, e.g. `("/cpu:0", "/cpu:1")`; empty
      means the strategy's default.
    jit_compile: XLA-compile the per-replica forward/backward pass.
    nonfinite_loss_steps: fault injection: at these steps the loss is made
      NaN, to check that the run skips them (never saves them).
    seed: seeds data order and noise (the model has its own seed).
  """
  model: config_lib.GlowConfig = config_lib.GlowConfig()
  data: data_lib.DataConfig = data_lib.DataConfig()
  eval_datasets: Tuple[str, ...] = ()
  batch_size: int = 64
  init_batch_size: int = 512
  eval_batch_size: int = 256
  train_steps: int = 100_000
  optimizer: str = "adamax"
  learning_rate: float = 1e-3
  warmup_steps: int = 0
  grad_clip_norm: Optional[float] = None
  ema_decay: Optional[float] = None
  max_consecutive_skips: int = 20
  log_every: int = 100
  eval_every: int = 5000
  checkpoint_every: int = 1000
  eval_num_examples: Optional[int] = None
  sample_temperatures: Tuple[float, ...] = (0.7, 1.0)
  num_samples: int = 16
  strategy: str = "mirrored"
  devices: Tuple[str, ...] = ()
  jit_compile: bool = False
  nonfinite_loss_steps: Tuple[int, ...] = ()
  seed: int = 0

  def __post_init__(self):
    if not isinstance(self.model, config_lib.GlowConfig):
      raise TypeError("TrainConfig.model must be a GlowConfig.")
    if not isinstance(self.data, data_lib.DataConfig):
      raise TypeError("TrainConfig.data must be a DataConfig.")
    for field in ("eval_datasets", "sample_temperatures", "devices",
                  "nonfinite_loss_steps"):
      value = getattr(self, field)
      if isinstance(value, str):  # tuple("mnist") would be its letters
        raise TypeError(f"TrainConfig.{field} must be a sequence, not a str; "
                        f"got {value!r} (write ({value!r},)).")
      object.__setattr__(self, field, tuple(value))
    for field in ("batch_size", "init_batch_size", "eval_batch_size",
                  "train_steps", "max_consecutive_skips", "log_every",
                  "checkpoint_every", "num_samples"):
      if int(getattr(self, field)) < 1:
        raise ValueError(f"TrainConfig.{field} must be >= 1; got "
                         f"{getattr(self, field)}.")
    for field in ("warmup_steps", "eval_every"):
      if int(getattr(self, field)) < 0:
        raise ValueError(f"TrainConfig.{field} must be >= 0; got "
                         f"{getattr(self, field)}.")
    if self.optimizer not in optimizers.OPTIMIZERS:
      raise ValueError(f"TrainConfig.optimizer={self.optimizer!r} is not one "
                       f"of {optimizers.OPTIMIZERS}.")
    if self.strategy not in distribution.STRATEGIES:
      raise ValueError(f"TrainConfig.strategy={self.strategy!r} is not one of "
                       f"{distribution.STRATEGIES}.")
    if not self.learning_rate > 0:
      raise ValueError(f"TrainConfig.learning_rate must be > 0; got "
                       f"{self.learning_rate}.")
    if self.grad_clip_norm is not None and not self.grad_clip_norm > 0:
      raise ValueError("TrainConfig.grad_clip_norm must be > 0 or None.")
    if self.ema_decay is not None and not 0 < self.ema_decay < 1:
      raise ValueError("TrainConfig.ema_decay must be in (0, 1) or None.")
    if self.eval_num_examples is not None and self.eval_num_examples < 1:
      raise ValueError("TrainConfig.eval_num_examples must be >= 1 or None.")
    if self.data.n_bits != self.model.n_bits:
      raise ValueError(
          f"TrainConfig: data.n_bits={self.data.n_bits} differs from "
          f"model.n_bits={self.model.n_bits}; set both to the same value.")

  def replace(self, **changes):
    return dataclasses.replace(self, **changes)
