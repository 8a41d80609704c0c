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

import os
import time

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import fileio

from glow_ood.configs import serialization
from glow_ood.configs.two_moons import GRID_FIELDS
from glow_ood.configs.two_moons import SCALES
from glow_ood.experiments.two_moons import data
from glow_ood.experiments.two_moons import realnvp
from glow_ood.runs import folder as run_folder
from glow_ood.train import optimizers

__all__ = ["log_prob_z_bound", "log_det_bound",
           "train_cell", "run"]






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


# The numbers of a cell that the table, the figure and resuming read.
_NUMBERS = ("mean_log_prob_z", "log_prob_z_bound", "mean_log_det",
            "log_det_bound", "lipschitz", "final_nll")


def _config_dict(config):
  return serialization.to_dict(config)["config"]


def _load_cells(path, config):
  """`{(scale, D): cell}` from a results file written with a compatible config."""
  if path is None or not os.path.exists(path):
    return {}
  saved = fileio.read_json(
      path, "two-moons results file",
      fix="delete it and re-run the same command to retrain its cells")
  if not ("config" in saved and "cells" in saved):
    raise ValueError(f"{path} is not a two-moons results file (no 'config' "
                     "and 'cells'); use another output file.")
  cells = saved["cells"]
  if not (isinstance(cells, list) and isinstance(saved["config"], dict) and
          all(isinstance(c, dict) and c.get("scale") in SCALES and
              isinstance(c.get("num_dims"), int) and
              all(isinstance(c.get(k), (int, float)) for k in _NUMBERS)
              for c in cells)):
    raise ValueError(f"{path} is damaged (its 'config' or 'cells' are not "
                     "those this program writes): delete it and re-run the "
                     "same command to retrain its cells.")
  run_folder.check_compatible(saved["config"], _config_dict(config), path,
                              ignore=GRID_FIELDS,
                              fix="use the same settings, or another output "
                              "file")
  return {(c["scale"], c["num_dims"]): c for c in cells}


def _sorted_cells(cells):
  return sorted(cells.values(),
                key=lambda c: (SCALES.index(c["scale"]), c["num_dims"]))




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
  if output_path is not None:
    fileio.check_writable(os.path.dirname(os.path.abspath(output_path)),
                          "output_path's folder")
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
      fileio.write_json(output_path, {"config": _config_dict(config),
                                      "cells": _sorted_cells(cells)})
    if progress:
      progress(f"{prefix} trained in {cell['train_seconds']:.1f} s: "
               f"{_summary(cell)}")
  return {"config": _config_dict(config), "cells": _sorted_cells(cells),
          "num_trained_cells": num_trained}
