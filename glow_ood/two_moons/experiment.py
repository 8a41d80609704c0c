"""Appendix C of Nalisnick et al. (2019): the limiting bounds of Eq. 8 and 9 on two moons.

For each coupling scale and each dimensionality `D`, a RealNVP (`realnvp.py`)
is trained by maximum likelihood on two moons copied to `D` dimensions
(`data.py`), and the two terms of `log p(x) = log p(z) + log|det df/dx|` are
averaged over held-out draws and compared with their upper bounds:

  E[log p(z)]   <= -D/2 log(2 pi)    the log-mode of N(0, I_D) (sigma = 1)
  E[log|det|]   <= D log L           "exp" scale (Eq. 8)
  E[log|det|]   <= 0                 "sigmoid" scale (Eq. 9)

`L` is estimated as `max_x sigma_max(df/dx (x))` over the evaluation points
(`realnvp.jacobian_spectral_norms`). As `|det J| <= sigma_max(J)^D` at every
point, the mean log-det over those points is always below `D log L`; the
estimate is a lower bound of the true Lipschitz constant, so the dashed
curve is the tightest `D log L` consistent with the points seen.

Paper (Figure 8): with "exp", E[log p(z)] falls and E[log|det|] rises with
`D`; with "sigmoid", both fall. This CPU-sized default (2 CPU cores, about
80 s of CPU time) gives, at D = 2 / 20 / 60 / 100: "exp" E[log p(z)] -2.9 /
-23.5 / -75.4 / -113.9 nats (bounds -1.8 / -18.4 / -55.1 / -91.9),
E[log|det|] 0.7 / 60.5 / 200.9 / 340.1; "sigmoid" E[log p(z)] within 0.6
nats of its bound at D = 2 and within 0.05 from D = 10 on, and E[log|det|] between
-0.02 and 0 for every D (the bound, not a downward trend).

  results = run(TwoMoonsConfig(dims=(2, 10)),
                output_path="runs/two_moons/results.json", progress=print)
"""

import dataclasses
import json
import os
import time

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import optimizers
from glow_ood.two_moons import data
from glow_ood.two_moons import realnvp

__all__ = ["SCALES", "TwoMoonsConfig", "log_prob_z_bound", "log_det_bound",
           "train_cell", "run"]

SCALES = ("exp", "sigmoid")

# Fields that may differ between runs sharing one results file: they select
# cells, they do not change a cell's result.
_GRID_FIELDS = ("dims", "scales")


@dataclasses.dataclass(frozen=True)
class TwoMoonsConfig:
  """The experiment grid, the data, the flow and its training.

  Attributes:
    dims: even dimensionalities `D`. Default value: `(2, 10, 20, 40, 60, 80,
      100)`.
    scales: coupling scales, from `SCALES`. Default value: `("exp",
      "sigmoid")`.
    num_examples: training points. Default value: `1000`.
    num_eval_examples: held-out points for the reported means and `L`.
      Default value: `1000`.
    noise: two-moons noise standard deviation (before standardization).
      Default value: `0.1`.
    jitter: standard deviation of independent noise added to each copy
      (`data.copy_to_dims`). Default value: `0.`, the paper's exact copies.
      Their likelihood is unbounded for `D > 2` (the data lie on a plane), so
      the terms depend on `train_steps`: "exp" keeps gaining log-det (the
      divergence of Figure 8(a); `max_log_scale` keeps it finite), "sigmoid"
      collapses the latents towards 0 with shifts, which cost no volume, so
      E[log p(z)] approaches its bound. `jitter=0.01` makes the density
      proper and, with the other defaults, gave the same curves (exp,
      D = 100: E log p(z) -122 vs -114, E log det 339 vs 340; sigmoid within
      0.03 nats of the exact-copy values), so the default stays with the
      paper.
    num_couplings: coupling layers. Default value: `4`.
    hidden_width: units per hidden layer of each coupling MLP. Default value:
      `64`.
    num_hidden_layers: hidden layers per coupling MLP. Default value: `2`.
    max_log_scale: bound `c` on the "exp" couplings' log-scales, `c tanh(s /
      c)` (`realnvp.build_realnvp`); `None` for none. Default value: `3.`.
    train_steps: Adam steps per cell. Default value: `1000`.
    max_grad_norm: gradients are rescaled to this global norm when larger
      (`tf.clip_by_global_norm`); `None` for no clipping. Default value:
      `100.` (unclipped, the "exp" flow at D = 80 had a loss spike to +866
      nats at step ~850 and ended at a training NLL of -63 nats; clipped, at
      -174, between D = 60's -127 and D = 100's -227).
    batch_size: minibatch size (sampled with replacement). Default value:
      `256`.
    learning_rate: Adam step size. Default value: `1e-3`.
    seed: data and initialization seed. Default value: `0`.
  """
  dims: tuple = (2, 10, 20, 40, 60, 80, 100)
  scales: tuple = SCALES
  num_examples: int = 1000
  num_eval_examples: int = 1000
  noise: float = 0.1
  jitter: float = 0.
  num_couplings: int = 4
  hidden_width: int = 64
  num_hidden_layers: int = 2
  max_log_scale: float = 3.
  train_steps: int = 1000
  max_grad_norm: float = 100.
  batch_size: int = 256
  learning_rate: float = 1e-3
  seed: int = 0

  def __post_init__(self):
    object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))
    object.__setattr__(self, "scales", tuple(self.scales))
    if not self.dims:
      raise ValueError("dims is empty; give at least one even D, e.g. (2, 10).")
    bad_dims = [d for d in self.dims if d < 2 or d % 2]
    if bad_dims:
      raise ValueError(
          f"dims must be even integers >= 2 (whole copies of the 2 two-moons "
          f"coordinates); got {bad_dims} in {self.dims}.")
    if len(set(self.dims)) != len(self.dims):
      raise ValueError(f"dims has duplicates: {self.dims}.")
    if not self.scales:
      raise ValueError(f"scales is empty; choose from {SCALES}.")
    unknown = [s for s in self.scales if s not in SCALES]
    if unknown:
      raise ValueError(f"Unknown coupling scale(s) {unknown}; choose from "
                       f"{SCALES}.")
    if len(set(self.scales)) != len(self.scales):
      raise ValueError(f"scales has duplicates: {self.scales}.")
    for name in ("num_examples", "num_eval_examples", "num_couplings",
                 "hidden_width", "num_hidden_layers", "train_steps",
                 "batch_size"):
      if int(getattr(self, name)) < 1:
        raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}.")
    if self.num_examples < 2 or self.num_eval_examples < 2:
      raise ValueError("num_examples and num_eval_examples must be >= 2 (the "
                       "data are standardized per sample).")
    if not self.learning_rate > 0:
      raise ValueError(f"learning_rate must be > 0; got {self.learning_rate}.")
    if self.max_log_scale is not None and not self.max_log_scale > 0:
      raise ValueError(f"max_log_scale must be > 0 or None; got "
                       f"{self.max_log_scale}.")
    if self.max_grad_norm is not None and not self.max_grad_norm > 0:
      raise ValueError(f"max_grad_norm must be > 0 or None; got "
                       f"{self.max_grad_norm}.")
    if self.noise < 0 or self.jitter < 0:
      raise ValueError(f"noise and jitter are standard deviations, >= 0; got "
                       f"noise={self.noise}, jitter={self.jitter}.")


def log_prob_z_bound(num_dims):
  """`-D/2 log(2 pi)`: the log-density of `N(0, I_D)` at its mode."""
  return -0.5 * num_dims * np.log(2. * np.pi)


def log_det_bound(num_dims, scale, lipschitz):
  """`D log L` for `"exp"` (Eq. 8), `0` for `"sigmoid"` (Eq. 9)."""
  if scale == "exp":
    return num_dims * np.log(lipschitz)
  if scale == "sigmoid":
    return 0.
  raise ValueError(f"Unknown coupling scale {scale!r}; choose one of {SCALES}.")


def _cell_seed(seed, num_dims, scale):
  """An `int` seed per (seed, D, scale): a resumed cell equals a fresh one."""
  sequence = np.random.SeedSequence([seed, num_dims, SCALES.index(scale)])
  return int(sequence.generate_state(1)[0] % (2**31 - 1))


def _train_and_eval_data(config, num_dims):
  """`[N, D]` training and `[N_eval, D]` held-out points, both float32.

  Independent two-moons draws (seeds `seed` and `seed + 1`), both
  standardized with the training draw's mean and standard deviation, then
  copied to `D` dimensions.
  """
  train = data.make_moons(config.num_examples, noise=config.noise,
                          seed=config.seed, standardize=False)
  held_out = data.make_moons(config.num_eval_examples, noise=config.noise,
                             seed=config.seed + 1, standardize=False)
  mean, std = train.mean(axis=0), train.std(axis=0)
  return tuple(
      data.copy_to_dims((x - mean) / std, num_dims, jitter=config.jitter,
                        seed=[config.seed + i, 1])
      for i, x in enumerate([train, held_out]))


def _mean_terms(flow, x, batch_size=1000):
  """`(mean log p(z), mean log|det|)` over the rows of `x` (numpy floats)."""
  log_prob_z, log_det = [], []
  for start in range(0, len(x), batch_size):
    lpz, ld = realnvp.log_likelihood_terms(
        flow, tf.constant(x[start:start + batch_size]))
    log_prob_z.append(lpz.numpy())
    log_det.append(ld.numpy())
  return (float(np.mean(np.concatenate(log_prob_z), dtype=np.float64)),
          float(np.mean(np.concatenate(log_det), dtype=np.float64)))


def train_cell(config, scale, num_dims):
  """Trains one RealNVP on `D`-dimensional copied moons and measures the terms.

  Args:
    config: `TwoMoonsConfig`.
    scale: `"exp"` or `"sigmoid"`.
    num_dims: even `int`, `D`.

  Returns:
    JSON-serializable `dict` with `scale`, `num_dims`, `mean_log_prob_z`,
    `log_prob_z_bound`, `mean_log_det`, `log_det_bound`, `lipschitz` (max
    Jacobian spectral norm over the evaluation points), `final_nll` (mean
    `-log p(x)` over the evaluation points), `final_train_nll` (same over the
    training set), `train_steps` and `train_seconds`; all in nats.

  Raises:
    FloatingPointError: if the training loss becomes non-finite.
  """
  if scale not in SCALES:
    raise ValueError(f"Unknown coupling scale {scale!r}; choose one of "
                     f"{SCALES}.")
  start_time = time.perf_counter()
  seed = _cell_seed(config.seed, num_dims, scale)
  train_x, eval_x = _train_and_eval_data(config, num_dims)
  flow = realnvp.build_realnvp(
      num_dims, scale, num_couplings=config.num_couplings,
      hidden_width=config.hidden_width,
      num_hidden_layers=config.num_hidden_layers,
      max_log_scale=config.max_log_scale, seed=seed)
  variables = flow.trainable_variables
  optimizer = optimizers.Adam(variables)
  learning_rate = tf.constant(config.learning_rate, tf.float32)

  @tf.function(input_signature=[tf.TensorSpec([None, num_dims], tf.float32)])
  def train_step(x):
    with tf.GradientTape() as tape:
      log_prob_z, log_det = realnvp.log_likelihood_terms(flow, x)
      loss = -tf.reduce_mean(log_prob_z + log_det)
    grads = tape.gradient(loss, variables)
    if config.max_grad_norm is not None:
      grads, _ = tf.clip_by_global_norm(grads, config.max_grad_norm)
    with tf.control_dependencies(
        [optimizer.assign(*optimizer.updates(grads, learning_rate))]):
      return tf.identity(loss)

  rng = np.random.default_rng(seed)
  train_tensor = tf.constant(train_x)
  for step in range(1, config.train_steps + 1):
    indices = rng.integers(0, len(train_x), config.batch_size)
    loss = float(train_step(tf.gather(train_tensor, indices)))
    if not np.isfinite(loss):
      raise FloatingPointError(
          f"The {scale!r} RealNVP on D={num_dims} diverged: loss {loss} at "
          f"step {step}. Lower the learning rate ({config.learning_rate}), "
          f"the number of steps ({config.train_steps}), max_grad_norm "
          f"({config.max_grad_norm}) or max_log_scale "
          f"({config.max_log_scale}), or add jitter ({config.jitter}) to the "
          "copies.")
  mean_log_prob_z, mean_log_det = _mean_terms(flow, eval_x)
  train_log_prob_z, train_log_det = _mean_terms(flow, train_x)
  lipschitz = float(np.max(realnvp.jacobian_spectral_norms(flow, eval_x)))
  return {
      "scale": scale,
      "num_dims": int(num_dims),
      "mean_log_prob_z": mean_log_prob_z,
      "log_prob_z_bound": float(log_prob_z_bound(num_dims)),
      "mean_log_det": mean_log_det,
      "log_det_bound": float(log_det_bound(num_dims, scale, lipschitz)),
      "lipschitz": lipschitz,
      "final_nll": -(mean_log_prob_z + mean_log_det),
      "final_train_nll": -(train_log_prob_z + train_log_det),
      "train_steps": int(config.train_steps),
      "train_seconds": time.perf_counter() - start_time,
  }


def _config_dict(config):
  values = dataclasses.asdict(config)
  return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _load_cells(path, config):
  """`{(scale, D): cell}` from a results file written with a compatible config."""
  if path is None or not os.path.exists(path):
    return {}
  with open(path, encoding="utf-8") as f:
    try:
      saved = json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f"{path} is not valid JSON ({e}); delete it or use "
                       "another output file.") from e
  if not (isinstance(saved, dict) and "config" in saved and "cells" in saved):
    raise ValueError(f"{path} is not a two-moons results file (no 'config' "
                     "and 'cells'); use another output file.")
  current = _config_dict(config)
  changed = [f"{name}={saved['config'].get(name)!r} in the file, "
             f"{current[name]!r} now"
             for name in current
             if name not in _GRID_FIELDS
             and saved["config"].get(name) != current[name]]
  if changed:
    raise ValueError(
        f"{path} holds results of another configuration ("
        + "; ".join(changed) + "). Use the same settings to resume, or "
        "another output file.")
  return {(c["scale"], c["num_dims"]): c for c in saved["cells"]}


def _sorted_cells(cells):
  return sorted(cells.values(),
                key=lambda c: (SCALES.index(c["scale"]), c["num_dims"]))


def _write_json(path, results):
  """Writes atomically: a crash leaves the previous file intact."""
  parent = os.path.dirname(path)
  if parent:
    os.makedirs(parent, exist_ok=True)
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    json.dump(results, f, indent=1)
  os.replace(path + ".tmp", path)


def _summary(cell):
  return (f"E log p(z) {cell['mean_log_prob_z']:.2f} (bound "
          f"{cell['log_prob_z_bound']:.2f}), E log det {cell['mean_log_det']:.2f} "
          f"(bound {cell['log_det_bound']:.2f}), NLL {cell['final_nll']:.2f}")


def run(config, output_path=None, progress=None):
  """Runs every (scale, D) cell of `config`; resumable through `output_path`.

  Args:
    config: `TwoMoonsConfig`.
    output_path: optional path of a JSON results file. Cells already in it
      are not retrained; the file is rewritten after each new cell. Its
      configuration must match `config` except for `dims` and `scales`
      (cells outside this grid are kept). Default value: `None` (no file).
    progress: optional callable taking one `str` line per cell.
      Default value: `None`.

  Returns:
    JSON-serializable `dict`: `"config"` (this config as a dict), `"cells"`
    (list of `train_cell` dicts, ordered by scale then `D`), and
    `"num_trained_cells"` (cells trained by this call, not resumed).

  Raises:
    ValueError: if `output_path` holds results of another configuration.
  """
  cells = _load_cells(output_path, config)
  grid = [(scale, d) for scale in config.scales for d in config.dims]
  num_trained = 0
  for index, (scale, num_dims) in enumerate(grid, start=1):
    prefix = f"[{index}/{len(grid)}] {scale:<7} D={num_dims:<3}"
    if (scale, num_dims) in cells:
      if progress:
        progress(f"{prefix} resumed from {output_path}: "
                 f"{_summary(cells[scale, num_dims])}")
      continue
    cell = train_cell(config, scale, num_dims)
    cells[scale, num_dims] = cell
    num_trained += 1
    if output_path is not None:
      _write_json(output_path, {"config": _config_dict(config),
                                "cells": _sorted_cells(cells)})
    if progress:
      progress(f"{prefix} trained in {cell['train_seconds']:.1f} s: "
               f"{_summary(cell)}")
  return {"config": _config_dict(config), "cells": _sorted_cells(cells),
          "num_trained_cells": num_trained}
