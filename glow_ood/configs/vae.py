"""`VAEConfig`: the frozen description of a convolutional VAE over 8-bit images."""

import dataclasses
from typing import Tuple

from glow_ood.configs import image_model
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate

__all__ = ["VAEConfig", "VAE_LIKELIHOODS", "VAE_POSTERIORS"]

VAE_LIKELIHOODS = ("discretized_logistic", "categorical")
VAE_POSTERIORS = ("gaussian", "flow")


@dataclasses.dataclass(frozen=True)
class VAEConfig:
  """A convolutional VAE (Kingma & Welling 2014) with a discrete pixel likelihood.

  Encoder: stride-2 3x3 convolutions of `widths` channels (ReLU), then a
  dense layer to the mean and log-scale of a diagonal Gaussian q(z|x) over
  `latent_dim` latents; prior p(z) = N(0, I). Decoder: the mirror image
  (dense, transposed stride-2 convolutions) to per-pixel parameters of
  p(x|z): a discretized logistic per pixel (`"discretized_logistic"`, a
  mean and a log-scale per pixel and channel) or a categorical over the
  `2**n_bits` values (`"categorical"`). With `posterior="flow"`, q(z|x) is
  that Gaussian pushed through `posterior_flow_steps` RealNVP affine
  couplings on z conditioned on the encoder's features
  (`glow_ood.models.vae_posterior.FlowPosterior`; hidden width and context
  size `widths[-1]`), as the paper's Fig. 3b "VAE with RNVP as encoder"
  (Rosca et al. 2018). Trained on the ELBO with
  `train_samples` samples of q; log p(x) is estimated by importance
  sampling with `eval_samples` samples (IWAE, Burda et al. 2016) and
  reported with its standard error.

  Attributes:
    image_shape: `(H, W, C)`, H and W divisible by `2**len(widths)`.
    widths: channels of the encoder's convolutions (the decoder reverses).
    latent_dim: dimension of z.
    likelihood: `"discretized_logistic"` or `"categorical"`.
    posterior: `"gaussian"` (diagonal Gaussian q(z|x)) or `"flow"` (that
      Gaussian through a flow; needs `latent_dim >= 2`).
    posterior_flow_steps: affine couplings of the flow posterior.
    train_samples: samples of q(z|x) per image in the training ELBO.
    eval_samples: importance samples K of log p(x) in evaluation.
    n_bits: bits per pixel (1..8).
    dtype: `"float32"` or `"float64"`.
    seed: seeds the model's initial values.
  """

  image_shape: Tuple[int, int, int] = option(
      (32, 32, 3), "Model input H,W,C; must match the (padded / tiled) data.",
      minimum=1)
  widths: Tuple[int, ...] = option(
      (64, 128, 256), "VAE: channels of the encoder's stride-2 convolutions.",
      minimum=1)
  latent_dim: int = option(64, "VAE: latent dimension.", minimum=1)
  likelihood: str = option(
      "discretized_logistic", "VAE: pixel likelihood p(x|z).",
      choices=VAE_LIKELIHOODS)
  posterior: str = option(
      "gaussian", "VAE: approximate posterior q(z|x): a diagonal Gaussian, "
      "or that Gaussian through RealNVP couplings conditioned on x (Fig. 3b).",
      choices=VAE_POSTERIORS)
  posterior_flow_steps: int = option(
      4, "VAE: affine couplings of the flow posterior (--vae_posterior=flow).",
      minimum=1)
  train_samples: int = option(1, "VAE: samples of q(z|x) in the training "
                              "ELBO.", minimum=1)
  eval_samples: int = option(
      100, "VAE: importance samples K of the IWAE estimate of log p(x).",
      minimum=1)
  n_bits: int = option(8, "Bits per pixel the model sees.", minimum=1,
                       maximum=8)
  dtype: str = option("float32", "Model dtype.", choices=image_model.DTYPES)
  seed: int = option(0, "Seed of the model's initial values.")

  def __post_init__(self):
    image_model.check_image_shape(self)
    validate(self)
    if not self.widths:
      raise ValueError("VAEConfig.widths needs at least one layer, e.g. "
                       "--vae_widths=64,128.")
    if self.posterior == "flow" and self.latent_dim < 2:
      raise ValueError(
          "VAEConfig: the flow posterior couples halves of z and needs "
          f"latent_dim >= 2; got {self.latent_dim}: set --vae_latent_dim=2 or "
          "more, or --vae_posterior=gaussian.")
    image_model.check_divisible(self, 2 ** len(self.widths),
                                f"{len(self.widths)} stride-2 layers",
                                "or use fewer --vae_widths")

  @property
  def num_dims(self):
    """`D = H * W * C`."""
    return image_model.num_dims(self)

  def describe(self):
    """One line naming the model and its size, for progress output and tables."""
    return (f"VAE (widths {','.join(map(str, self.widths))}, "
            f"{self.latent_dim} latents, {self.likelihood} pixels, "
            + (f"flow posterior ({self.posterior_flow_steps} couplings), "
               if self.posterior == "flow" else "")
            + f"IWAE K={self.eval_samples})")

  def replace(self, **changes):
    """A copy with `changes` applied (validated again)."""
    return dataclasses.replace(self, **changes)
