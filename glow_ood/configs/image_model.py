"""What every model config over images shares: its dtypes and shape checks.

Every family's config has `image_shape`, `n_bits`, `dtype` and `seed`
(`families.SHARED_FIELDS`), with the same meaning, so the programs define one
flag for each whatever the family; these helpers check the shape.
"""

DTYPES = ("float32", "float64")

__all__ = ["DTYPES", "num_dims", "check_image_shape", "check_divisible"]


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
