"""`TwoMoonsConfig`: the grid, data, flow and training of Appendix C (no TensorFlow)."""

import dataclasses
from typing import Optional, Tuple

from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate

__all__ = ["TwoMoonsConfig", "SCALES", "GRID_FIELDS"]

SCALES = ("exp", "sigmoid")

# Fields that may differ between runs sharing one results file: they select
# cells, they do not change a cell's result.
GRID_FIELDS = ("dims", "scales")


@dataclasses.dataclass(frozen=True)
class TwoMoonsConfig:
  """The experiment grid, the data, the flow and its training.

  Attributes:
    dims: even dimensionalities `D`. Default value: `(2, 10, 20, 40, 60, 80,
      100)`.
    scales: coupling scales, from `SCALES`. Default value: `("exp",
      "sigmoid")`.
    num_examples: training points. Default value: `1000`.
    num_eval_examples: held-out points for the reported means and `L`.
      Default value: `1000`.
    noise: two-moons noise standard deviation (before standardization).
      Default value: `0.1`.
    jitter: standard deviation of independent noise added to each copy
      (`data.copy_to_dims`). Default value: `0.`, the paper's exact copies.
      Their likelihood is unbounded for `D > 2` (the data lie on a plane), so
      the terms depend on `train_steps`: "exp" keeps gaining log-det (the
      divergence of Figure 8(a); `max_log_scale` keeps it finite), "sigmoid"
      collapses the latents towards 0 with shifts, which cost no volume, so
      E[log p(z)] approaches its bound. `jitter=0.01` makes the density
      proper and, with the other defaults, gave the same curves (exp,
      D = 100: E log p(z) -122 vs -114, E log det 339 vs 340; sigmoid within
      0.03 nats of the exact-copy values), so the default stays with the
      paper.
    num_couplings: coupling layers. Default value: `4`.
    hidden_width: units per hidden layer of each coupling MLP. Default value:
      `64`.
    num_hidden_layers: hidden layers per coupling MLP. Default value: `2`.
    max_log_scale: bound `c` on the "exp" couplings' log-scales, `c tanh(s /
      c)` (`realnvp.build_realnvp`); `None` for none. Default value: `3.`.
    train_steps: Adam steps per cell. Default value: `1000`.
    max_grad_norm: gradients are rescaled to this global norm when larger
      (`tf.clip_by_global_norm`); `None` for no clipping. Default value:
      `100.` (unclipped, the "exp" flow at D = 80 had a loss spike to +866
      nats at step ~850 and ended at a training NLL of -63 nats; clipped, at
      -174, between D = 60's -127 and D = 100's -227).
    batch_size: minibatch size (sampled with replacement). Default value:
      `256`.
    learning_rate: Adam step size. Default value: `1e-3`.
    seed: data and initialization seed. Default value: `0`.
  """
  dims: Tuple[int, ...] = option(
      (2, 10, 20, 40, 60, 80, 100),
      "Even data dimensionalities D (copies of the 2 coordinates).")
  scales: Tuple[str, ...] = option(SCALES, "Coupling scales.", choices=SCALES)
  num_examples: int = option(1000, "Training points.", minimum=2)
  num_eval_examples: int = option(
      1000, "Held-out points for the means and the Lipschitz estimate.",
      minimum=2)
  noise: float = option(0.1, "Two-moons noise standard deviation (before "
                        "standardization).", minimum=0.)
  jitter: float = option(
      0., "Standard deviation of independent noise added to each copy; 0 = "
      "the paper's exact copies.", minimum=0.)
  num_couplings: int = option(4, "Affine coupling layers (reversal between "
                              "them).", minimum=1)
  hidden_width: int = option(64, "Units per hidden layer of each coupling "
                             "MLP.", minimum=1)
  num_hidden_layers: int = option(2, "Hidden layers per coupling MLP.",
                                  minimum=1)
  max_log_scale: Optional[float] = option(
      3., "Bound c of the exp couplings' log-scales, c tanh(s / c).",
      minimum=0., exclusive_minimum=True)
  train_steps: int = option(1000, "Adam steps per (scale, D) cell.",
                            minimum=1)
  max_grad_norm: Optional[float] = option(
      100., "Gradients are rescaled to this global norm when larger.",
      minimum=0., exclusive_minimum=True)
  batch_size: int = option(256, "Minibatch size.", minimum=1)
  learning_rate: float = option(1e-3, "Adam step size.", minimum=0.,
                                exclusive_minimum=True)
  seed: int = option(0, "Data and initialization seed.")

  def __post_init__(self):
    validate(self)
    if not self.dims:
      raise ValueError("dims is empty; give at least one even D, e.g. (2, 10).")
    bad_dims = [d for d in self.dims if d < 2 or d % 2]
    if bad_dims:
      raise ValueError(
          f"dims must be even integers >= 2 (whole copies of the 2 two-moons "
          f"coordinates); got {bad_dims} in {self.dims}.")
    if len(set(self.dims)) != len(self.dims):
      raise ValueError(f"dims has duplicates: {self.dims}.")
    if not self.scales:
      raise ValueError(f"scales is empty; choose from {SCALES}.")
    if len(set(self.scales)) != len(self.scales):
      raise ValueError(f"scales has duplicates: {self.scales}.")

  def replace(self, **changes):
    return dataclasses.replace(self, **changes)
