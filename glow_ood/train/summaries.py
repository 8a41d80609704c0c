"""What a training run reports to TensorBoard: scalars with units, evaluations, sample grids.

A run folder's events (`RunWriters`) are laid out as Keras' TensorBoard
callback lays out its `train/` and `validation/` runs: one tag per quantity,
one folder (a TensorBoard run) per source of data, so that one chart overlays
the training loss and every evaluation set:

    <workdir>/            hparams and the config.json text (`glow_ood.train.hparams`)
    <workdir>/train/      bits_per_dim (the loss), log_prob_z, log_det (Glow),
                          reconstruction, kl (VAE), learning_rate, grad_norm,
                          images_per_second, skipped_steps, loss_scale (float16)
    <workdir>/eval/       bits_per_dim/<dataset>/<split> of every evaluation set
                          (one run, read by `glow_ood.plots.read_scalars` for
                          Figure 5b), sample grids
    <workdir>/eval_sets/<dataset>/<split>/
                          bits_per_dim of that set (the number eval/ holds),
                          and for a Glow log_prob_z, log_det, their per-level
                          terms log_prob_z/level_<l>, log_det/level_<l> (l = 0
                          finest) and log_det/<kind> (actnorm, permutation,
                          coupling, other)

So the chart `bits_per_dim` shows the runs `train` and `eval_sets/*/*`, the
charts `log_prob_z` and `log_det` the same for a Glow. Units: bits/dim for
`bits_per_dim*`, nats per image for the likelihood terms (`DESCRIPTIONS`, the
scalars' TensorBoard descriptions, says which is which); runs written before
`eval_sets/` existed keep their `train/` and `eval/` tags, which are unchanged.
"""

import contextlib
import functools
import os

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import preprocessing
from glow_ood.configs import families
from glow_ood.data import transforms

__all__ = ["TRAIN_DIR", "EVAL_DIR", "EVAL_SETS_DIR", "DESCRIPTIONS",
           "describe", "RunWriters", "write_scalars", "likelihood_scalars",
           "evaluation_weights", "evaluate", "write_samples"]

TRAIN_DIR = "train"
EVAL_DIR = "eval"
EVAL_SETS_DIR = "eval_sets"

_NATS = "nats per image"

# Tag (or the part before the first "/") -> description, with units.
DESCRIPTIONS = {
    "bits_per_dim": (
        "Bits per dimension, -log2 P(image) / (H W C). In train/: the "
        "training loss, mean over the batches since the previous log line "
        "(uniformly dequantized images; for a VAE the negative ELBO). "
        "Elsewhere: the evaluation set's mean at the bin centres (a VAE's "
        "importance-sampled estimate), EMA weights if the run keeps them."),
    "log_prob_z": (
        f"log p(z), {_NATS}: the latents' log-density under the priors "
        "(their log-dets included, as openai/glow); mean over the images."),
    "log_det": (
        f"log|det dz/dx|, {_NATS}: the flow's volume term; mean over the "
        "images. log p(x) = log p(z) + log|det|."),
    "discrete_log_prob": (
        f"log P(image), {_NATS}: the discrete log-likelihood of the 8-bit "
        "images (log p(x) - D n_bits log 2); mean over the images."),
    "reconstruction": (
        f"VAE reconstruction term E_q log p(x | z), {_NATS}; mean over the "
        "training batches since the previous log line."),
    "kl": (f"VAE KL(q(z | x) || p(z)) (the rate), {_NATS}; mean over the "
           "training batches since the previous log line. Closed form for "
           "the Gaussian posterior; for --vae_posterior=flow the Monte Carlo "
           "estimate log q(z | x) - log p(z) at the training samples of z."),
    "learning_rate": "Learning rate of the last step (after warm-up).",
    "grad_norm": ("Global L2 norm of the loss's gradient (the loss in "
                  "bits/dim) at the last step, before clipping."),
    "images_per_second": "Training throughput since the previous log line, "
                         "images per second.",
    "skipped_steps": "Training steps skipped since the run started "
                     "(non-finite loss, gradient or update), a count.",
    "loss_scale": "float16 dynamic loss scale (a factor).",
}


def describe(tag):
  """The description of `tag` (its own, or its first component's), or `None`."""
  return DESCRIPTIONS.get(tag, DESCRIPTIONS.get(tag.split("/", 1)[0]))


class RunWriters:
  """The TensorBoard writers of a run folder (see the module docstring for what each holds).

  Attributes:
    root: the run folder's own writer (`glow_ood.train.hparams`).
    train: `train/`.
    eval: `eval/`.

  Args:
    workdir: the run folder.
    enabled: `False` gives no-op writers (a worker that is not the chief).
  """

  def __init__(self, workdir, enabled=True):
    self._workdir = workdir
    self._enabled = bool(enabled)
    self._sets = {}
    self.root = self._make("")
    self.train = self._make(TRAIN_DIR)
    self.eval = self._make(EVAL_DIR)

  def _make(self, folder):
    if not self._enabled:
      return tf.summary.create_noop_writer()
    return tf.summary.create_file_writer(os.path.join(self._workdir, folder))

  def eval_set(self, name):
    """The writer of `eval_sets/<name>/` (`name` is `"<dataset>/<split>"`)."""
    if name not in self._sets:
      self._sets[name] = self._make(os.path.join(EVAL_SETS_DIR, name))
    return self._sets[name]

  def flush(self):
    for writer in (self.root, self.train, self.eval, *self._sets.values()):
      writer.flush()


def write_scalars(writer, step, values):
  """`tf.summary.scalar` of each `name -> value`, described by `describe(name)`."""
  with writer.as_default(step=step):
    for name, value in values.items():
      tf.summary.scalar(name, value, description=describe(name))


def likelihood_scalars(scores):
  """Scalars of a `likelihood_terms.LikelihoodTerms`: the means of its terms (nats per image).

  `log_prob_z`, `log_det`, `log_prob_z/level_<l>`, `log_det/level_<l>`,
  `log_det/<kind>`; `{}` for a model without the decomposition (PixelCNN,
  VAE).
  """
  if not scores.has_decomposition:
    return {}
  values = {"log_prob_z": np.mean(scores.log_prob_z),
            "log_det": np.mean(scores.log_det)}
  for name in ("log_prob_z", "log_det"):
    per_level = np.mean(getattr(scores, f"{name}_per_level"), axis=0)
    values.update({f"{name}/level_{l}": v for l, v in enumerate(per_level)})
  values.update({f"log_det/{kind}": np.mean(v)
                 for kind, v in sorted(scores.log_det_per_kind.items())})
  return {k: float(v) for k, v in values.items()}


def evaluation_weights(run):
  """Context in which the model holds its evaluation (EMA, if configured) weights."""
  if run.ema is None:
    return contextlib.nullcontext()
  return run.ema.averaged_weights()


def evaluate(run, evaluator, eval_sets, writers, step, scorer=None):
  """Bits/dim of every evaluation set (EMA weights if configured), written and returned.

  Writes `bits_per_dim/<set>` to `writers.eval` and, per set,
  `bits_per_dim` (the same number) and, with a `scorer`, the likelihood
  terms (`likelihood_scalars`) to `writers.eval_set(<set>)`.

  Args:
    run: the `TrainState`.
    evaluator: uint8 images -> per-example bits/dim; used without `scorer`.
    eval_sets: `{"<dataset>/<split>": uint8 images}`.
    writers: `RunWriters`.
    step: Python `int`.
    scorer: uint8 images -> `likelihood_terms.LikelihoodTerms` (a Glow's, with
      the decomposition), or `None`; if given, the one pass over each set
      (its `bits_per_dim` the results, as `launch/evaluate.py` computes
      them), and `evaluator` is not called.

  Returns:
    `{set name: mean bits/dim}`.
  """
  with evaluation_weights(run):
    if scorer is None:
      results = {name: float(np.mean(evaluator(images)))
                 for name, images in eval_sets.items()}
      terms = {}
    else:
      scores = {name: scorer(images) for name, images in eval_sets.items()}
      results = {name: float(np.mean(s.bits_per_dim))
                 for name, s in scores.items()}
      terms = {name: likelihood_scalars(s) for name, s in scores.items()}
  write_scalars(writers.eval, step,
                {f"bits_per_dim/{k}": v for k, v in results.items()})
  for name, value in results.items():
    write_scalars(writers.eval_set(name), step,
                  dict(bits_per_dim=value, **terms.get(name, {})))
  print(f"eval at step {step}: " + "  ".join(
      f"{k} {v:.4f}" for k, v in results.items()), flush=True)
  return results


def write_samples(run, writer, step):
  """Sample grids (EMA weights if configured): one per temperature for a
  family with the `"temperature"` capability (Glow), else one grid
  `samples`; none if `num_samples` is 0."""
  config = run.config
  if not config.num_samples:
    return
  seed = [config.seed, int(step)]
  if families.of_config(config.model).has("temperature"):
    draws = {f"samples/temperature_{t:g}": functools.partial(
        run.model.sample, config.num_samples, t, seed=seed)
             for t in config.sample_temperatures}
  else:
    draws = {"samples": functools.partial(run.model.sample,
                                          config.num_samples, seed=seed)}
  with evaluation_weights(run), writer.as_default(step=step):
    for tag, draw in draws.items():
      images = preprocessing.to_uint8(draw(), config.model.n_bits).numpy()
      tf.summary.image(tag, transforms.image_grid(images), step=step,
                       description=f"A grid of {len(images)} model samples.")
