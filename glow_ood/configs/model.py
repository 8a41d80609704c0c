"""`GlowConfig`: the frozen description of a Glow model, and named presets."""

import dataclasses
from typing import Tuple

from glow_ood.configs import image_model
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate

__all__ = ["GlowConfig", "PRESETS", "COUPLING_SCALES", "PERMUTATIONS",
           "SPLIT_PRIORS", "DTYPES"]

# The architecture's choices. `bijectors` validates its own arguments (as TFP
# does) with the same tuples; a test checks that the two agree.
COUPLING_SCALES = ("exp", "sigmoid", "additive")
PERMUTATIONS = ("conv1x1_lu", "conv1x1", "reverse", "shuffle")
SPLIT_PRIORS = ("learned", "standard")
DTYPES = image_model.DTYPES


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
    coupling_edge_padding: openai/glow's `edge_bias`: the coupling networks'
      3x3 convolutions also see a channel that is 1 on the border their SAME
      zero padding adds and 0 on the image (`bijectors.edge_padding`). Off by
      default, so configs written before it keep their meaning.
    n_bits: bits per pixel kept from the 8-bit images (1..8).
    dtype: `"float32"` or `"float64"`.
    seed: seeds every random initial value of the model.
  """

  image_shape: Tuple[int, int, int] = option(
      (32, 32, 3), "Model input H,W,C; must match the (padded / tiled) data.",
      minimum=1)
  num_levels: int = option(3, "Glow levels L (squeeze + steps + split).",
                           minimum=1)
  num_steps_per_level: int = option(
      8, "ActNorm -> permutation -> coupling steps per level (K).", minimum=1)
  hidden_width: int = option(512, "Coupling network width.", minimum=1)
  coupling_scale: str = option(
      "sigmoid", "Coupling scale: sigmoid (openai/glow), exp (Glow paper) or "
      "additive (constant-volume Glow).", choices=COUPLING_SCALES)
  permutation: str = option("conv1x1", "Channel mixing between couplings.",
                            choices=PERMUTATIONS)
  split_prior: str = option("learned", "Prior of the factored-out latents.",
                            choices=SPLIT_PRIORS)
  learn_top: bool = option(True, "Learn the top latent's prior.")
  coupling_edge_padding: bool = option(
      False, "Give the coupling networks' 3x3 convolutions openai/glow's "
      "extra input channel marking the zero padding (1 on the padded border).")
  n_bits: int = option(8, "Bits per pixel the model sees.", minimum=1,
                       maximum=8)
  dtype: str = option("float32", "Model dtype.", choices=DTYPES)
  seed: int = option(0, "Seed of the model's initial values.")

  def __post_init__(self):
    image_model.check_image_shape(self)
    validate(self)
    image_model.check_divisible(self, 2 ** self.num_levels,
                                f"{self.num_levels} levels",
                                "or use fewer levels")

  @property
  def num_dims(self):
    """`D = H * W * C`."""
    return image_model.num_dims(self)

  def describe(self):
    """One line naming the model and its size, for progress output and tables."""
    return (f"Glow ({self.num_levels} levels x {self.num_steps_per_level} "
            f"steps, width {self.hidden_width}, {self.coupling_scale} coupling"
            f"{', edge padding' if self.coupling_edge_padding else ''})")

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
    # sigmoid scale, plain 1x1 convolution, learned top prior, edge padding).
    # 3.46 bits/dim on CIFAR-10 test in the paper.
    "nalisnick2019": GlowConfig(coupling_edge_padding=True),
    # Kingma & Dhariwal 2018, CIFAR-10: 3 levels of 32 steps, 3.35 bits/dim.
    "kingma2018": GlowConfig(num_steps_per_level=32,
                             coupling_edge_padding=True),
    # CPU-size models for the 2-core machines this project runs on.
    "cpu_small": GlowConfig(num_levels=3, num_steps_per_level=4,
                            hidden_width=128),
    "cpu_tiny": GlowConfig(image_shape=(16, 16, 3), num_levels=2,
                           num_steps_per_level=2, hidden_width=32),
}
