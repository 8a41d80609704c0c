"""The fields every density model over images shares, declared once.

`image_fields()` gives `image_shape`, `n_bits`, `dtype` and `seed` as
`option`s for a model config dataclass (`GlowConfig`, `PixelCNNConfig`,
`VAEConfig`), so the three families describe their input, precision and
seed with the same names, defaults, help and ranges, and the programs define
one flag for each whatever the family.
"""

DTYPES = ("float32", "float64")

# The model families a run can train (`TrainConfig.family`, `--model`).
FAMILIES = ("glow", "pixelcnn", "vae")

__all__ = ["DTYPES", "FAMILIES", "num_dims", "check_image_shape"]


def num_dims(config):
  """`D = H * W * C` of a model config's `image_shape`."""
  h, w, c = config.image_shape
  return h * w * c


def check_image_shape(config):
  """`ValueError` unless `config.image_shape` is `(H, W, C)`."""
  shape = config.image_shape
  if not isinstance(shape, (tuple, list)) or len(shape) != 3:
    raise ValueError(
        f"{type(config).__name__}.image_shape must be (H, W, C) of positive "
        f"ints; got {shape}.")
