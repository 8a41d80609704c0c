"""Scores trained models on datasets: the paper's tables and figures for one run or an ensemble.

`evaluate(runs, config, output_dir)` loads the in-distribution train and test
splits and every other dataset of `config.datasets` (test split; shapes
conformed to the model's, e.g. MNIST padded to 32x32x3), scores each with each
run (`glow_ood.likelihood_terms.LikelihoodTermsEvaluator`: log p(x), bits/dim, and for a
Glow log p(z), log|det|, per level; for a VAE the estimate's standard error),
and writes to `output_dir`:

  results.json   every number below, per run and for the ensemble
  results.md     the tables (see `glow_ood.experiments.report`)
  scores.npz     per-example arrays `<run>/<dataset>/<split>/<term>`, `<term>`
                 one of `discrete_log_prob` (log P(image) = log p(x) -
                 D n_bits log 2, nats), `bits_per_dim`, `log_prob_z`, `log_det`,
                 `log_prob_z_per_level`, `log_det_per_level` (Glow),
                 `log_prob_stderr` (VAE); for an ensemble
                 also `ensemble/<dataset>/<split>/discrete_log_prob`
  figures/       PNG + PDF: log p(x) histograms (paper Fig. 2, 7, 10; of the
                 discrete log P(image), as in the paper),
                 decomposition histograms (Fig. 4, 5a; Glow), bits/dim over training
                 (Fig. 5b, from the run's TensorBoard events), graying
                 (Fig. 6c), samples (Fig. 14)

Out-of-distribution detection uses bits/dim as the score (higher = more OOD):
AUROC with a bootstrap interval, AUPR-In/Out and FPR at 95% TPR, each set
against the in-distribution test split.
"""

import dataclasses
import os

import numpy as np

from glow_ood import analysis
from glow_ood import data
from glow_ood import fileio
from glow_ood import likelihood_terms
from glow_ood import metrics
from glow_ood import plots
from glow_ood import preprocessing
from glow_ood.configs import families
from glow_ood.data import special as special_datasets
from glow_ood.experiments import report

__all__ = ["evaluate", "detection_metrics"]








def _check_compatible(runs):
  first = runs[0].config
  for run in runs[1:]:
    config = run.config
    if (config.data.dataset != first.data.dataset
        or config.model.image_shape != first.model.image_shape
        or config.model.n_bits != first.model.n_bits):
      raise ValueError(
          f"Runs {runs[0].name} and {run.name} differ in dataset, image shape "
          "or n_bits; evaluate one experiment (or the members of one "
          "ensemble) at a time.")
  names = [run.name for run in runs]
  if len(set(names)) != len(names):
    raise ValueError(f"Run names must differ; got {names}. Give each workdir "
                     "its own folder name.")




def _is_generated(set_name):
  """`"<dataset>/<split>"` of a generated dataset (constant, uniform noise)."""
  return special_datasets.is_generated(set_name.rsplit("/", 1)[0])


def detection_metrics(in_scores, out_scores, num_bootstrap, seed):
  """AUROC (with a 95% bootstrap interval), AUPR-In/Out, FPR at 95% TPR."""
  value, low, high = metrics.bootstrap_interval(
      metrics.auroc, in_scores, out_scores, num_resamples=num_bootstrap,
      seed=seed)
  return dict(auroc=value, auroc_low=low, auroc_high=high,
              aupr_in=metrics.aupr(in_scores, out_scores, positive="in"),
              aupr_out=metrics.aupr(in_scores, out_scores, positive="out"),
              fpr_at_95_tpr=metrics.fpr_at_tpr(in_scores, out_scores, 0.95))


def _detection(bits_per_dim, in_test, config):
  return {name: detection_metrics(bits_per_dim[in_test], values,
                                  config.num_bootstrap, config.seed)
          for name, values in bits_per_dim.items()
          if name.split("/")[0] != in_test.split("/")[0]}


def _figures(runs, sets, scores, ensemble_discrete_log_prob, graying, config,
             directory):
  """Draws the figures; returns `{figure name: [png, pdf]}`.

  The log p(x) histograms show the discrete log P(image) (`discrete_log_prob`),
  as the paper's figures do.
  """
  figures = {}
  first = runs[0]
  real = [name for name in sets if not _is_generated(name)]
  own = scores[first.name]
  title = f"{first.name} (step {first.step})"
  figures["log_prob_histograms"] = plots.plot_log_prob_histograms(
      {n: own[n].discrete_log_prob for n in real},
      os.path.join(directory, "log_prob_histograms"),
      xlabel="log p(x) (nats)", title=title)
  if all(own[n].has_decomposition for n in real):
    figures["decomposition_histograms"] = plots.plot_decomposition_histograms(
        {n: own[n].log_prob_z for n in real}, {n: own[n].log_det for n in real},
        os.path.join(directory, "decomposition_histograms"), title=title)
  if ensemble_discrete_log_prob is not None:
    figures["ensemble_log_prob_histograms"] = plots.plot_log_prob_histograms(
        {n: ensemble_discrete_log_prob[n] for n in real},
        os.path.join(directory, "ensemble_log_prob_histograms"),
        xlabel="log p_ens(x) (nats)",
        title=f"ensemble of {len(runs)} ({', '.join(r.name for r in runs)})")
  eval_dir = os.path.join(first.workdir, "eval")
  if os.path.isdir(eval_dir):
    try:
      curves = plots.read_scalars(eval_dir, "bits_per_dim/")
    except (FileNotFoundError, ValueError):
      curves = {}
    # Generated inputs (constant, uniform noise) sit far off the scale of the
    # rest, as in the histograms; their values are in results.json.
    curves = {tag.split("/", 1)[1]: curve for tag, curve in curves.items()
              if not _is_generated(tag.split("/", 1)[1])}
    if curves:
      figures["bits_per_dim_curves"] = plots.plot_training_curves(
          curves,
          os.path.join(directory, "bits_per_dim_curves"), title=title)
  if graying is not None:
    figures["graying"] = plots.plot_graying(
        graying.factors, {f"{first.config.data.dataset}/test":
                          graying.means()["bits_per_dim"]},
        os.path.join(directory, "graying"), title=title)
  n_bits = first.config.model.n_bits
  if families.of_config(first.config.model).has("temperature"):
    temperatures = config.sample_temperatures if config.num_samples else ()
    for temperature in temperatures:
      x = first.model.sample(config.num_samples, temperature,
                             seed=[config.seed, 0])
      figures[f"samples_t{temperature:g}"] = plots.save_sample_grid(
          preprocessing.to_uint8(x, n_bits).numpy(),
          os.path.join(directory, f"samples_t{temperature:g}"),
          title=f"{first.name}, T = {temperature:g}")
  elif config.num_samples:   # no temperature: one grid of model samples
    x = first.model.sample(config.num_samples, seed=[config.seed, 0])
    figures["samples"] = plots.save_sample_grid(
        preprocessing.to_uint8(x, n_bits).numpy(),
        os.path.join(directory, "samples"), title=f"{first.name} samples")
  return figures


def evaluate(runs, config, output_dir, stream=None):
  """Scores `runs` (one model or an ensemble's members) and writes the report.

  Args:
    runs: sequence of `glow_ood.runs.Run` of one experiment (same dataset and image shape).
    config: `glow_ood.configs.EvaluationConfig`.
    output_dir: folder for results.json, results.md, scores.npz, figures/;
      written only once everything is computed (`fileio.staged_outputs`),
      so a failure leaves it as it was.
    stream: where progress bars go. Default value: `sys.stderr`.

  Returns:
    The results dict written to results.json.
  """
  runs = list(runs)
  if not runs:
    raise ValueError("evaluate needs at least one run.")
  fileio.check_writable(output_dir, "output_dir")
  _check_compatible(runs)
  data_config = config.run_data(runs[0].config.data)   # + --data_dir, ...
  sets = data.load_evaluation_sets(
      data_config, config.datasets, image_shape=runs[0].config.model.image_shape,
      num_examples=config.num_examples)
  in_distribution = runs[0].config.data.dataset
  in_test = f"{in_distribution}/test"
  scorers = {run.name: likelihood_terms.LikelihoodTermsEvaluator(run.model, config.batch_size)
             for run in runs}
  scores, arrays = _score_sets(runs, scorers, sets, stream)
  results = dict(
      in_distribution=in_distribution,
      runs=[dict(name=r.name, workdir=r.workdir, step=r.step,
                 weights=r.weights, family=r.config.family,
                 model=dataclasses.asdict(r.config.model)) for r in runs],
      num_examples={name: len(images) for name, images in sets.items()},
      models={r.name: {n: s.summary() for n, s in scores[r.name].items()}
              for r in runs},
      detection={r.name: _detection({n: s.bits_per_dim for n, s in
                                     scores[r.name].items()}, in_test, config)
                 for r in runs})
  ensemble_discrete_log_prob = None
  if len(runs) > 1:
    results["ensemble"], ensemble_discrete_log_prob = _ensemble(
        runs, scores, in_test, config)
    for name, values in ensemble_discrete_log_prob.items():
      arrays[f"ensemble/{name}/discrete_log_prob"] = values
  graying = None
  if config.graying_factors:
    graying = analysis.graying.graying_curve(
        scorers[runs[0].name], sets[in_test],
        config.graying_factors, description=f"{runs[0].name}: graying",
        stream=stream)
    results["graying"] = dict(dataset=in_test, **graying.to_json())
  # Everything is staged, then moved in place: a failure leaves output_dir
  # (a previous evaluation's files) as it was.
  with fileio.staged_outputs(output_dir) as stage:
    figures = _figures(runs, sets, scores, ensemble_discrete_log_prob, graying,
                       config, os.path.join(stage, "figures"))
    results["figures"] = {name: [os.path.relpath(p, stage) for p in paths]
                          for name, paths in figures.items()}
    fileio.save_npz(os.path.join(stage, "scores.npz"), **arrays)
    fileio.write_json(os.path.join(stage, "results.json"), results)
    fileio.write_text(os.path.join(stage, "results.md"),
                      report.results_markdown(results))
  return results


# The per-example terms of `likelihood_terms.LikelihoodTerms` kept in scores.npz
# (those a model's family has).
_ARRAY_TERMS = ("discrete_log_prob", "bits_per_dim", "log_prob_z", "log_det",
                "log_prob_z_per_level", "log_det_per_level", "log_prob_stderr")


def _score_sets(runs, scorers, sets, stream):
  """Every run's `LikelihoodTerms` of every set, and the arrays for scores.npz.

  Returns:
    `({run name: {set name: LikelihoodTerms}}, {"<run>/<set>/<term>": [N...]})`.
  """
  scores, arrays = {}, {}
  for run in runs:
    scorer = scorers[run.name]
    scores[run.name] = {
        name: scorer(images, description=f"{run.name}: {name}", stream=stream)
        for name, images in sets.items()}
    for name, result in scores[run.name].items():
      for term in _ARRAY_TERMS:
        if getattr(result, term) is not None:   # by the model's family
          arrays[f"{run.name}/{name}/{term}"] = getattr(result, term)
  return scores, arrays


def _ensemble(runs, scores, in_test, config):
  """The ensemble's results entry and its discrete log P_ens(image) per set.

  log p_ens(x) = logsumexp_m log p_m(x) - log M of the members' continuous
  densities ([N] per set); its bits/dim and discrete log P_ens(image) as for
  one model.

  Returns:
    `(results["ensemble"], {set name: [N] discrete log P_ens(image)})`.
  """
  num_dims = scores[runs[0].name][in_test].num_dims
  n_bits = scores[runs[0].name][in_test].n_bits
  ensemble_log_prob = {
      name: metrics.ensemble_log_prob(
          np.stack([scores[r.name][name].log_prob for r in runs]))
      for name in scores[runs[0].name]}
  ensemble_bits = {n: metrics.bits_per_dim(v, num_dims, n_bits)
                   for n, v in ensemble_log_prob.items()}
  ensemble_discrete_log_prob = {
      n: metrics.discrete_log_prob(v, num_dims, n_bits)
      for n, v in ensemble_log_prob.items()}
  entry = dict(
      members=[r.name for r in runs],
      bits_per_dim={n: float(np.mean(v)) for n, v in ensemble_bits.items()},
      discrete_log_prob={n: float(np.mean(v))
                         for n, v in ensemble_discrete_log_prob.items()},
      detection=_detection(ensemble_bits, in_test, config))
  return entry, ensemble_discrete_log_prob
