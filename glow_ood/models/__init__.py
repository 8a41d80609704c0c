"""The model families behind one interface (`density_model`), by their registry.

    model = build_model(config)        # GlowConfig -> Glow, PixelCNNConfig ->
                                       # PixelCNN, VAEConfig -> VAE, any
                                       # registered family's config -> its model
    model.discrete_log_prob(images).log_prob     # [B] nats, any family

The families are declared in `glow_ood.configs.families`; `register` adds
one of your own (a config dataclass and a `DensityModel`; README: "Bring your
own model"), `config_class(family)` / `model_class(family)` look one up.
`ema` is the Polyak average of a model's weights that training keeps and
evaluation reads (`glow_ood.runs.warm_start.read_evaluation_weights`).
"""

from glow_ood.configs import families
from glow_ood.configs.families import register
from glow_ood.configs.families import unregister
from glow_ood.models import density_model
from glow_ood.models.density_model import DensityModel
from glow_ood.models.density_model import Estimate
from glow_ood.models.density_model import LossTerms
from glow_ood.models.density_model import MissingCapabilityError
from glow_ood.models.density_model import require_capability

__all__ = ["build_model", "config_class", "model_class", "describe",
           "register", "unregister", "families", "density_model",
           "DensityModel", "Estimate", "LossTerms", "MissingCapabilityError",
           "require_capability"]


def config_class(family):
  """The config dataclass of the registered family `family`."""
  return families.get(family).config_class


def model_class(family):
  """The model class of `family` (its module imported on first use)."""
  return families.get(family).model_class


def build_model(config, **kwargs):
  """The model of a registered family's config (`GlowConfig`, `PixelCNNConfig`, ...).

  `kwargs` go to the model's constructor (e.g. Glow's
  `coupling_compute_dtype`); a family that lacks one raises `TypeError`.
  """
  try:
    family = families.of_config(config)
  except TypeError:
    raise TypeError(f"build_model needs a model config; got "
                    f"{type(config).__name__}.") from None
  return family.model_class(config, **kwargs)


def describe(config):
  """One line naming a model config's family and size, for progress output."""
  try:
    family = families.of_config(config)
  except TypeError:
    raise TypeError(f"Not a model config: {type(config).__name__}.") from None
  return family.describe(config)
