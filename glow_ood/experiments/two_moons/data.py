"""Two-moons data, standardized, with its 2 coordinates copied up to `D` dimensions.

Appendix C of Nalisnick et al. (2019) trains a RealNVP on two moons "copied
... to create data sets of dimensionality of up to 100". Plain numpy, no
scikit-learn.
"""

import numpy as np

__all__ = ["make_moons", "copy_to_dims", "make_copied_moons"]


def make_moons(num_examples, noise=0.1, seed=0, standardize=True):
  """Two interleaving half circles plus Gaussian noise, standardized per column.

  Half of the points (the first `ceil(N / 2)`) lie on the upper moon
  `(cos t, sin t)`, the others on the lower moon `(1 - cos t, 1/2 - sin t)`,
  with `t` uniform on `[0, pi]`; then `N(0, noise^2 I)` is added and, if
  `standardize`, each column is shifted and scaled to mean 0 and standard
  deviation 1 over this sample (so `mean(x**2) = 1` per column exactly).

  Args:
    num_examples: Python `int`, `N >= 2`.
    noise: Python `float >= 0`, standard deviation of the Gaussian noise
      (before standardization). Default value: `0.1`.
    seed: Python `int`, for `numpy.random.default_rng`. Default value: `0`.
    standardize: Python `bool`. Default value: `True`.

  Returns:
    `float32` array `[N, 2]`.
  """
  num_examples = int(num_examples)
  if num_examples < 2:
    raise ValueError(f"num_examples must be >= 2 to standardize; got "
                     f"{num_examples}.")
  if noise < 0:
    raise ValueError(f"noise is a standard deviation, >= 0; got {noise}.")
  rng = np.random.default_rng(seed)
  num_upper = (num_examples + 1) // 2
  t = rng.uniform(0., np.pi, num_examples)
  upper = np.stack([np.cos(t[:num_upper]), np.sin(t[:num_upper])], axis=-1)
  lower = np.stack([1. - np.cos(t[num_upper:]), 0.5 - np.sin(t[num_upper:])],
                   axis=-1)
  x = np.concatenate([upper, lower]) + noise * rng.standard_normal(
      [num_examples, 2])
  if standardize:
    x = (x - x.mean(axis=0)) / x.std(axis=0)
  return x.astype(np.float32)


def copy_to_dims(x, num_dims, jitter=0., seed=0):
  """Tiles the 2 columns of `x` to `num_dims`: `[x1, x2, x1, x2, ...]`.

  `y[:, j] = x[:, j % 2] + jitter * e[:, j]` for `j >= 2`, `e ~ N(0, 1)`
  independent per copy; the first two columns are `x` itself.

  With `jitter = 0` (the paper's copies) the data lie on a 2-D plane in
  `R^D`: their density is degenerate, and maximum likelihood is unbounded for
  `D > 2`. A flow can expand the `D - 2` directions across the plane (gaining
  log-det without spreading the latents), or shear the copies onto each other
  (`x_b - x_a`, volume-preserving) and shrink the whole plane towards `z = 0`.
  Training then never converges, and how far it goes depends on the number
  of steps. `jitter > 0` gives the data a full-rank `D`-dimensional density,
  bounded likelihood for every `D`.

  Args:
    x: array `[N, 2]`.
    num_dims: Python `int`, `D`, even and `>= 2`.
    jitter: Python `float >= 0`, standard deviation of the independent noise
      added to each copy. Default value: `0.` (exact copies).
    seed: Python `int` or sequence of `int`s, for the jitter's
      `numpy.random.default_rng`. Default value: `0`.

  Returns:
    `float32` array `[N, D]`.

  Raises:
    ValueError: if `x` is not `[N, 2]`, `num_dims` is odd or `< 2`, or
      `jitter < 0`.
  """
  x = np.asarray(x, np.float32)
  if x.ndim != 2 or x.shape[1] != 2:
    raise ValueError(f"x must have shape [N, 2]; got {x.shape}.")
  if int(num_dims) != num_dims or num_dims < 2 or num_dims % 2:
    raise ValueError(
        f"num_dims must be an even integer >= 2 (whole copies of the 2 "
        f"two-moons coordinates); got {num_dims}.")
  if jitter < 0:
    raise ValueError(f"jitter is a standard deviation, >= 0; got {jitter}.")
  y = np.tile(x, [1, int(num_dims) // 2])
  if jitter > 0 and num_dims > 2:
    rng = np.random.default_rng(seed)
    y[:, 2:] += jitter * rng.standard_normal(y[:, 2:].shape).astype(np.float32)
  return y


def make_copied_moons(num_examples, num_dims, noise=0.1, jitter=0., seed=0):
  """`[N, D]`: `copy_to_dims(make_moons(N, noise, seed), D, jitter, [seed, 1])`.

  The jitter uses the seed `[seed, 1]`, a random stream independent of the
  moons' (`default_rng(seed)` for both would reuse the same bits).
  """
  return copy_to_dims(make_moons(num_examples, noise=noise, seed=seed),
                      num_dims, jitter=jitter, seed=[seed, 1])
