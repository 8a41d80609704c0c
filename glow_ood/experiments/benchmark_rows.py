"""The rows of the OOD benchmark's table: plain identifiers, their scores and labels.

A row is keyed in `results.json` by an identifier of ASCII letters, digits,
`_` and `.` (the numbers of its settings), and shown in `results.md` under a
label (`row_label`):

    nll                           -log p(x) (bits/dim)
    typicality                    typicality (one example)
    typicality_batch_<M>          typicality, batches of <M>
    waic                          WAIC (ensemble of the seeds)
    input_complexity_png          input complexity (PNG)
    likelihood_ratio_mu<mu>_lambda<l>
                                  likelihood ratio (background μ=<mu>, λ=<l>)
    level_<l>                     level <l> likelihood (bits/dim)
    dose_kde, dose_svm            DoSE, KDE / one-class SVM (one example)
    dose_kde_batch_<M>, ...       DoSE, KDE / one-class SVM, batches of <M>
    latent_gof                    latent goodness-of-fit, Anderson-Darling
                                  (one example)
    latent_gof_batch_<M>          latent goodness-of-fit, random-projection KS,
                                  batches of <M>
    gradient_score_test[_batch_<M>], gradient_norms[_batch_<M>],
    likelihood_regret[_batch_<M>] the scores that run the model on each image
                                  (`BenchmarkConfig.model_scores`)

A row's score is a `Score`, or a `ModelScore` for those that run the model:
`ModelScore.build(model, memo)` makes it for one model, all the rows of one
score and model sharing one `PassMemo` (a batch row then costs no new pass).

Results files of format 2 keyed the rows by their labels; `row_of_label` reads
those back (`glow_ood.experiments.ood_benchmark` upgrades such files).
"""

import re

from glow_ood import scores as scores_lib
from glow_ood.configs import families
from glow_ood.models import density_model

__all__ = ["score_rows", "likelihood_ratio_row", "batch_row", "level_row",
           "row_label", "row_of_label", "row_rank", "ROW_KINDS", "ModelScore"]

# "per_seed": one value per model; "ensemble": one over the models (WAIC);
# "batches": `score_batches` of the fitted score, one value per batch.
ROW_KINDS = ("per_seed", "ensemble", "batches")

_LABELS = {
    "nll": "-log p(x) (bits/dim)",
    "typicality": "typicality (one example)",
    "waic": "WAIC (ensemble of the seeds)",
    "input_complexity_png": "input complexity (PNG)",
    "dose_kde": "DoSE, KDE (one example)",
    "dose_svm": "DoSE, one-class SVM (one example)",
    "latent_gof": "latent goodness-of-fit, Anderson-Darling (one example)",
    "gradient_score_test": "score test + typicality (one example)",
    "gradient_norms": "gradient norms, KDE (one example)",
    "likelihood_regret": "likelihood regret (one example)",
}
_BATCH_LABELS = {
    "typicality": "typicality, batches of {}",
    "dose_kde": "DoSE, KDE, batches of {}",
    "dose_svm": "DoSE, one-class SVM, batches of {}",
    "latent_gof": "latent goodness-of-fit, random-projection KS, batches of {}",
    "gradient_score_test": "score test + typicality, batches of {}",
    "gradient_norms": "gradient norms, KDE, batches of {}",
    "likelihood_regret": "likelihood regret, batches of {}",
}
_BATCH = re.compile(r"^(?P<score>[a-z_]+?)_batch_(?P<size>\d+)$")
_RATIO = re.compile(r"^likelihood_ratio_mu(?P<mu>[^_]+)_lambda(?P<l2>[^_]+)$")
_LEVEL = re.compile(r"^level_(?P<level>\d+)$")
# Table order: by kind of score, then batch size; rows of one kind keep the
# order they are listed in (e.g. each family's background settings).
_ORDER = ("nll", "typicality", "waic", "input_complexity_png",
          "likelihood_ratio", "level", "dose_kde", "dose_svm", "latent_gof",
          "gradient_score_test", "gradient_norms", "likelihood_regret")


class ModelScore:
  """A row's score that runs the model itself, made per model by `build`.

  Args:
    name: one of `glow_ood.scores.SCORES_WITH_MODEL`.
    **settings: the score's keyword arguments but `model` and `memo`.
  """

  def __init__(self, name, **settings):
    if name not in scores_lib.SCORES_WITH_MODEL:
      raise ValueError(f"{name!r} is not a score that runs the model; choose "
                       f"one of {scores_lib.SCORES_WITH_MODEL}.")
    self.name = name
    self.settings = settings

  def build(self, model, memo=None):
    """The unfitted score of `model`; `memo`: a `PassMemo` its rows share."""
    return scores_lib.make_score(self.name, model=model, memo=memo,
                                 **self.settings)

  def __repr__(self):
    settings = "".join(f", {k}={v!r}" for k, v in self.settings.items())
    return f"ModelScore({self.name!r}{settings})"


def batch_row(score_row, batch_size):
  """The row of `score_row` (e.g. `"dose_kde"`) over batches of `batch_size`."""
  return f"{score_row}_batch_{int(batch_size)}"


def likelihood_ratio_row(mutation_rate, l2_weight):
  """The row of the likelihood ratio with the background `(mu, lambda)`."""
  return f"likelihood_ratio_mu{mutation_rate:g}_lambda{l2_weight:g}"


def level_row(level):
  """The row of level `level`'s likelihood, counted from 1 (the finest)."""
  return f"level_{int(level)}"


def score_rows(config, *, num_models=None, capabilities=None,
               num_levels=None):
  """`[(row, Score, kind)]`: the scores of one in-distribution dataset, in order.

  One row per score and, for the scores that test batches, per batch size
  of `config.batch_sizes`; one likelihood-ratio row per background setting.
  Rows need what the models offer: WAIC several models; a score with
  `required_capabilities` (the per-level rows and the latents'
  goodness-of-fit: `"decomposition"`) only models that have them
  (`Score.offered_by`). DoSE uses every statistic the models give (those of
  a model's `"statistics"` capability included). The scores of `config.model_scores` come last, as
  `ModelScore`s; one the models cannot serve (likelihood regret needs the
  `"elbo"` of a VAE) raises `MissingCapabilityError` naming what is missing.

  Args:
    config: `BenchmarkConfig`.
    num_models: models of the dataset. Default value: `config.num_seeds`.
    capabilities: the models' capabilities (`density_model.CAPABILITIES`).
      Default value: those of `config.model`'s family.
    num_levels: levels of a model with the decomposition. Default value:
      `config.model.num_levels`.
  """
  num_models = config.num_seeds if num_models is None else num_models
  if capabilities is None:
    capabilities = families.of_config(config.model).capabilities
  decomposes = scores_lib.PerLevelLikelihood.offered_by(capabilities)
  if decomposes and num_levels is None:
    num_levels = config.model.num_levels
  sizes = config.batch_sizes
  rows = [("nll", scores_lib.NegativeLogLikelihood(), "per_seed"),
          ("typicality", scores_lib.Typicality(batch_size=1), "per_seed")]
  rows += [(batch_row("typicality", m), scores_lib.Typicality(batch_size=m),
            "batches") for m in sizes]
  if num_models >= 2:
    rows.append(("waic", scores_lib.WAIC(), "ensemble"))
  rows.append(("input_complexity_png", scores_lib.InputComplexity("png"),
               "per_seed"))
  rows += [(likelihood_ratio_row(mu, l2), scores_lib.LikelihoodRatio(),
            "per_seed") for mu, l2 in config.background_settings]
  if decomposes:
    rows += [(level_row(level + 1),
              scores_lib.PerLevelLikelihood(level, units="bits_per_dim"),
              "per_seed") for level in range(num_levels)]
  for estimator in ("kde", "svm"):
    row = f"dose_{estimator}"
    rows.append((row, scores_lib.DoSE(estimator=estimator), "per_seed"))
    rows += [(batch_row(row, m),
              scores_lib.DoSE(estimator=estimator, batch_size=m), "batches")
             for m in sizes]
  if scores_lib.LatentGoodnessOfFit.offered_by(capabilities):
    rows.append(("latent_gof", scores_lib.LatentGoodnessOfFit(), "per_seed"))
    rows += [(batch_row("latent_gof", m),
              scores_lib.LatentGoodnessOfFit(batch_size=m), "batches")
             for m in sizes]
  for name in config.model_scores:
    missing = scores_lib.score_class(name).missing_capabilities(capabilities)
    if missing:
      raise density_model.MissingCapabilityError(
          density_model.missing_capability_message(
              f"--model_scores={name}", missing[0], config.family,
              capabilities, otherwise=f"drop {name} from --model_scores"))
    rows.append((name, ModelScore(name), "per_seed"))
    rows += [(batch_row(name, m), ModelScore(name, batch_size=m), "batches")
             for m in sizes]
  return rows


def row_label(row, last_level=None):
  """The table label of `row`; an identifier it does not know, as it is.

  Args:
    row: a row identifier.
    last_level: the models' number of levels: its level row is labelled
      "= last level". Default value: `None`.
  """
  if row in _LABELS:
    return _LABELS[row]
  match = _BATCH.match(row)
  if match and match["score"] in _BATCH_LABELS:
    return _BATCH_LABELS[match["score"]].format(match["size"])
  match = _RATIO.match(row)
  if match:
    return f"likelihood ratio (background μ={match['mu']}, λ={match['l2']})"
  match = _LEVEL.match(row)
  if match:
    level = int(match["level"])
    return (f"level {level} likelihood (bits/dim)"
            + (" = last level" if level == last_level else ""))
  return row


_LABEL_PATTERNS = tuple(
    (re.compile("^" + re.escape(text).replace(r"\{\}", r"(\d+)") + "$"),
     lambda m, score=score: batch_row(score, m[1]))
    for score, text in _BATCH_LABELS.items()) + (
    (re.compile(r"^likelihood ratio \(background μ=([^,]+), λ=([^)]+)\)$"),
     lambda m: f"likelihood_ratio_mu{m[1]}_lambda{m[2]}"),
    (re.compile(r"^level (\d+) likelihood \(bits/dim\)( = last level)?$"),
     lambda m: level_row(m[1])),
)


def row_of_label(label):
  """The identifier of the row labelled `label` (`row_label`'s inverse).

  Results of format 2 keyed rows by their labels. Labels it does not know
  are returned as they are.
  """
  for row, text in _LABELS.items():
    if text == label:
      return row
  for pattern, make in _LABEL_PATTERNS:
    match = pattern.match(label)
    if match:
      return make(match)
  return label


def row_rank(row):
  """Sort key of `row` in the table: `(kind of score, batch size)`."""
  match = _BATCH.match(row)
  base, size = (match["score"], int(match["size"])) if match else (row, 0)
  for rank, prefix in enumerate(_ORDER):
    if base == prefix or base.startswith(prefix + "_"):
      return rank, size
  return len(_ORDER), size
