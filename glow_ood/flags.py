"""Every command-line flag of the launchers, and their conversion to frozen configs.

The only module that defines flags (the library never reads `FLAGS`). Each
launcher calls its `define_*_flags()` before `app.run`, so `launch/evaluate.py`
can read any run's flags.cfg into a private `FlagValues` without the training
flags clashing with its own. All flags are optional with defaults; launchers
mark what they need as required. Experiments live in flagfiles:
`launch/flagfiles/*.cfg`.
"""

import functools
import os

from absl import flags

from glow_ood import config as config_lib
from glow_ood import data
from glow_ood import distribution
from glow_ood import optimizers
from glow_ood import train_config

__all__ = ["define_train_flags", "define_evaluate_flags", "to_train_config",
           "define_analyze_data_flags", "to_evaluation_config",
           "to_analysis_config", "define_ood_benchmark_flags",
           "to_benchmark_config", "define_two_moons_flags",
           "to_two_moons_config", "train_config_from_flagfile",
           "RESUME_SENSITIVE_FLAGS", "module_flags"]


class _Definer:
  """`flags.DEFINE_*` bound to one `FlagValues`."""

  def __init__(self, flag_values):
    self._flag_values = flag_values

  def __getattr__(self, name):
    return functools.partial(getattr(flags, name), flag_values=self._flag_values)


def define_train_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/train.py` (and of a run's flags.cfg) on `flag_values`."""
  flags = _Definer(flag_values)  # pylint: disable=redefined-outer-name
  flags.DEFINE_string("workdir", None,
                      "Run folder: checkpoints, TensorBoard events, flags.cfg, "
                      "results. Re-running with the same workdir resumes.")

  # Model.
  flags.DEFINE_list("image_shape", ["32", "32", "3"],
                    "Model input H,W,C; must match the (padded / tiled) data.")
  flags.DEFINE_integer("num_levels", 3, "Glow levels L (squeeze + steps + split).",
                       lower_bound=1)
  flags.DEFINE_integer("num_steps_per_level", 8,
                       "ActNorm -> permutation -> coupling steps per level (K).",
                       lower_bound=1)
  flags.DEFINE_integer("hidden_width", 512, "Coupling network width.",
                       lower_bound=1)
  flags.DEFINE_enum("coupling_scale", "sigmoid", config_lib.COUPLING_SCALES,
                    "Coupling scale: sigmoid (openai/glow), exp (Glow paper) or "
                    "additive (constant-volume Glow).")
  flags.DEFINE_enum("permutation", "conv1x1", config_lib.PERMUTATIONS,
                    "Channel mixing between couplings.")
  flags.DEFINE_enum("split_prior", "learned", config_lib.SPLIT_PRIORS,
                    "Prior of the factored-out latents.")
  flags.DEFINE_bool("learn_top", True, "Learn the top latent's prior.")
  flags.DEFINE_integer("n_bits", 8, "Bits per pixel the model sees.",
                       lower_bound=1, upper_bound=8)
  flags.DEFINE_enum("dtype", "float32", config_lib.DTYPES, "Model dtype.")
  flags.DEFINE_integer("model_seed", 0, "Seed of the model's initial values.")

  # Data.
  flags.DEFINE_string("dataset", "cifar10",
                      "In-distribution dataset: tfds name (cifar10, "
                      "svhn_cropped, mnist, fashion_mnist) or local npz name "
                      "(notmnist, cifar10_jpeg, cifar10_lossless, ...).")
  flags.DEFINE_string("data_dir", None,
                      "Folder of <name>_<split>.npz files (default: "
                      "$GLOW_OOD_DATA_DIR or ../shared/data).")
  flags.DEFINE_string("tfds_data_dir", None, "tensorflow_datasets data_dir.")
  flags.DEFINE_enum("data_source", "auto", data.SOURCES,
                    "Where datasets come from: auto (npz if present, else tfds), "
                    "npz or tfds.")
  flags.DEFINE_bool("tfds_download", False,
                    "Let tensorflow_datasets download missing datasets.")
  flags.DEFINE_integer("pad_to", 0,
                       "Zero-pad images to this square size (28 -> 32 for "
                       "MNIST-like data); 0 = no padding.", lower_bound=0)
  flags.DEFINE_bool("to_rgb", False, "Tile grayscale images to 3 channels.")
  flags.DEFINE_integer("validation_size", 0,
                       "Train examples held out as a 'validation' split.",
                       lower_bound=0)
  flags.DEFINE_float("mutation_rate", 0.,
                     "Mutate training inputs: each value replaced by a random "
                     "one with this probability (the background model of "
                     "Ren et al.'s likelihood ratio; e.g. 0.2).",
                     lower_bound=0., upper_bound=1.)
  flags.DEFINE_integer("shuffle_buffer", 100_000,
                       "Shuffle buffer size (capped at the dataset size).",
                       lower_bound=1)

  # Training.
  flags.DEFINE_list("eval_datasets", [],
                    "Other datasets evaluated on their test split "
                    "(out-of-distribution), e.g. svhn_cropped,constant:128.")
  flags.DEFINE_integer("batch_size", 64, "Global batch size.", lower_bound=1)
  flags.DEFINE_integer("init_batch_size", 512,
                       "Images for ActNorm's data-dependent init.", lower_bound=1)
  flags.DEFINE_integer("eval_batch_size", 256, "Evaluation batch size.",
                       lower_bound=1)
  flags.DEFINE_integer("train_steps", 100_000, "Total training steps.",
                       lower_bound=1)
  flags.DEFINE_enum("optimizer", "adamax", optimizers.OPTIMIZERS, "Optimizer.")
  flags.DEFINE_float("learning_rate", 1e-3, "Peak learning rate.", lower_bound=0)
  flags.DEFINE_integer("warmup_steps", 0, "Linear learning-rate warm-up steps.",
                       lower_bound=0)
  flags.DEFINE_float("grad_clip_norm", 0., "Clip the global gradient norm to "
                     "this; 0 = no clipping.", lower_bound=0)
  flags.DEFINE_float("ema_decay", 0., "Polyak (EMA) decay of evaluation "
                     "weights; 0 = none.", lower_bound=0, upper_bound=1)
  flags.DEFINE_integer("max_consecutive_skips", 20,
                       "Stop after this many consecutive non-finite steps.",
                       lower_bound=1)
  flags.DEFINE_integer("log_every", 100, "Steps between progress lines.",
                       lower_bound=1)
  flags.DEFINE_integer("eval_every", 5000,
                       "Steps between evaluations (0 = only at the end).",
                       lower_bound=0)
  flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints.",
                       lower_bound=1)
  flags.DEFINE_integer("eval_num_examples", 0,
                       "Examples per evaluation set; 0 = all.", lower_bound=0)
  flags.DEFINE_list("sample_temperatures", ["0.7", "1.0"],
                    "Temperatures of the TensorBoard sample grids.")
  flags.DEFINE_integer("num_samples", 16, "Images per sample grid.",
                       lower_bound=1)
  flags.DEFINE_enum("strategy", "mirrored", distribution.STRATEGIES,
                    "tf.distribute strategy.")
  flags.DEFINE_list("devices", [],
                    "Devices of the strategy (e.g. /gpu:0,/gpu:1); empty = "
                    "the strategy's default.")
  flags.DEFINE_bool("jit_compile", False, "XLA-compile the training step.")
  flags.DEFINE_list("nonfinite_loss_steps", [],
                    "Fault injection: make the loss NaN at these steps (to "
                    "check that they are skipped).")
  flags.DEFINE_integer("seed", 0, "Seed of data order and noise.")

# Flags that must not change when a workdir is resumed: they define the model
# and the data its checkpoint was trained on.
RESUME_SENSITIVE_FLAGS = (
    "image_shape", "num_levels", "num_steps_per_level", "hidden_width",
    "coupling_scale", "permutation", "split_prior", "learn_top", "n_bits",
    "dtype", "model_seed", "dataset", "pad_to", "to_rgb", "validation_size",
    "batch_size", "optimizer", "seed", "mutation_rate")


def module_flags(flag_values):
  """The `absl.flags.Flag`s this module defines, by name."""
  return {f.name: f for f in flag_values.get_flags_for_module(__name__)}


def _ints(values, name):
  try:
    return tuple(int(v) for v in values)
  except ValueError:
    raise ValueError(f"--{name} must be a comma-separated list of integers; "
                     f"got {','.join(values)}.") from None


def _floats(values, name):
  try:
    return tuple(float(v) for v in values)
  except ValueError:
    raise ValueError(f"--{name} must be a comma-separated list of numbers; "
                     f"got {','.join(values)}.") from None


def to_train_config(flag_values):
  """Parsed flags -> a validated, frozen `TrainConfig`."""
  f = flag_values
  image_shape = _ints(f.image_shape, "image_shape")
  model = config_lib.GlowConfig(
      image_shape=image_shape, num_levels=f.num_levels,
      num_steps_per_level=f.num_steps_per_level, hidden_width=f.hidden_width,
      coupling_scale=f.coupling_scale, permutation=f.permutation,
      split_prior=f.split_prior, learn_top=f.learn_top, n_bits=f.n_bits,
      dtype=f.dtype, seed=f.model_seed)
  data_config = data.DataConfig(
      dataset=f.dataset, data_dir=f.data_dir, tfds_data_dir=f.tfds_data_dir,
      source=f.data_source, tfds_download=f.tfds_download, n_bits=f.n_bits,
      pad_to=f.pad_to or None, to_rgb=f.to_rgb,
      validation_size=f.validation_size, shuffle_buffer=f.shuffle_buffer,
      seed=f.seed, mutation_rate=f.mutation_rate)
  return train_config.TrainConfig(
      model=model, data=data_config, eval_datasets=tuple(f.eval_datasets),
      batch_size=f.batch_size, init_batch_size=f.init_batch_size,
      eval_batch_size=f.eval_batch_size, train_steps=f.train_steps,
      optimizer=f.optimizer, learning_rate=f.learning_rate,
      warmup_steps=f.warmup_steps,
      grad_clip_norm=f.grad_clip_norm or None, ema_decay=f.ema_decay or None,
      max_consecutive_skips=f.max_consecutive_skips, log_every=f.log_every,
      eval_every=f.eval_every, checkpoint_every=f.checkpoint_every,
      eval_num_examples=f.eval_num_examples or None,
      sample_temperatures=_floats(f.sample_temperatures, "sample_temperatures"),
      num_samples=f.num_samples, strategy=f.strategy,
      devices=tuple(f.devices), jit_compile=f.jit_compile,
      nonfinite_loss_steps=_ints(f.nonfinite_loss_steps,
                                 "nonfinite_loss_steps"),
      seed=f.seed)


def train_config_from_flagfile(path):
  """The `TrainConfig` of a run from its `flags.cfg` (as `launch/train.py` writes it).

  Parses the file into a private `FlagValues` holding copies of this module's
  flags, so the process's own `FLAGS` are left alone (e.g. `launch/evaluate.py`
  reads several runs).
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"No {path}: is {os.path.dirname(path) or '.'} a run folder written by "
        "launch/train.py? It holds flags.cfg and checkpoints/.")
  values = flags.FlagValues()
  define_train_flags(values)
  values(["flags.cfg", f"--flagfile={path}"])
  return to_train_config(values)


# Special inputs `launch/evaluate.py` adds to a run's evaluation sets unless
# --datasets is given (paper Appendix D: constant and random images).
DEFAULT_EXTRA_EVAL_DATASETS = ("constant:0", "constant:128", "uniform_random")


def define_evaluate_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/evaluate.py` on `flag_values`."""
  flags = _Definer(flag_values)  # pylint: disable=redefined-outer-name
  flags.DEFINE_multi_string(
      "workdir", None, "Run folder(s) written by launch/train.py; repeat the "
      "flag for an ensemble (its members' folders).")
  flags.DEFINE_string("output_dir", None,
                      "Where results.json, results.md, scores.npz and figures/ "
                      "go. Default: <first workdir>/evaluation (or "
                      "<parent>/ensemble_evaluation for several workdirs).")
  flags.DEFINE_list(
      "datasets", None,
      "Other datasets to score (test split): real (mnist, notmnist, ...) or "
      "special (constant:V, uniform_random, grayed:<dataset>:<factor>). "
      "Default: the run's --eval_datasets plus "
      + ", ".join(DEFAULT_EXTRA_EVAL_DATASETS) + ".")
  flags.DEFINE_integer("num_examples", 2000,
                       "Images per dataset (a seeded random subset); 0 = all.",
                       lower_bound=0)
  flags.DEFINE_integer("batch_size", 256, "Images per model call.",
                       lower_bound=1)
  flags.DEFINE_list("graying_factors", ["1", "0.8", "0.6", "0.4", "0.2", "0"],
                    "Graying curve of the in-distribution test split "
                    "(1 = original, 0 = constant gray); empty to skip.")
  flags.DEFINE_integer("num_bootstrap", 1000,
                       "Bootstrap resamples of the AUROC intervals.",
                       lower_bound=1)
  flags.DEFINE_integer("num_samples", 36, "Images per sample grid (0: none).",
                       lower_bound=0)
  flags.DEFINE_list("sample_temperatures", ["0.7", "1.0"],
                    "Temperatures of the sample grids.")
  flags.DEFINE_integer("step", None, "Checkpoint step to load (default: the "
                       "latest).", lower_bound=0)
  flags.DEFINE_bool("use_ema", True, "Load the EMA weights if the run kept "
                    "them.")
  flags.DEFINE_string("data_dir", None,
                      "Overrides the runs' --data_dir (local .npz files).")
  flags.DEFINE_integer("seed", 0, "Seed of the bootstrap and the samples.")


def to_evaluation_config(flag_values, run_config):
  """Parsed evaluate flags (+ the first run's `TrainConfig`) -> `EvaluationConfig`."""
  # Imported here: glow_ood.evaluate pulls in plotting, which train needs not.
  from glow_ood import evaluate  # pylint: disable=g-import-not-at-top
  f = flag_values
  if f.datasets is None:
    datasets = tuple(dict.fromkeys(tuple(run_config.eval_datasets)
                                   + DEFAULT_EXTRA_EVAL_DATASETS))
  else:
    datasets = tuple(f.datasets)
  return evaluate.EvaluationConfig(
      datasets=datasets, num_examples=f.num_examples or None,
      batch_size=f.batch_size,
      graying_factors=_floats(f.graying_factors, "graying_factors"),
      num_bootstrap=f.num_bootstrap, num_samples=f.num_samples,
      sample_temperatures=_floats(f.sample_temperatures,
                                  "sample_temperatures"),
      data_dir=f.data_dir, seed=f.seed)


def define_analyze_data_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/analyze_data.py` on `flag_values`."""
  flags = _Definer(flag_values)  # pylint: disable=redefined-outer-name
  flags.DEFINE_list("datasets", [],
                    "p (training distribution, train split) first, then the "
                    "datasets q compared with it (test splits). With "
                    "--workdir, p defaults to the run's dataset.")
  flags.DEFINE_string("workdir", None,
                      "A trained run (ideally --coupling_scale=additive, as "
                      "the paper's CV-Glow): adds the second-order prediction "
                      "and latent-code statistics.")
  flags.DEFINE_string("output_dir", None,
                      "Default: <workdir>/analysis, or runs/analysis_<p>.")
  flags.DEFINE_string("data_dir", None, "Folder of <name>_<split>.npz files.")
  flags.DEFINE_enum("data_source", "auto", data.SOURCES,
                    "Where datasets come from.")
  flags.DEFINE_integer("pad_to", 0, "Zero-pad images to this square size.",
                       lower_bound=0)
  flags.DEFINE_bool("to_rgb", False, "Tile grayscale images to 3 channels.")
  flags.DEFINE_list("image_shape", [],
                    "Conform every dataset to H,W,C (default: p's shape, or "
                    "the run's model's).")
  flags.DEFINE_integer("num_examples", 0,
                       "Images per dataset for data statistics; 0 = all.",
                       lower_bound=0)
  flags.DEFINE_integer("num_model_examples", 2000,
                       "Images per dataset for model terms.", lower_bound=2)
  flags.DEFINE_enum("hessian_method", "exact",
                    ["exact", "hutchinson", "none"],
                    "The model's Hessian diagonal: exact (D Hessian-vector "
                    "products), Hutchinson's estimator, or skip it.")
  flags.DEFINE_integer("num_probes", 256, "Hutchinson probes.", lower_bound=1)
  flags.DEFINE_list("graying_factors", ["0.8", "0.5", "0.2"],
                    "Latent statistics of the grayed training images.")
  flags.DEFINE_integer("batch_size", 256, "Images per model call.",
                       lower_bound=1)
  flags.DEFINE_integer("seed", 0, "Seed of subsampling and probes.")


def to_analysis_config(flag_values):
  """Parsed analyze_data flags -> `glow_ood.analyze.AnalysisConfig`."""
  from glow_ood import analyze  # pylint: disable=g-import-not-at-top
  f = flag_values
  return analyze.AnalysisConfig(
      datasets=tuple(f.datasets),
      data=data.DataConfig(dataset="unset", data_dir=f.data_dir,
                           source=f.data_source, pad_to=f.pad_to or None,
                           to_rgb=f.to_rgb),
      image_shape=(_ints(f.image_shape, "image_shape")
                   if f.image_shape else None),
      num_examples=f.num_examples or None,
      num_model_examples=f.num_model_examples,
      hessian_method=f.hessian_method, num_probes=f.num_probes,
      graying_factors=_floats(f.graying_factors, "graying_factors"),
      batch_size=f.batch_size, seed=f.seed)


def define_ood_benchmark_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/ood_benchmark.py` on `flag_values`."""
  # Imported here: the benchmark pulls in the scores, which train needs not.
  from glow_ood import ood_benchmark  # pylint: disable=g-import-not-at-top
  defaults = ood_benchmark.BenchmarkConfig()
  flags = _Definer(flag_values)  # pylint: disable=redefined-outer-name
  flags.DEFINE_string("workdir", "runs/ood_benchmark",
                      "Trained models, results.json and results.md; re-run "
                      "to resume.")
  flags.DEFINE_list("pairs", [f"{a}->{b}" for a, b in defaults.pairs],
                    "in->out dataset pairs (quote them in a shell).")
  flags.DEFINE_integer("num_seeds", defaults.num_seeds,
                       "Models (and background models) per in-distribution "
                       "dataset.", lower_bound=2)
  flags.DEFINE_integer("image_size", defaults.image_size,
                       "Images are zero-padded to this square size.",
                       lower_bound=1)
  flags.DEFINE_integer("num_levels", defaults.num_levels, "Glow levels.",
                       lower_bound=1)
  flags.DEFINE_integer("num_steps_per_level", defaults.num_steps_per_level,
                       "Glow steps per level.", lower_bound=1)
  flags.DEFINE_integer("hidden_width", defaults.hidden_width,
                       "Coupling network width.", lower_bound=1)
  flags.DEFINE_enum("coupling_scale", defaults.coupling_scale,
                    config_lib.COUPLING_SCALES, "Coupling scale.")
  flags.DEFINE_integer("train_steps", defaults.train_steps,
                       "Training steps per model.", lower_bound=1)
  flags.DEFINE_integer("batch_size", defaults.batch_size, "Training batch.",
                       lower_bound=1)
  flags.DEFINE_float("learning_rate", defaults.learning_rate,
                     "Peak learning rate.", lower_bound=0.)
  flags.DEFINE_integer("warmup_steps", defaults.warmup_steps,
                       "Learning-rate warm-up steps.", lower_bound=0)
  flags.DEFINE_float("mutation_rate", defaults.mutation_rate,
                     "Mutation rate of the background models' inputs.",
                     lower_bound=0., upper_bound=1.)
  flags.DEFINE_integer("validation_size", defaults.validation_size,
                       "Training images held out to fit the typicality test.",
                       lower_bound=1)
  flags.DEFINE_integer("num_examples", defaults.num_examples,
                       "Test images per dataset.", lower_bound=1)
  flags.DEFINE_integer("typicality_batch_size", defaults.typicality_batch_size,
                       "M of the batch typicality test.", lower_bound=1)
  flags.DEFINE_integer("num_bootstrap", defaults.num_bootstrap,
                       "Bootstrap resamples of the intervals.", lower_bound=1)
  flags.DEFINE_integer("eval_batch_size", defaults.eval_batch_size,
                       "Images per model call when scoring.", lower_bound=1)
  flags.DEFINE_string("data_dir", None, "Folder of <name>_<split>.npz files.")


def _pair(text):
  parts = text.split("->")
  if len(parts) != 2 or not all(p.strip() for p in parts):
    raise ValueError(f"--pairs entries look like in->out (e.g. "
                     f"fashion_mnist->mnist); got {text!r}.")
  return parts[0].strip(), parts[1].strip()


def to_benchmark_config(flag_values):
  """Parsed ood_benchmark flags -> `glow_ood.ood_benchmark.BenchmarkConfig`."""
  from glow_ood import ood_benchmark  # pylint: disable=g-import-not-at-top
  f = flag_values
  return ood_benchmark.BenchmarkConfig(
      pairs=tuple(_pair(p) for p in f.pairs), num_seeds=f.num_seeds,
      image_size=f.image_size, num_levels=f.num_levels,
      num_steps_per_level=f.num_steps_per_level, hidden_width=f.hidden_width,
      coupling_scale=f.coupling_scale, train_steps=f.train_steps,
      batch_size=f.batch_size, learning_rate=f.learning_rate,
      warmup_steps=f.warmup_steps, mutation_rate=f.mutation_rate,
      validation_size=f.validation_size, num_examples=f.num_examples,
      typicality_batch_size=f.typicality_batch_size,
      num_bootstrap=f.num_bootstrap, data_dir=f.data_dir,
      eval_batch_size=f.eval_batch_size)


def define_two_moons_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/two_moons.py` on `flag_values`."""
  from glow_ood.two_moons import experiment  # pylint: disable=g-import-not-at-top
  defaults = experiment.TwoMoonsConfig()
  flags = _Definer(flag_values)  # pylint: disable=redefined-outer-name
  flags.DEFINE_string("output_dir", None,
                      "Folder for results.json and limiting_bounds.png/.pdf. "
                      "Re-running with the same folder resumes.")
  flags.DEFINE_list("dims", [str(d) for d in defaults.dims],
                    "Even data dimensionalities D (copies of the 2 coordinates).")
  flags.DEFINE_list("scales", list(defaults.scales),
                    f"Coupling scales, from {experiment.SCALES}.")
  flags.DEFINE_integer("num_examples", defaults.num_examples,
                       "Training points.", lower_bound=2)
  flags.DEFINE_integer("num_eval_examples", defaults.num_eval_examples,
                       "Held-out points for the means and the Lipschitz "
                       "estimate.", lower_bound=2)
  flags.DEFINE_float("noise", defaults.noise,
                     "Two-moons noise standard deviation (before "
                     "standardization).", lower_bound=0.)
  flags.DEFINE_float("jitter", defaults.jitter,
                     "Standard deviation of independent noise added to each "
                     "copy; 0 = the paper's exact copies.", lower_bound=0.)
  flags.DEFINE_integer("num_couplings", defaults.num_couplings,
                       "Affine coupling layers (reversal between them).",
                       lower_bound=1)
  flags.DEFINE_integer("hidden_width", defaults.hidden_width,
                       "Units per hidden layer of each coupling MLP.",
                       lower_bound=1)
  flags.DEFINE_integer("num_hidden_layers", defaults.num_hidden_layers,
                       "Hidden layers per coupling MLP.", lower_bound=1)
  flags.DEFINE_float("max_log_scale", defaults.max_log_scale,
                     "Bound c of the exp couplings' log-scales, c tanh(s / c).")
  flags.DEFINE_integer("train_steps", defaults.train_steps,
                       "Adam steps per (scale, D) cell.", lower_bound=1)
  flags.DEFINE_float("max_grad_norm", defaults.max_grad_norm,
                     "Gradients are rescaled to this global norm when larger.")
  flags.DEFINE_integer("batch_size", defaults.batch_size, "Minibatch size.",
                       lower_bound=1)
  flags.DEFINE_float("learning_rate", defaults.learning_rate,
                     "Adam step size.")
  flags.DEFINE_integer("seed", defaults.seed, "Data and initialization seed.")

  def check_dims(dims):
    try:
      values = [int(d) for d in dims]
    except ValueError:
      return False
    return bool(values) and all(d >= 2 and d % 2 == 0 for d in values)

  flags.register_validator(
      "scales", lambda s: bool(s) and all(x in experiment.SCALES for x in s),
      message=f"--scales must be a comma-separated list of {experiment.SCALES}.")
  flags.register_validator(
      "dims", check_dims, message="--dims must be a comma-separated list of "
      "even integers >= 2, e.g. 2,10,20.")
  flags.register_validator("max_log_scale", lambda v: v > 0,
                           message="--max_log_scale must be > 0.")
  flags.register_validator("max_grad_norm", lambda v: v > 0,
                           message="--max_grad_norm must be > 0.")


def to_two_moons_config(flag_values):
  """Parsed two_moons flags -> `glow_ood.two_moons.experiment.TwoMoonsConfig`."""
  from glow_ood.two_moons import experiment  # pylint: disable=g-import-not-at-top
  f = flag_values
  return experiment.TwoMoonsConfig(
      dims=tuple(int(d) for d in f.dims), scales=tuple(f.scales),
      num_examples=f.num_examples, num_eval_examples=f.num_eval_examples,
      noise=f.noise, jitter=f.jitter, num_couplings=f.num_couplings,
      hidden_width=f.hidden_width, num_hidden_layers=f.num_hidden_layers,
      max_log_scale=f.max_log_scale, train_steps=f.train_steps,
      max_grad_norm=f.max_grad_norm, batch_size=f.batch_size,
      learning_rate=f.learning_rate, seed=f.seed)
