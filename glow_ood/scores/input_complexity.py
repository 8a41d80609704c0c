"""Input complexity (Serra et al. 2020): likelihood corrected by compressed length."""

import io
import zlib

import numpy as np
from PIL import Image

from glow_ood.scores import base

__all__ = ["InputComplexity", "COMPRESSORS", "UNITS", "compressed_bits"]

COMPRESSORS = ("png", "zlib")
UNITS = ("bits_per_dim", "bits")
_COMPRESSION_LEVEL = 9  # maximum, for both compressors


def _png_bytes(image):
  channels = image.shape[-1]
  if channels not in (1, 2, 3, 4):
    raise ValueError(f"PNG stores 1 to 4 channels (L, LA, RGB, RGBA); got "
                     f"{channels}. Use compressor='zlib'.")
  buffer = io.BytesIO()
  Image.fromarray(image[..., 0] if channels == 1 else image).save(
      buffer, format="PNG", compress_level=_COMPRESSION_LEVEL)
  return len(buffer.getvalue())


def _zlib_bytes(image):
  return len(zlib.compress(np.ascontiguousarray(image).tobytes(),
                           _COMPRESSION_LEVEL))


def compressed_bits(images, compressor="png"):
  """`L(x)`: length in bits of the lossless compression of each image.

  Args:
    images: uint8 `[N, H, W, C]`.
    compressor: `"png"` (Pillow's PNG writer, `compress_level=9`; 1..4
      channels) or `"zlib"` (DEFLATE level 9 of the raw row-major bytes, any
      `C`). Default value: `"png"`.

  Returns:
    float64 `[N]`, `8 * (bytes of the file)`. Includes the format's constant
    overhead (PNG signature and chunks: about 57 bytes; zlib: 6), which shifts
    every score of a given image size equally.
  """
  if compressor not in COMPRESSORS:
    raise ValueError(f"Unknown compressor {compressor!r}; choose one of "
                     f"{COMPRESSORS}.")
  images = np.asarray(images)
  if images.dtype != np.uint8 or images.ndim != 4:
    raise ValueError(f"compressed_bits needs uint8 [N, H, W, C] images; got "
                     f"{images.dtype} of shape {images.shape}.")
  length = _png_bytes if compressor == "png" else _zlib_bytes
  return 8. * np.array([length(image) for image in images], np.float64)


class InputComplexity(base.Score):
  """`S(x) = -log2 p(x) - L(x)`, `L(x)` the compressed length of `x` in bits.

  Serra et al. explain the failure of likelihood by input complexity: simple
  inputs (constant, smooth, SVHN-like) get high likelihood under any model. A
  lossless compressor is a universal model with `-log2 p_0(x) ~= L(x)`, so

      S(x) = -log2 p(x) + log2 p_0(x)      (higher = more OOD)

  is a likelihood ratio against it. With `units="bits_per_dim"` both terms are
  divided by `D` (as the paper reports them); the ranking is the same.

  `log p(x)` is `Features.discrete_log_prob` (the discrete log-probability of
  the images at the model's `n_bits`, not the continuous density). If
  `n_bits < 8`, pass the images reduced to those levels, so that the model and
  the compressor see the same inputs.

  Args:
    compressor: `"png"` or `"zlib"` (see `compressed_bits`); recorded in
      `config()` with its level (9). Default value: `"png"`.
    units: `"bits_per_dim"` or `"bits"`. Default value: `"bits_per_dim"`.

  #### References
  [1]: Serra, Alvarez, Gomez, Slizovskaia, Nunez, Luque. Input Complexity and
       Out-of-Distribution Detection with Likelihood-based Generative Models.
       ICLR 2020. https://arxiv.org/abs/1909.11480
  """
  name = "input_complexity"
  required_features = ("discrete_log_prob", "num_dims", "images")

  def __init__(self, compressor="png", units="bits_per_dim"):
    super().__init__()
    if compressor not in COMPRESSORS:
      raise ValueError(f"InputComplexity: unknown compressor {compressor!r}; "
                       f"choose one of {COMPRESSORS}.")
    if units not in UNITS:
      raise ValueError(f"InputComplexity: unknown units {units!r}; choose one "
                       f"of {UNITS}.")
    self.compressor = compressor
    self.units = units

  def complexity(self, features):
    """`L(x)` in the score's units: float64 `[N]`."""
    needed = ("images", "num_dims") if self.units == "bits_per_dim" else (
        "images",)
    if features.missing(needed):
      raise ValueError(f"InputComplexity.complexity needs Features fields "
                       f"{needed}; missing {features.missing(needed)}.")
    bits = compressed_bits(features.images, self.compressor)
    return bits / features.num_dims if self.units == "bits_per_dim" else bits

  def _score(self, features):
    nll_bits = -features.discrete_log_prob / np.log(2.)
    if self.units == "bits_per_dim":
      nll_bits = nll_bits / features.num_dims
    return nll_bits - self.complexity(features)

  def _config(self):
    return {"compressor": self.compressor,
            "compression_level": _COMPRESSION_LEVEL, "units": self.units}
