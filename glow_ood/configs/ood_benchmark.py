"""`BenchmarkConfig`: the OOD benchmark's pairs, models and statistics (no TensorFlow)."""

import dataclasses
from typing import Optional, Tuple

from glow_ood.configs import dataset_names
from glow_ood.configs import families
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate

__all__ = ["BenchmarkConfig", "DEFAULT_PAIRS", "FREE_FIELDS", "MODEL_SCORES",
           "TEMPLATE_FIELDS"]

DEFAULT_PAIRS = (
    ("fashion_mnist", "mnist"),
    ("notmnist", "mnist"),
    ("mnist", "notmnist"),
    ("cifar10_jpeg", "constant:128"),
    ("cifar10_jpeg", "uniform_random"),
    ("cifar10_jpeg", "grayed:cifar10_jpeg:0.5"),
    ("cifar10_jpeg", "mnist"),
    # Issue 21's pairs: the later literature's OOD sets and the flip controls.
    ("fashion_mnist", "flipped:fashion_mnist"),
    ("cifar10_jpeg", "svhn_cropped"),
    ("cifar10_jpeg", "jpeg:svhn_cropped:75"),
    ("cifar10_jpeg", "celeba32"),
    ("cifar10_jpeg", "tiny_imagenet32"),
    ("cifar10_jpeg", "flipped:cifar10_jpeg"),
)


# Fields a resumed benchmark may change: new pairs add cells, new background
# settings add likelihood-ratio rows, new batch sizes add batched rows (a pair
# missing rows is scored again, reusing every trained model); the data's
# location does not change results.
FREE_FIELDS = ("pairs", "data_dir", "mutation_rate", "background_l2",
               "batch_sizes", "model_scores")

# The scores that run the model themselves (`glow_ood.scores.SCORES_WITH_MODEL`;
# a test keeps the two in step): a backward pass, or an optimization, per
# image, hence chosen rather than always on.
MODEL_SCORES = ("gradient_score_test", "gradient_norms", "likelihood_regret")

# The model-config fields the benchmark sets itself, per dataset and seed
# (those of `BenchmarkConfig.model` are not used).
TEMPLATE_FIELDS = families.SHARED_FIELDS


def _default_model():
  """The default family's registered benchmark model (a CPU-size Glow)."""
  return families.get(families.DEFAULT).benchmark


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
  """The benchmark's models, data and statistics.

  Attributes:
    pairs: `(in-distribution, out-of-distribution)` dataset names.
    model: the config of the benchmark's models, whose class is their
      family (`family`), as `TrainConfig.model`: any registered family's
      (`GlowConfig`, ...), but for the fields of `TEMPLATE_FIELDS`, which the
      benchmark sets per dataset and seed (`model_config`). One benchmark
      folder holds the cells of every family run in it, each with its own
      settings. Default value: the default family's registered `benchmark`
      model (a CPU-size Glow); `--model=<family>` starts from that
      family's.
    num_seeds: models (and background models) per in-distribution dataset
      the benchmark trains models for.
    model_runs: finished training runs (`launch/train.py` folders) to score
      instead of training `num_seeds` models, e.g. `("runs/cifar10_glow_cpu",)`:
      each is a model of the dataset its config.json names (several runs of
      one dataset are its seeds, and must share the model but for its seed,
      and the images). Their backgrounds are trained by the benchmark: the
      run's model on its data, mutated, with the benchmark's training.
    image_size: images are zero-padded to `image_size` squares.
    train_steps, batch_size, learning_rate, warmup_steps: the training.
    mutation_rate: `mu` of the background models; several = a sweep.
    background_l2: L2 weights `lambda` of the background models
      (`TrainConfig.l2_weight`, Ren et al.'s 0, 10, 100); one background
      model per seed and `(mu, lambda)` of `mutation_rate` x `background_l2`,
      and one likelihood-ratio row for each.
    validation_size: held-out in-distribution images the scores are fitted
      on: training images held out from the benchmark's models (or from
      `model_runs` that held out as many), else test images disjoint from the
      `num_examples` scored.
    num_examples: test images per dataset (a seeded random subset).
    batch_sizes: the batch sizes `M` of the batched scores (typicality,
      DoSE, the latents' random-projection test): one row per score and `M`,
      besides the one-example rows. Each `M >= 2`, distinct, at most
      `num_examples` and `validation_size`.
    model_scores: the scores that run the model on each image themselves
      (`MODEL_SCORES`): one row each, and one per batch size. Likelihood
      regret needs a VAE.
    num_bootstrap: bootstrap resamples of the intervals.
    data_dir: folder of the local npz files (`None`: the default).
    eval_batch_size: images per model call when scoring.
  """
  pairs: Tuple[Tuple[str, str], ...] = option(
      DEFAULT_PAIRS, "in->out dataset pairs (quote them in a shell).")
  model: families.ModelConfig = dataclasses.field(
      default_factory=_default_model)
  num_seeds: int = option(3, "Models (and background models) per "
                          "in-distribution dataset; >= 2 (the ensemble score "
                          "needs several models).", minimum=2)
  model_runs: Tuple[str, ...] = option(
      (), "Finished training run folders to score instead of training models "
      "for their dataset (each run's config.json names it; several runs of "
      "one dataset are its seeds), e.g. runs/cifar10_glow_cpu.")
  image_size: int = option(32, "Images are zero-padded to this square size.",
                           minimum=1)
  train_steps: int = option(1000, "Training steps per model.", minimum=1)
  batch_size: int = option(64, "Training batch.", minimum=1)
  learning_rate: float = option(1e-3, "Peak learning rate.", minimum=0.,
                                exclusive_minimum=True)
  warmup_steps: int = option(100, "Learning-rate warm-up steps.", minimum=0)
  mutation_rate: Tuple[float, ...] = option(
      (0.2,), "Mutation rates of the background models' inputs (several: a "
      "sweep, one likelihood-ratio row each).", minimum=0., maximum=1.,
      exclusive_minimum=True, exclusive_maximum=True)
  background_l2: Tuple[float, ...] = option(
      (0.,), "L2 weights lambda of the background models (nats per image; "
      "Ren et al.: 0,10,100); crossed with --mutation_rate.", minimum=0.)
  validation_size: int = option(
      2000, "Held-out in-distribution images the scores are fitted on "
      "(DoSE's 5-fold calibration needs >= 10).", minimum=10)
  num_examples: int = option(2000, "Test images per dataset.", minimum=1)
  batch_sizes: Tuple[int, ...] = option(
      (5, 10), "Batch sizes M of the batched scores (typicality, DoSE, the "
      "latents' projection test), one row each; besides one example.",
      minimum=2)
  model_scores: Tuple[str, ...] = option(
      (), "Scores that run the model on every image (a backward pass or an "
      "optimization each): gradient_score_test (score test + typicality), "
      "gradient_norms (layer-wise gradient norms, KDE), likelihood_regret "
      "(VAE only). One row each, and one per batch size.",
      choices=MODEL_SCORES)
  num_bootstrap: int = option(500, "Bootstrap resamples of the intervals.",
                              minimum=1)
  data_dir: Optional[str] = option(None, "Folder of <name>_<split>.npz "
                                   "files.")
  eval_batch_size: int = option(500, "Images per model call when scoring.",
                                minimum=1)

  def __post_init__(self):
    validate(self)
    if isinstance(self.model, str):
      raise TypeError(
          "BenchmarkConfig.model is the models' config (e.g. "
          f"families.get({self.model!r}).benchmark), not a family name; got "
          f"{self.model!r}.")
    families.of_config(self.model, "BenchmarkConfig.model")
    for name in ("mutation_rate", "background_l2"):
      values = getattr(self, name)
      if not values or len(set(values)) != len(values):
        raise ValueError(f"BenchmarkConfig.{name} needs distinct values (at "
                         f"least one); got {','.join(map(str, values))}.")
    sizes = self.batch_sizes
    if not sizes or len(set(sizes)) != len(sizes):
      given = ",".join(map(str, sizes)) or "none"
      raise ValueError(f"BenchmarkConfig.batch_sizes needs distinct sizes (at "
                       f"least one); got {given}.")
    for limit in ("num_examples", "validation_size"):
      if max(sizes) > getattr(self, limit):
        raise ValueError(
            f"BenchmarkConfig.batch_sizes={','.join(map(str, sizes))} has a "
            f"batch larger than {limit}={getattr(self, limit)}: each set "
            "must hold at least one batch; use smaller batches or more "
            "examples.")
    if len(set(self.model_scores)) != len(self.model_scores):
      raise ValueError(f"BenchmarkConfig.model_scores names a score twice: "
                       f"{','.join(self.model_scores)}.")
    if len(set(self.model_runs)) != len(self.model_runs):
      raise ValueError(f"BenchmarkConfig.model_runs names a run twice: "
                       f"{','.join(self.model_runs)}.")
    if not self.pairs:
      raise ValueError("BenchmarkConfig.pairs is empty; give in:out pairs.")
    for in_name, out_name in self.pairs:
      if dataset_names.parse(in_name) is not None:
        raise ValueError(f"In-distribution dataset {in_name!r} must be a real "
                         "dataset (models are trained on it).")
      dataset_names.parse(out_name)   # raises on malformed names

  @property
  def background_settings(self):
    """`((mu, lambda), ...)`: every background model's mutation rate and L2."""
    return tuple((mu, l2) for mu in self.mutation_rate
                 for l2 in self.background_l2)

  @property
  def family(self):
    """The models' family's name (`glow_ood.configs.families`)."""
    return self.model.family

  def model_config(self, image_shape, seed):
    """`model` for images of `image_shape` and `seed`."""
    return self.model.replace(image_shape=image_shape, seed=seed)

  @property
  def in_distributions(self):
    return tuple(dict.fromkeys(a for a, _ in self.pairs))

  def replace(self, **changes):
    return dataclasses.replace(self, **changes)
