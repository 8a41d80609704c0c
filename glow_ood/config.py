"""`GlowConfig`: the frozen description of a Glow model, and named presets."""

import dataclasses
from typing import Tuple

import bijectors

__all__ = ["GlowConfig", "PRESETS", "COUPLING_SCALES", "PERMUTATIONS",
           "SPLIT_PRIORS", "DTYPES"]

# The architecture's choices are the builder's own (one list, not two).
COUPLING_SCALES = bijectors.affine_coupling.SCALES
PERMUTATIONS = bijectors.glow_flow.PERMUTATIONS
SPLIT_PRIORS = bijectors.glow_flow.SPLIT_PRIORS
DTYPES = ("float32", "float64")


def _check_choice(field, value, choices):
  if value not in choices:
    raise ValueError(f"GlowConfig.{field}={value!r} is not one of {choices}.")


@dataclasses.dataclass(frozen=True)
class GlowConfig:
  """Architecture of a Glow model (Kingma & Dhariwal 2018, openai/glow).

  Attributes:
    image_shape: `(H, W, C)`; `H` and `W` divisible by `2**num_levels`.
    num_levels: `L`, number of squeeze levels (splits after all but the last).
    num_steps_per_level: `K`, ActNorm -> permutation -> coupling steps per level.
    hidden_width: channels of the coupling networks' hidden layers.
    coupling_scale: `"sigmoid"` (openai/glow's code), `"exp"` (Glow paper) or
      `"additive"` (NICE; the constant-volume Glow of Nalisnick et al.).
    permutation: `"conv1x1"` (plain invertible 1x1 convolution, openai/glow's
      default), `"conv1x1_lu"` (LU-decomposed), `"reverse"` or `"shuffle"`.
    split_prior: `"learned"` (conditional Gaussian from the kept half) or
      `"standard"` (N(0, I)).
    learn_top: learn a per-channel Gaussian prior for the top latent.
    n_bits: bits per pixel kept from the 8-bit images (1..8).
    dtype: `"float32"` or `"float64"`.
    seed: seeds every random initial value of the model.
  """
  image_shape: Tuple[int, int, int] = (32, 32, 3)
  num_levels: int = 3
  num_steps_per_level: int = 8
  hidden_width: int = 512
  coupling_scale: str = "sigmoid"
  permutation: str = "conv1x1"
  split_prior: str = "learned"
  learn_top: bool = True
  n_bits: int = 8
  dtype: str = "float32"
  seed: int = 0

  def __post_init__(self):
    shape = tuple(int(d) for d in self.image_shape)
    if len(shape) != 3 or min(shape) < 1:
      raise ValueError(
          f"GlowConfig.image_shape must be (H, W, C) of positive ints; got "
          f"{self.image_shape}.")
    object.__setattr__(self, "image_shape", shape)
    for field in ("num_levels", "num_steps_per_level", "hidden_width"):
      if int(getattr(self, field)) < 1:
        raise ValueError(f"GlowConfig.{field} must be >= 1; got "
                         f"{getattr(self, field)}.")
    _check_choice("coupling_scale", self.coupling_scale, COUPLING_SCALES)
    _check_choice("permutation", self.permutation, PERMUTATIONS)
    _check_choice("split_prior", self.split_prior, SPLIT_PRIORS)
    _check_choice("dtype", self.dtype, DTYPES)
    if not 1 <= self.n_bits <= 8:
      raise ValueError(f"GlowConfig.n_bits must be in 1..8; got {self.n_bits}.")
    factor = 2 ** self.num_levels
    if shape[0] % factor or shape[1] % factor:
      raise ValueError(
          f"GlowConfig: {self.num_levels} levels need H and W divisible by "
          f"{factor}; image_shape is {shape}. Pad the images (28x28 -> 32x32) "
          "or use fewer levels.")

  @property
  def num_dims(self):
    """`D = H * W * C`."""
    h, w, c = self.image_shape
    return h * w * c

  def replace(self, **changes):
    """A copy with `changes` applied (validated again)."""
    return dataclasses.replace(self, **changes)

  @classmethod
  def from_preset(cls, name, **overrides):
    """The preset `name` (see `PRESETS`) with `overrides` applied."""
    if name not in PRESETS:
      raise ValueError(
          f"Unknown Glow preset {name!r}; choose one of {sorted(PRESETS)}.")
    return PRESETS[name].replace(**overrides)


PRESETS = {
    # Nalisnick et al. 2019, footnote 1: 3 levels of 8 steps (openai/glow code:
    # sigmoid scale, plain 1x1 convolution, learned top prior). 3.46 bits/dim
    # on CIFAR-10 test in the paper.
    "nalisnick2019": GlowConfig(),
    # Kingma & Dhariwal 2018, CIFAR-10: 3 levels of 32 steps, 3.35 bits/dim.
    "kingma2018": GlowConfig(num_steps_per_level=32),
    # CPU-size models for the 2-core machines this project runs on.
    "cpu_small": GlowConfig(num_levels=3, num_steps_per_level=4,
                            hidden_width=128),
    "cpu_tiny": GlowConfig(image_shape=(16, 16, 3), num_levels=2,
                           num_steps_per_level=2, hidden_width=32),
}
