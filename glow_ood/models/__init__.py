"""The model families a run can train, behind one interface (`density_model`).

    model = build_model(config)        # GlowConfig -> Glow, PixelCNNConfig ->
                                       # PixelCNN, VAEConfig -> VAE
    model.discrete_log_prob(images).log_prob     # [B] nats, any family

`config_class(family)` is the config dataclass of `"glow"`, `"pixelcnn"` or
`"vae"` (`glow_ood.configs.FAMILIES`).
"""

from glow_ood.configs import image_model
from glow_ood.models import density_model
from glow_ood.models.density_model import Estimate
from glow_ood.models.density_model import LossTerms
from glow_ood.models.density_model import MissingExtraError
from glow_ood.models.density_model import require_extra

__all__ = ["build_model", "config_class", "model_class", "describe",
           "density_model",
           "Estimate", "LossTerms", "MissingExtraError", "require_extra"]


def config_class(family):
  """The config dataclass of `family` (one of `configs.FAMILIES`)."""
  # pylint: disable=g-import-not-at-top
  from glow_ood.configs.model import GlowConfig
  from glow_ood.configs.pixelcnn import PixelCNNConfig
  from glow_ood.configs.vae import VAEConfig
  classes = {"glow": GlowConfig, "pixelcnn": PixelCNNConfig, "vae": VAEConfig}
  if family not in classes:
    raise ValueError(f"Unknown model family {family!r}; choose one of "
                     f"{', '.join(image_model.FAMILIES)}.")
  return classes[family]


def model_class(family):
  """The model class of `family`."""
  # Imported here: each family's module imports TensorFlow (and PixelCNN
  # TFP's tf_keras layers) only when that family is used.
  # pylint: disable=g-import-not-at-top
  if family == "glow":
    from glow_ood.models.glow import Glow
    return Glow
  if family == "pixelcnn":
    from glow_ood.models.pixelcnn import PixelCNN
    return PixelCNN
  if family == "vae":
    from glow_ood.models.vae import VAE
    return VAE
  raise ValueError(f"Unknown model family {family!r}; choose one of "
                   f"{', '.join(image_model.FAMILIES)}.")


def build_model(config, **kwargs):
  """The model of a model config (`GlowConfig`, `PixelCNNConfig`, `VAEConfig`).

  `kwargs` go to the model's constructor (e.g. Glow's
  `coupling_compute_dtype`); a family that lacks one raises `TypeError`.
  """
  family = getattr(type(config), "family", None)
  if family is None:
    raise TypeError(f"build_model needs a model config; got "
                    f"{type(config).__name__}.")
  return model_class(family)(config, **kwargs)


def describe(config):
  """One line naming a model config's family and size, for progress output."""
  family = getattr(type(config), "family", None)
  if family == "glow":
    return (f"Glow ({config.num_levels} levels x {config.num_steps_per_level} "
            f"steps, width {config.hidden_width}, {config.coupling_scale} "
            f"coupling{', edge padding' if config.coupling_edge_padding else ''})")
  if family == "pixelcnn":
    def count(number, one, many):
      return f"{number} {one if number == 1 else many}"

    return (f"PixelCNN++ ({count(config.num_hierarchies, 'hierarchy', 'hierarchies')}"
            f" x {count(config.num_resnet, 'ResNet layer', 'ResNet layers')}, "
            f"{config.num_filters} filters, "
            f"{count(config.num_logistic_mix, 'logistic', 'logistics')})")
  if family == "vae":
    return (f"VAE (widths {','.join(map(str, config.widths))}, "
            f"{config.latent_dim} latents, {config.likelihood} pixels, "
            + (f"flow posterior ({config.posterior_flow_steps} couplings), "
               if config.posterior == "flow" else "")
            + f"IWAE K={config.eval_samples})")
  raise TypeError(f"Not a model config: {type(config).__name__}.")
