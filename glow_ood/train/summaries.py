"""What a training run reports: TensorBoard scalars, evaluations and sample grids."""

import contextlib
import functools

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import preprocessing
from glow_ood.data import transforms

__all__ = ["write_scalars", "evaluation_weights", "evaluate", "write_samples"]


def write_scalars(writer, step, values):
  with writer.as_default(step=step):
    for name, value in values.items():
      tf.summary.scalar(name, value)

def evaluation_weights(run):
  """Context in which the model holds its evaluation (EMA, if configured) weights."""
  if run.ema is None:
    return contextlib.nullcontext()
  return run.ema.averaged_weights()

def evaluate(run, evaluator, eval_sets, writer, step):
  """Bits/dim of every evaluation set (EMA weights if configured)."""
  with evaluation_weights(run):
    results = {name: float(np.mean(evaluator(images)))
               for name, images in eval_sets.items()}
  write_scalars(writer, step, {f"bits_per_dim/{k}": v for k, v in results.items()})
  print(f"eval at step {step}: " + "  ".join(
      f"{k} {v:.4f}" for k, v in results.items()), flush=True)
  return results

def write_samples(run, writer, step):
  """Sample grids (EMA weights if configured): Glow's at each temperature,
  the other families' one grid `samples` (no temperature); none if
  `num_samples` is 0."""
  config = run.config
  if not config.num_samples:
    return
  seed = [config.seed, int(step)]
  if config.family == "glow":
    draws = {f"samples/temperature_{t:g}": functools.partial(
        run.model.sample, config.num_samples, t, seed=seed)
             for t in config.sample_temperatures}
  else:
    draws = {"samples": functools.partial(run.model.sample,
                                          config.num_samples, seed=seed)}
  with evaluation_weights(run), writer.as_default(step=step):
    for tag, draw in draws.items():
      images = preprocessing.to_uint8(draw(), config.model.n_bits).numpy()
      tf.summary.image(tag, transforms.image_grid(images), step=step)
