"""`PixelCNNConfig`: the frozen description of a PixelCNN++ model (`tfd.PixelCNN`)."""

import dataclasses
from typing import Tuple

from glow_ood.configs import image_model
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate

__all__ = ["PixelCNNConfig", "PIXELCNN_ACTIVATIONS"]

PIXELCNN_ACTIVATIONS = ("concat_elu", "elu", "relu")


@dataclasses.dataclass(frozen=True)
class PixelCNNConfig:
  """PixelCNN++ (Salimans et al. 2017) as TFP's `tfd.PixelCNN` builds it.

  An autoregressive model over the pixels of `[H, W, C]` images with values
  `0 .. 2**n_bits - 1`: each pixel is a mixture of `num_logistic_mix`
  discretized logistics whose parameters come from gated ResNet blocks over
  the causally masked image, and channels are conditioned on the ones before
  them (linear in RGB). The likelihood is the exact discrete probability of
  the image. Salimans et al.'s CIFAR-10 model (2.92 bits/dim): 5 ResNet
  layers per block, 3 hierarchies, 160 filters, 10 mixtures, dropout 0.5.

  Attributes:
    image_shape: `(H, W, C)`.
    num_resnet: gated ResNet layers per block (`tfd.PixelCNN(num_resnet=)`).
    num_hierarchies: blocks at decreasing resolution (each halves H and W,
      so H and W must be divisible by `2**(num_hierarchies - 1)`).
    num_filters: convolution channels.
    num_logistic_mix: logistic components per pixel.
    receptive_field: `(rows, cols)` of the masked convolutions' kernels.
    dropout_p: dropout rate inside the ResNet blocks while training.
    activation: `"concat_elu"` (PixelCNN++), `"elu"` or `"relu"`.
    use_weight_norm: weight-normalized convolutions.
    use_data_init: data-dependent init of the weight norm (on the first
      batch the model sees; the trainer runs it once, cross-replica, on a
      global batch).
    n_bits: bits per pixel (1..8): the model's pixel values are
      `0 .. 2**n_bits - 1`.
    dtype: `"float32"` or `"float64"`.
    seed: seeds the model's initial values.
  """

  image_shape: Tuple[int, int, int] = option(
      (32, 32, 3), "Model input H,W,C; must match the (padded / tiled) data.",
      minimum=1)
  num_resnet: int = option(5, "PixelCNN++: gated ResNet layers per block.",
                           minimum=1)
  num_hierarchies: int = option(
      3, "PixelCNN++: blocks at halving resolutions.", minimum=1)
  num_filters: int = option(160, "PixelCNN++: convolution channels.",
                            minimum=1)
  num_logistic_mix: int = option(
      10, "PixelCNN++: discretized-logistic mixture components per pixel.",
      minimum=1)
  receptive_field: Tuple[int, int] = option(
      (3, 3), "PixelCNN++: rows,cols of the masked convolution kernels.",
      minimum=1)
  dropout_p: float = option(0.5, "PixelCNN++: dropout rate while training.",
                            minimum=0., maximum=1., exclusive_maximum=True)
  activation: str = option("concat_elu", "PixelCNN++: ResNet activation.",
                           choices=PIXELCNN_ACTIVATIONS)
  use_weight_norm: bool = option(True, "PixelCNN++: weight-normalized convs.")
  use_data_init: bool = option(
      True, "PixelCNN++: data-dependent init of the weight norm.")
  n_bits: int = option(8, "Bits per pixel the model sees.", minimum=1,
                       maximum=8)
  dtype: str = option("float32", "Model dtype.", choices=image_model.DTYPES)
  seed: int = option(0, "Seed of the model's initial values.")

  def __post_init__(self):
    image_model.check_image_shape(self)
    validate(self)
    image_model.check_divisible(self, 2 ** (self.num_hierarchies - 1),
                                f"{self.num_hierarchies} hierarchies",
                                "or use fewer --pixelcnn_num_hierarchies")

  @property
  def num_dims(self):
    """`D = H * W * C`."""
    return image_model.num_dims(self)

  def describe(self):
    """One line naming the model and its size, for progress output and tables."""
    def count(number, one, many):
      return f"{number} {one if number == 1 else many}"

    return (f"PixelCNN++ ({count(self.num_hierarchies, 'hierarchy', 'hierarchies')}"
            f" x {count(self.num_resnet, 'ResNet layer', 'ResNet layers')}, "
            f"{self.num_filters} filters, "
            f"{count(self.num_logistic_mix, 'logistic', 'logistics')})")

  def replace(self, **changes):
    """A copy with `changes` applied (validated again)."""
    return dataclasses.replace(self, **changes)
