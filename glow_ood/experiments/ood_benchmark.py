"""OOD-score benchmark: every score of `glow_ood.scores` on in -> out dataset pairs.

For each in-distribution dataset of `config.pairs`, `run_benchmark` trains
(or reuses, if finished) `num_seeds` Glows and as many background Glows (the
same model trained on inputs mutated at `mutation_rate`, Ren et al.), in
`<workdir>/<dataset>/seed_<s>/{model,background}`. It scores the held-out
validation split (to fit the typicality test), the in-distribution test split
and each out-of-distribution set (test split, conformed to the model's shape),
and for every score and pair computes, per seed, AUROC, AUPR-In/Out and FPR at
95% TPR. A cell's AUROC is the mean over seeds with a two-level (seeds, then
examples) 95% bootstrap interval (`metrics.seed_bootstrap_interval`).

The ensemble score (WAIC) uses the `num_seeds` models as its members, so it
has one value per example rather than one per seed; its interval is over
examples only. Typicality over batches ranks batches of `typicality_batch_size`
consecutive examples (the in- and out-of-distribution sets are split into
batches), so its AUROC is per batch.

Finished cells are stored in `<workdir>/results.json` as they complete; a
re-run skips them (and every finished training run), so the benchmark resumes.
"""

import os
import time

import numpy as np

from glow_ood import configs as config_lib
from glow_ood import data
from glow_ood import likelihood_terms
from glow_ood import metrics
from glow_ood import run_folder
from glow_ood import runs as runs_lib
from glow_ood import scores as scores_lib
from glow_ood import train as train_lib
from glow_ood.configs import serialization
from glow_ood.experiments import report

__all__ = ["score_rows", "run_benchmark", "benchmark_markdown"]





def score_rows(num_levels, typicality_batch_size):
  """`[(row name, Score, kind)]`: the scores of the table, in order.

  `kind` is `"per_seed"` (one value per seed), `"ensemble"` (WAIC) or
  `"batches"` (batch typicality).
  """
  rows = [("-log p(x) (bits/dim)", scores_lib.NegativeLogLikelihood(), "per_seed"),
          ("typicality (one example)",
           scores_lib.Typicality(batch_size=1), "per_seed"),
          (f"typicality, batches of {typicality_batch_size}",
           scores_lib.Typicality(batch_size=typicality_batch_size), "batches"),
          ("WAIC (ensemble of the seeds)", scores_lib.WAIC(), "ensemble"),
          ("input complexity (PNG)", scores_lib.InputComplexity("png"),
           "per_seed"),
          ("likelihood ratio (background)", scores_lib.LikelihoodRatio(),
           "per_seed")]
  for level in range(num_levels):
    rows.append((f"level {level + 1} likelihood (bits/dim)"
                 + (" = last level" if level == num_levels - 1 else ""),
                 scores_lib.PerLevelLikelihood(level, units="bits_per_dim"),
                 "per_seed"))
  return rows


def _data_config(config, dataset, seed, mutation_rate=0.):
  return data.DataConfig(dataset=dataset, data_dir=config.data_dir,
                         pad_to=config.image_size,
                         validation_size=config.validation_size, seed=seed,
                         mutation_rate=mutation_rate)


def _train_config(config, dataset, channels, seed, background):
  model = config_lib.GlowConfig(
      image_shape=(config.image_size, config.image_size, channels),
      num_levels=config.num_levels,
      num_steps_per_level=config.num_steps_per_level,
      hidden_width=config.hidden_width, coupling_scale=config.coupling_scale,
      seed=seed + (1000 if background else 0))
  return config_lib.TrainConfig(
      model=model,
      # Data seed 0 for all: one validation split, held out from every model.
      data=_data_config(config, dataset, 0,
                        config.mutation_rate if background else 0.),
      batch_size=config.batch_size, init_batch_size=256,
      eval_batch_size=config.eval_batch_size,
      train_steps=config.train_steps, learning_rate=config.learning_rate,
      warmup_steps=config.warmup_steps,
      log_every=max(config.train_steps // 5, 1), eval_every=0,
      checkpoint_every=config.train_steps, eval_num_examples=500,
      sample_temperatures=(1.,), num_samples=4,
      seed=seed + (1000 if background else 0))




def _trained_model(config, dataset, channels, seed, background, workdir, log):
  train = _train_config(config, dataset, channels, seed, background)
  if run_folder.finished_step(
      workdir, config.train_steps,
      fix="delete it and re-run the same command: the model's training "
      "resumes from its checkpoints and rewrites it") is None:
    log(f"training {'background' if background else 'model'} {seed} of "
        f"{dataset} in {workdir}")
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
  # Every model's DataConfig has seed 0, so they all hold out this validation
  # split; their seeds change the initialization and the data order.
  scored = []   # per seed: {set: (ModelScores, background ModelScores)}
  for seed in range(config.num_seeds):
    run_dir = os.path.join(workdir, dataset, f"seed_{seed}")
    model = _trained_model(config, dataset, channels, seed, False,
                           os.path.join(run_dir, "model"), log)
    background = _trained_model(config, dataset, channels, seed, True,
                                os.path.join(run_dir, "background"), log)
    model_scorer = likelihood_terms.ModelScorer(model, config.eval_batch_size)
    background_scorer = likelihood_terms.ModelScorer(background, config.eval_batch_size)
    scored.append({name: (model_scorer(images), background_scorer(images))
                   for name, images in sets.items()})
    num_dims_per_level = [int(np.prod(s)) for s in model.flow.latent_shapes]
  features = {
      (seed, name): scores_lib.from_model_scores(
          scored[seed][name][0],
          members=[scored[s][name][0] for s in range(config.num_seeds)],
          background=scored[seed][name][1], images=sets[name],
          num_dims_per_level=num_dims_per_level)
      for seed in range(config.num_seeds) for name in sets}
  cells = {out: {} for out in outs}
  for row, score, kind in score_rows(config.num_levels,
                                     config.typicality_batch_size):
    for out in outs:
      in_values, out_values, fitted_configs = [], [], []
      for seed in (range(config.num_seeds) if kind != "ensemble" else [0]):
        fitted = score.fit(features[seed, "validation"])
        fitted_configs.append(fitted.config())
        if kind == "batches":
          in_values.append(fitted.score_batches(features[seed, "test"]))
          out_values.append(fitted.score_batches(features[seed, out]))
        else:
          in_values.append(fitted(features[seed, "test"]))
          out_values.append(fitted(features[seed, out]))
      cell = _auroc_cell(in_values, out_values, config.num_bootstrap)
      # The score's settings as fitted on each seed's validation split.
      cell["score"] = dict(fitted_configs[0], kind=kind,
                           fitted_per_seed=fitted_configs)
      cells[out][row] = cell
  return cells


def run_benchmark(config, workdir, log=print):
  """Runs (or resumes) the benchmark; returns the results dict (results.json).

  Args:
    config: `BenchmarkConfig`.
    workdir: folder of the trained models and results.json / results.md.
    log: callable for progress lines. Default value: `print`.
  """
  run_folder.check_writable(workdir, "workdir")
  path = os.path.join(workdir, "results.json")
  results = {"config": None, "cells": {}}
  if os.path.exists(path):
    results = run_folder.read_json(
        path, "benchmark results file",
        fix="delete it and re-run the same command: the trained models in "
        f"{workdir} are reused, only the cells are scored again")
    if not isinstance(results.get("cells"), dict):
      raise ValueError(f"{path} is no benchmark results file (it has no "
                       "'cells'); move it away or use another workdir.")
  # Every dataset of every pair before any training: a typo or a bad file
  # fails now, with nothing written.
  data_config = _data_config(config, config.in_distributions[0], 0)
  pairs = ",".join(f"{a}->{b}" for a, b in config.pairs)
  data.check_datasets(data_config, config.in_distributions,
                      splits=("train", "test"), what=f"--pairs={pairs}")
  data.check_datasets(data_config, [b for _, b in config.pairs],
                      what=f"--pairs={pairs}")
  current = serialization.to_dict(config)["config"]
  if results.get("config") is not None:
    run_folder.check_compatible(
        results["config"], current, workdir,
        ignore=config_lib.ood_benchmark.FREE_FIELDS,
        fix="use the same settings, or a new workdir")
  results["config"] = current
  start = time.perf_counter()
  for dataset in config.in_distributions:
    outs = [b for a, b in config.pairs
            if a == dataset and f"{a} -> {b}" not in results["cells"]]
    if not outs:
      log(f"{dataset}: all cells done (resumed)")
      continue
    cells = _evaluate_in_distribution(config, dataset, outs, workdir, log)
    for out, rows in cells.items():
      results["cells"][f"{dataset} -> {out}"] = rows
    results["elapsed_seconds"] = (results.get("elapsed_seconds", 0.)
                                  + time.perf_counter() - start)
    start = time.perf_counter()
    run_folder.write_json(path, results)
    log(f"{dataset}: {len(outs)} cell(s) written to {path}")
  run_folder.write_text(os.path.join(workdir, "results.md"),
                        benchmark_markdown(results, config))
  return results


def benchmark_markdown(results, config):
  """Rows = scores, columns = pairs, cells = AUROC [95% CI]."""
  columns = [f"{a} -> {b}" for a, b in config.pairs
             if f"{a} -> {b}" in results["cells"]]
  rows = [row for row, _, _ in score_rows(config.num_levels,
                                          config.typicality_batch_size)]
  table = []
  for row in rows:
    cells = []
    for column in columns:
      cell = results["cells"][column].get(row)
      cells.append("-" if cell is None else
                   f"{cell['auroc']:.3f} [{cell['auroc_low']:.3f}, "
                   f"{cell['auroc_high']:.3f}]")
    table.append([row] + cells)
  header = ["score (AUROC, higher = better)"] + [
      c.replace(" -> ", " → ") for c in columns]
  return ("AUROC of each score (mean over "
          f"{config.num_seeds} seeds, 95% bootstrap interval over seeds and "
          "examples; WAIC: over examples).\n\n"
          + report.markdown_table(header, table))
