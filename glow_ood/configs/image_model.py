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

__all__ = ["DTYPES", "FAMILIES", "num_dims", "check_image_shape",
           "check_divisible"]


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


def check_divisible(config, factor, needs, fix):
  """`ValueError` unless H and W of `config.image_shape` divide by `factor`.

  Args:
    config: a model config.
    factor: Python `int`, e.g. `2**num_levels`.
    needs: what needs it, e.g. `"3 levels"`.
    fix: the fix, e.g. `"or use fewer levels"`.
  """
  shape = config.image_shape
  if shape[0] % factor or shape[1] % factor:
    raise ValueError(
        f"{type(config).__name__}: {needs} need H and W divisible by "
        f"{factor}; image_shape is {shape}. Pad the images (28x28 -> 32x32, "
        f"--pad_to=32) {fix}.")
