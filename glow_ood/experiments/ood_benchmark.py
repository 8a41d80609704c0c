"""OOD-score benchmark: every score of `glow_ood.scores` on in -> out dataset pairs.

For each in-distribution dataset of `config.pairs`, `run_benchmark` trains
(or reuses, if finished) `num_seeds` models of the family `config.model`
(Glow, PixelCNN++ or VAE) and, per seed, one background model of the same
family for every `(mu, lambda)` of `config.background_settings`: trained on
inputs mutated at rate `mu` (Ren et al.) with an L2 penalty `lambda` on its
weights. The folders are

    <workdir>/<dataset>/seed_<s>/model, .../background_mu<mu>_l2<lambda>  (Glow)
    <workdir>/<dataset>/seed_<s>/<family>/model, .../background_...       (others)

(a Glow background of `mu`, `lambda = 0` trained before the sweep existed, in
`seed_<s>/background`, is reused). It scores the held-out validation split (to
fit the typicality test), the in-distribution test split and each
out-of-distribution set (test split, conformed to the model's shape), and for
every score and pair computes, per seed, AUROC, AUPR-In/Out and FPR at 95%
TPR. A cell's AUROC is the mean over seeds with a two-level (seeds, then
examples) 95% bootstrap interval (`metrics.seed_bootstrap_interval`).

The ensemble score (WAIC) uses the `num_seeds` models as its members, so it
has one value per example rather than one per seed; its interval is over
examples only. Typicality over batches ranks batches of `typicality_batch_size`
consecutive examples (the in- and out-of-distribution sets are split into
batches), so its AUROC is per batch. The per-level rows need Glow's
decomposition and are left out for the other families.

`<workdir>/results.json` holds, per family, the settings and the finished
cells, written as they complete:

    {"format_version": 2,
     "families": {"glow": {"config": {...}, "cells": {pair: {row: cell}},
                           "elapsed_seconds": ...}, "pixelcnn": {...}}}

A re-run skips finished cells (and every finished training run), so the
benchmark resumes; running it with another `--model` in the same folder adds
that family's cells, which `benchmark_markdown` puts beside the others' in one
table with a model column.
"""

import dataclasses
import os
import time

import numpy as np

from glow_ood import configs as config_lib
from glow_ood import data
from glow_ood import likelihood_terms
from glow_ood import metrics
from glow_ood import models as models_lib
from glow_ood import run_folder
from glow_ood import runs as runs_lib
from glow_ood import scores as scores_lib
from glow_ood import train as train_lib
from glow_ood.configs import serialization
from glow_ood.experiments import report

__all__ = ["score_rows", "likelihood_ratio_row", "run_benchmark",
           "benchmark_markdown", "family_config", "FAMILY_NAMES",
           "RESULTS_FORMAT"]

RESULTS_FORMAT = 2
FAMILY_NAMES = {"glow": "Glow", "pixelcnn": "PixelCNN++", "vae": "VAE"}
_OTHER_TEMPLATES = {"glow": ("pixelcnn", "vae"), "pixelcnn": ("vae",),
                    "vae": ("pixelcnn",)}


def likelihood_ratio_row(mutation_rate, l2_weight):
  """The row name of the likelihood ratio with background `(mu, lambda)`."""
  return (f"likelihood ratio (background μ={mutation_rate:g}, "
          f"λ={l2_weight:g})")


def score_rows(config):
  """`[(row name, Score, kind)]`: the scores of `config`'s table, in order.

  `kind` is `"per_seed"` (one value per seed), `"ensemble"` (WAIC) or
  `"batches"` (batch typicality). One likelihood-ratio row per background
  setting; the per-level rows only for Glow.
  """
  batch = config.typicality_batch_size
  rows = [("-log p(x) (bits/dim)", scores_lib.NegativeLogLikelihood(), "per_seed"),
          ("typicality (one example)",
           scores_lib.Typicality(batch_size=1), "per_seed"),
          (f"typicality, batches of {batch}",
           scores_lib.Typicality(batch_size=batch), "batches"),
          ("WAIC (ensemble of the seeds)", scores_lib.WAIC(), "ensemble"),
          ("input complexity (PNG)", scores_lib.InputComplexity("png"),
           "per_seed")]
  for mu, l2 in config.background_settings:
    rows.append((likelihood_ratio_row(mu, l2), scores_lib.LikelihoodRatio(),
                 "per_seed"))
  if config.model == "glow":
    for level in range(config.num_levels):
      rows.append((f"level {level + 1} likelihood (bits/dim)"
                   + (" = last level" if level == config.num_levels - 1
                      else ""),
                   scores_lib.PerLevelLikelihood(level, units="bits_per_dim"),
                   "per_seed"))
  return rows


def family_config(config):
  """The JSON-ready settings of `config` that its family's cells depend on.

  `to_dict(config)["config"]` without the other families' model templates.
  """
  values = serialization.to_dict(config)["config"]
  for other in _OTHER_TEMPLATES[config.model]:
    values.pop(other)
  return values


def _data_config(config, dataset, seed, mutation_rate=0.):
  return data.DataConfig(dataset=dataset, data_dir=config.data_dir,
                         pad_to=config.image_size,
                         validation_size=config.validation_size, seed=seed,
                         mutation_rate=mutation_rate)


def _train_config(config, dataset, channels, seed, background=None):
  """The `TrainConfig` of a model (`background=None`) or a background model.

  Args:
    background: `None`, or `(mutation_rate, l2_weight)` of a background.
  """
  model_seed = seed + (0 if background is None else 1000)
  mutation_rate, l2_weight = background or (0., 0.)
  return config_lib.TrainConfig(
      model=config.model_config(
          (config.image_size, config.image_size, channels), model_seed),
      # Data seed 0 for all: one validation split, held out from every model.
      data=_data_config(config, dataset, 0, mutation_rate),
      batch_size=config.batch_size, init_batch_size=256,
      eval_batch_size=config.eval_batch_size,
      train_steps=config.train_steps, learning_rate=config.learning_rate,
      warmup_steps=config.warmup_steps, l2_weight=l2_weight,
      log_every=max(config.train_steps // 5, 1), eval_every=0,
      checkpoint_every=config.train_steps, eval_num_examples=500,
      sample_temperatures=(1.,), num_samples=4, seed=model_seed)


def _seed_dir(config, workdir, dataset, seed):
  run_dir = os.path.join(workdir, dataset, f"seed_{seed}")
  return run_dir if config.model == "glow" else os.path.join(run_dir,
                                                             config.model)


def _background_dir(config, seed_dir, mutation_rate, l2_weight):
  """The folder of a background; a pre-sweep Glow background is reused."""
  legacy = os.path.join(seed_dir, "background")
  if config.model == "glow" and l2_weight == 0. and os.path.exists(
      os.path.join(legacy, run_folder.CONFIG_FILE)):
    saved = run_folder.read_json(os.path.join(legacy, run_folder.CONFIG_FILE),
                                 "run config")
    if saved.get("config", {}).get("data", {}).get(
        "mutation_rate") == mutation_rate:
      return legacy
  return os.path.join(seed_dir,
                      f"background_mu{mutation_rate:g}_l2{l2_weight:g}")


def _trained_model(train, workdir, what, log):
  if run_folder.finished_step(
      workdir, train.train_steps,
      fix="delete it and re-run the same command: the model's training "
      "resumes from its checkpoints and rewrites it") is None:
    log(f"training {what} in {workdir}")
    start = time.perf_counter()
    train_lib.train(train, workdir)
    log(f"  done in {time.perf_counter() - start:.0f} s")
  if not os.path.exists(os.path.join(workdir, run_folder.CONFIG_FILE)):
    # Trained before runs described themselves: its settings are the
    # benchmark's (checked against results.json), so describe it now.
    run_folder.write_config(workdir, train)
  return runs_lib.load_run(workdir).model


def _auroc_cell(in_values, out_values, num_bootstrap):
  """The cell of one score and pair from per-seed score arrays."""
  mean, low, high, per_seed = metrics.seed_bootstrap_interval(
      metrics.auroc, in_values, out_values, num_resamples=num_bootstrap)
  return dict(
      auroc=mean, auroc_low=low, auroc_high=high, auroc_per_seed=per_seed,
      aupr_in=float(np.mean([metrics.aupr(a, b, positive="in")
                             for a, b in zip(in_values, out_values)])),
      aupr_out=float(np.mean([metrics.aupr(a, b, positive="out")
                              for a, b in zip(in_values, out_values)])),
      fpr_at_95_tpr=float(np.mean([metrics.fpr_at_tpr(a, b, 0.95)
                                   for a, b in zip(in_values, out_values)])))


def _evaluate_in_distribution(config, dataset, outs, workdir, log):
  """Cells `{out: {row: cell}}` of one in-distribution dataset."""
  data_config = _data_config(config, dataset, 0)
  loaded = data.load_evaluation_sets(
      data_config, outs, splits=("validation", "test"),
      num_examples=config.num_examples, full_splits=("validation",))
  sets = {"validation": loaded[f"{dataset}/validation"],
          "test": loaded[f"{dataset}/test"],
          **{out: loaded[f"{out}/test"] for out in outs}}
  channels = sets["validation"].shape[-1]
  settings = config.background_settings
  family = FAMILY_NAMES[config.model]
  # Every model's DataConfig has seed 0, so they all hold out this validation
  # split; their seeds change the initialization and the data order.
  scored = []       # per seed: {set: ModelScores}
  backgrounds = []  # per seed: {(mu, lambda): {set: ModelScores}}
  num_dims_per_level = None
  for seed in range(config.num_seeds):
    seed_dir = _seed_dir(config, workdir, dataset, seed)
    model = _trained_model(
        _train_config(config, dataset, channels, seed),
        os.path.join(seed_dir, "model"), f"{family} {seed} of {dataset}", log)
    scorer = likelihood_terms.ModelScorer(model, config.eval_batch_size)
    scored.append({name: scorer(images) for name, images in sets.items()})
    backgrounds.append({})
    for mu, l2 in settings:
      background = _trained_model(
          _train_config(config, dataset, channels, seed, (mu, l2)),
          _background_dir(config, seed_dir, mu, l2),
          f"{family} background {seed} (mu={mu:g}, lambda={l2:g}) of "
          f"{dataset}", log)
      scorer = likelihood_terms.ModelScorer(background, config.eval_batch_size)
      backgrounds[seed][mu, l2] = {name: scorer(images)
                                   for name, images in sets.items()
                                   if name != "validation"}
    if config.model == "glow":
      num_dims_per_level = [int(np.prod(s)) for s in model.flow.latent_shapes]
  features = {
      (seed, name): scores_lib.from_model_scores(
          scored[seed][name],
          members=[scored[s][name] for s in range(config.num_seeds)],
          images=sets[name], num_dims_per_level=num_dims_per_level)
      for seed in range(config.num_seeds) for name in sets}
  ratio_rows = {likelihood_ratio_row(mu, l2): (mu, l2) for mu, l2 in settings}

  def features_of(row, seed, name):
    if row not in ratio_rows or name == "validation":
      return features[seed, name]
    return dataclasses.replace(
        features[seed, name], discrete_log_prob_background=backgrounds[seed][
            ratio_rows[row]][name].discrete_log_prob)

  cells = {out: {} for out in outs}
  for row, score, kind in score_rows(config):
    for out in outs:
      in_values, out_values, fitted_configs = [], [], []
      for seed in (range(config.num_seeds) if kind != "ensemble" else [0]):
        fitted = score.fit(features[seed, "validation"])
        fitted_configs.append(fitted.config())
        test, other = (features_of(row, seed, "test"),
                       features_of(row, seed, out))
        if kind == "batches":
          in_values.append(fitted.score_batches(test))
          out_values.append(fitted.score_batches(other))
        else:
          in_values.append(fitted(test))
          out_values.append(fitted(other))
      cell = _auroc_cell(in_values, out_values, config.num_bootstrap)
      # The score's settings as fitted on each seed's validation split.
      cell["score"] = dict(fitted_configs[0], kind=kind,
                           fitted_per_seed=fitted_configs)
      if row in ratio_rows:
        cell["score"].update(mutation_rate=ratio_rows[row][0],
                             l2_weight=ratio_rows[row][1])
      cells[out][row] = cell
  return cells


def _upgraded(results, path):
  """`results.json` of format 1 (Glow only, one mutation rate) as format 2."""
  if results.get("format_version") == RESULTS_FORMAT:
    if not isinstance(results.get("families"), dict):
      raise ValueError(f"{path} is no benchmark results file (it has no "
                       "'families'); move it away or use another workdir.")
    return results
  if not isinstance(results.get("cells"), dict):
    raise ValueError(f"{path} is no benchmark results file (it has no "
                     "'cells'); move it away or use another workdir.")
  saved = dict(results.get("config") or {})
  mutation_rate = saved.get("mutation_rate", 0.2)
  if not isinstance(mutation_rate, list):
    saved["mutation_rate"] = [mutation_rate]
  saved.setdefault("model", "glow")
  saved.setdefault("background_l2", [0.])
  # The one likelihood-ratio row of format 1 is the (mu, 0) background's.
  old_row = "likelihood ratio (background)"
  new_row = likelihood_ratio_row(saved["mutation_rate"][0], 0.)
  cells = {pair: {(new_row if row == old_row else row): cell
                  for row, cell in rows.items()}
           for pair, rows in results["cells"].items()}
  family = {"config": saved, "cells": cells}
  if "elapsed_seconds" in results:
    family["elapsed_seconds"] = results["elapsed_seconds"]
  return {"format_version": RESULTS_FORMAT, "families": {"glow": family}}


def _saved_config(saved):
  """The `BenchmarkConfig` of a family's saved settings (missing: defaults)."""
  return serialization.from_dict({"format_version": serialization.FORMAT_VERSION,
                                  "type": "BenchmarkConfig", "config": saved})


def run_benchmark(config, workdir, log=print):
  """Runs (or resumes) the benchmark; returns the results dict (results.json).

  Args:
    config: `BenchmarkConfig`.
    workdir: folder of the trained models and results.json / results.md.
    log: callable for progress lines. Default value: `print`.
  """
  run_folder.check_writable(workdir, "workdir")
  path = os.path.join(workdir, "results.json")
  results = {"format_version": RESULTS_FORMAT, "families": {}}
  if os.path.exists(path):
    results = _upgraded(run_folder.read_json(
        path, "benchmark results file",
        fix="delete it and re-run the same command: the trained models in "
        f"{workdir} are reused, only the cells are scored again"), path)
  # Every dataset of every pair before any training: a typo or a bad file
  # fails now, with nothing written.
  data_config = _data_config(config, config.in_distributions[0], 0)
  pairs = ",".join(f"{a}->{b}" for a, b in config.pairs)
  data.check_datasets(data_config, config.in_distributions,
                      splits=("train", "test"), what=f"--pairs={pairs}")
  data.check_datasets(data_config, [b for _, b in config.pairs],
                      what=f"--pairs={pairs}")
  current = family_config(config)
  family = results["families"].setdefault(config.model, {"cells": {}})
  if family.get("config") is not None:
    run_folder.check_compatible(
        family["config"], current, workdir,
        ignore=config_lib.ood_benchmark.FREE_FIELDS,
        fix=f"use the same settings for --model={config.model}, or a new "
        "workdir")
  family["config"] = current
  rows = [row for row, _, _ in score_rows(config)]
  start = time.perf_counter()
  for dataset in config.in_distributions:
    # A pair is done when it has every row (a new background setting adds
    # a row, and the pair is scored again with the models it has).
    outs = [b for a, b in config.pairs if a == dataset and not all(
        row in family["cells"].get(f"{a} -> {b}", {}) for row in rows)]
    if not outs:
      log(f"{dataset}: all cells done (resumed)")
      continue
    cells = _evaluate_in_distribution(config, dataset, outs, workdir, log)
    for out, new in cells.items():
      # The table's rows in order, then rows of settings no longer run.
      merged = {**family["cells"].get(f"{dataset} -> {out}", {}), **new}
      family["cells"][f"{dataset} -> {out}"] = {
          **{row: merged[row] for row in rows}, **merged}
    family["elapsed_seconds"] = (family.get("elapsed_seconds", 0.)
                                 + time.perf_counter() - start)
    start = time.perf_counter()
    run_folder.write_json(path, results)
    log(f"{dataset}: {len(outs)} cell(s) written to {path}")
  run_folder.write_json(path, results)
  run_folder.write_text(os.path.join(workdir, "results.md"),
                        benchmark_markdown(results, config))
  return results


# Table order of the rows: by kind of score, then as the families list them.
_ROW_ORDER = ("-log p(x)", "typicality (one", "typicality, batches", "WAIC",
              "input complexity", "likelihood ratio", "level ")


def _row_rank(row):
  return next((i for i, prefix in enumerate(_ROW_ORDER)
               if row.startswith(prefix)), len(_ROW_ORDER))


def benchmark_markdown(results, config):
  """Rows = (score, model family), columns = pairs, cells = AUROC [95% CI].

  Every family in `results` gets its rows; the pairs are `config.pairs`'s
  (in order) and then any other pair a family has cells of.
  """
  families = [f for f in FAMILY_NAMES if f in results["families"]]
  columns = [f"{a} -> {b}" for a, b in config.pairs]
  for family in families:
    columns += [c for c in results["families"][family]["cells"]
                if c not in columns]
  columns = [c for c in columns if any(
      c in results["families"][f]["cells"] for f in families)]
  rows = []
  for family in families:
    for pair_rows in results["families"][family]["cells"].values():
      rows += [r for r in pair_rows if r not in rows]
  rows.sort(key=_row_rank)   # stable: each family's order within a kind
  table = []
  for row in rows:
    for family in families:
      cells = results["families"][family]["cells"]
      if not any(row in cells[c] for c in columns if c in cells):
        continue
      line = [row, FAMILY_NAMES[family]]
      for column in columns:
        cell = cells.get(column, {}).get(row)
        line.append("-" if cell is None else
                    f"{cell['auroc']:.3f} [{cell['auroc_low']:.3f}, "
                    f"{cell['auroc_high']:.3f}]")
      table.append(line)
  header = ["score (AUROC, higher = better)", "model"] + [
      c.replace(" -> ", " → ") for c in columns]
  models = []
  for family in families:
    saved = _saved_config(results["families"][family]["config"])
    shape = (saved.image_size, saved.image_size, 1)
    models.append(
        f"- {FAMILY_NAMES[family]}: {saved.num_seeds} seeds of "
        f"{models_lib.describe(saved.model_config(shape, 0))}, "
        f"{saved.train_steps} steps of batch {saved.batch_size}; backgrounds "
        f"(mu, lambda) in "
        + ", ".join(f"({mu:g}, {l2:g})" for mu, l2 in saved.background_settings)
        + ".")
  return ("AUROC of each score (mean over the seeds, 95% bootstrap interval "
          "over seeds and examples; WAIC: over examples).\n\n"
          + "\n".join(models) + "\n\n"
          + report.markdown_table(header, table))
