"""OOD-score benchmark: every score of `glow_ood.scores` on in -> out dataset pairs.

For each in-distribution dataset of `config.pairs`, `run_benchmark` takes its
models, of the family of `config.model` (any registered: Glow, PixelCNN++,
VAE, or one of your own) and built from it: the finished training runs of
`config.model_runs` that were trained on it, or else `num_seeds` models it
trains (or reuses, if finished) itself; and, per model,
one background model of the same family for every `(mu, lambda)` of
`config.background_settings`: trained on inputs mutated at rate `mu` (Ren et
al.) with an L2 penalty `lambda` on its weights. The folders are

    <workdir>/<dataset>/seed_<s>/model, .../background_mu<mu>_l2<lambda>
    <workdir>/<dataset>/seed_<s>/<family>/model, .../background_...

(the first for the default family, `families.DEFAULT`, Glow, as the folders
were before there were several; the second for every other)
    <workdir>/<dataset>/run_<k>[/<family>]/background_...  (backgrounds of the
                                                            k-th model run)

(a default-family background of `mu`, `lambda = 0` trained before the sweep existed, in
`seed_<s>/background`, is reused). It scores the held-out in-distribution
images the scores are fitted on (`_fit_split`), the in-distribution test images
and each out-of-distribution set (test split, conformed to the model's shape),
and for every score and pair computes, per model, AUROC, AUPR-In/Out and FPR at
95% TPR. A cell's AUROC is the mean over the models (seeds) with a two-level
(seeds, then examples) 95% bootstrap interval (`metrics.seed_bootstrap_interval`).

The rows are `benchmark_rows.score_rows`, keyed by plain identifiers. The
ensemble score (WAIC) uses the models as its members, so it has one value per
example rather than one per seed, its interval over examples only, and needs
two models or more. Batched rows rank batches of `M` consecutive examples
(each set split into batches, `M` of `config.batch_sizes`), so their AUROC is
per batch. The per-level rows and the latents' goodness-of-fit need a
family with the `"decomposition"` capability (Glow); for them the scorer
keeps the latents, and for a family with the `"statistics"` capability
(PixelCNN++, VAE) its own statistics, which DoSE uses besides the likelihood
and the PNG length.

`<workdir>/results.json` holds, per family, the settings, the finished cells,
how each out-of-distribution set was made to fit the model where the
in-distribution images were not (`preprocessing`: zero-padding from another
size, grayscale tiled to RGB) and the model runs it scored, written as they
complete:

    {"format_version": 5,
     "families": {"glow": {"config": {...}, "cells": {pair: {row: cell}},
                           "preprocessing": {pair: [note, ...]},
                           "model_runs": {dataset: {...}},
                           "elapsed_seconds": ...}, "pixelcnn": {...}}}

A re-run skips finished cells (and every finished training run), so the
benchmark resumes; a pair that lacks a row (a new score, batch size or
background setting) is scored again with the models it has. Running it with
another `--model` in the same folder adds that family's cells, which
`benchmark_markdown` puts beside the others' in one table with a model
column. Results files of formats 1 and 2 (rows keyed by their labels), 3
(Glow's settings flattened into the config, the other families' nested under
their names) and 4 (the config's `model` the family's name, its settings in
`template`, where format 5 has them in `model`) are read as format 5.
"""

import dataclasses
import os
import time
from typing import Optional, Tuple

import numpy as np

from glow_ood import configs as config_lib
from glow_ood import data
from glow_ood import fileio
from glow_ood import likelihood_terms
from glow_ood import metrics
from glow_ood import models as models_lib
from glow_ood import runs as runs_lib
from glow_ood import scores as scores_lib
from glow_ood import train as train_lib
from glow_ood.configs import families
from glow_ood.configs import serialization
from glow_ood.experiments import benchmark_rows
from glow_ood.experiments import report
from glow_ood.experiments.benchmark_rows import likelihood_ratio_row
from glow_ood.experiments.benchmark_rows import score_rows
from glow_ood.runs import folder as run_folder
from glow_ood.scores import pass_memo

__all__ = ["score_rows", "likelihood_ratio_row", "run_benchmark",
           "benchmark_markdown", "family_config", "RESULTS_FORMAT"]

RESULTS_FORMAT = 5
# Format 3's settings of the default family's models, flattened into the
# config (format 4: `template`; 5: `model`), with the defaults they had.
_FORMAT_3_FLAT = {"num_levels": 3, "num_steps_per_level": 2,
                  "hidden_width": 64, "coupling_scale": "sigmoid"}
# DataConfig fields that may differ between the runs of one dataset: the
# images they are scored on are the same.
_RUN_DATA_FREE = ("seed", "shuffle_buffer", "validation_size", "data_dir",
                  "tfds_data_dir", "tfds_download", "mutation_rate")
_FIT_SEED = 1   # the test images a run-less fit split is drawn from


def family_config(config):
  """The JSON-ready settings of `config` that its family's cells depend on."""
  return serialization.to_dict(config)["config"]


def _title(family):
  """A family's name in tables (its own name if it is not registered here)."""
  return families.get(family).title if family in families.names() else family


@dataclasses.dataclass(frozen=True)
class _Models:
  """Where the models of one in-distribution dataset come from.

  Attributes:
    dataset: the in-distribution dataset.
    data: `DataConfig` of the models' images (as they were trained on).
    runs: `((folder, TrainConfig, finished step), ...)` of the model runs
      used, or `()` for models the benchmark trains.
    fit_split: `"validation"` (training images held out from every model)
      or `"test"` (test images disjoint from the scored ones: the runs held
      out no common training images).
    num_models: Python `int`.
    num_levels: levels of a model with the decomposition, else `None`.
  """
  dataset: str
  data: object
  runs: Tuple[Tuple[str, object], ...]
  fit_split: str
  num_models: int
  num_levels: Optional[int]

  def rows(self, config):
    """`score_rows` of these models."""
    return score_rows(config, num_models=self.num_models,
                      num_levels=self.num_levels)


def _data_config(config, dataset, seed, mutation_rate=0.):
  return data.DataConfig(dataset=dataset, data_dir=config.data_dir,
                         pad_to=config.image_size,
                         validation_size=config.validation_size, seed=seed,
                         mutation_rate=mutation_rate)


def _recipe(config, model, data_config, model_seed, l2_weight):
  """The benchmark's `TrainConfig` of `model` on `data_config`."""
  return config_lib.TrainConfig(
      model=model, data=data_config,
      batch_size=config.batch_size, init_batch_size=256,
      eval_batch_size=config.eval_batch_size,
      train_steps=config.train_steps, learning_rate=config.learning_rate,
      warmup_steps=config.warmup_steps, l2_weight=l2_weight,
      log_every=max(config.train_steps // 5, 1), eval_every=0,
      checkpoint_every=config.train_steps, eval_num_examples=500,
      sample_temperatures=(1.,), num_samples=4, seed=model_seed)


def _train_config(config, dataset, channels, seed, background=None):
  """The `TrainConfig` of a model (`background=None`) or a background model.

  Args:
    background: `None`, or `(mutation_rate, l2_weight)` of a background.
  """
  model_seed = seed + (0 if background is None else 1000)
  mutation_rate, l2_weight = background or (0., 0.)
  return _recipe(
      config,
      config.model_config((config.image_size, config.image_size, channels),
                          model_seed),
      # Data seed 0 for all: one validation split, held out from every model.
      _data_config(config, dataset, 0, mutation_rate), model_seed, l2_weight)


def _run_background_config(config, run_config, background):
  """The `TrainConfig` of a background of a model run: its model and data."""
  mutation_rate, l2_weight = background
  model_seed = run_config.model.seed + 1000
  return _recipe(
      config, run_config.model.replace(seed=model_seed),
      run_config.data.replace(
          mutation_rate=mutation_rate,
          data_dir=config.data_dir or run_config.data.data_dir),
      model_seed, l2_weight)


def _seed_dir(config, workdir, dataset, seed, reused=False):
  run_dir = os.path.join(workdir, dataset,
                         f"run_{seed}" if reused else f"seed_{seed}")
  if config.family == families.DEFAULT:
    return run_dir
  return os.path.join(run_dir, config.family)


def _background_dir(config, seed_dir, mutation_rate, l2_weight):
  """The folder of a background; a pre-sweep (default-family) one is reused."""
  legacy = os.path.join(seed_dir, "background")
  if config.family == families.DEFAULT and l2_weight == 0. and os.path.exists(
      os.path.join(legacy, run_folder.CONFIG_FILE)):
    saved = fileio.read_json(os.path.join(legacy, run_folder.CONFIG_FILE),
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


# The models of each dataset.

def _model_runs(config):
  """`{dataset: ((folder, TrainConfig, step), ...)}` of `config.model_runs`, checked.

  Raises:
    ValueError: a run of another family, of no in-distribution dataset of
      the pairs, unfinished, or runs of one dataset that differ in their
      model (but for its seed) or images.
  """
  by_dataset = {}
  where = f"--model_runs={','.join(config.model_runs)}"
  for folder in config.model_runs:
    train = run_folder.read_config(folder, config_lib.TrainConfig)
    if train.family != config.family:
      raise ValueError(
          f"{where}: {folder} is a {train.family} run; this benchmark is "
          f"--model={config.family}. Pass runs of that family, or set "
          "--model.")
    dataset = train.data.dataset
    if dataset not in config.in_distributions:
      raise ValueError(
          f"{where}: {folder} is a model of {dataset}, which no --pairs entry "
          "has as its in-distribution dataset "
          f"({', '.join(config.in_distributions)}).")
    step = run_folder.finished_step(folder, train.train_steps)
    if step is None:
      raise ValueError(
          f"{where}: {folder} has not finished its {train.train_steps} "
          "training steps (no results.json of that step); finish it first "
          f"(python launch/train.py --workdir={folder} resumes it).")
    by_dataset.setdefault(dataset, []).append((folder, train, step))
  for dataset, runs in by_dataset.items():
    (first, reference, _), *others = runs
    for folder, train, _ in others:
      changed = run_folder.differences(
          _run_identity(reference), _run_identity(train))
      if changed:
        raise ValueError(
            f"{where}: {first} and {folder} are models of {dataset} that "
            "differ in more than their seeds ("
            + "; ".join(f"{n}={a!r} vs {b!r}" for n, a, b in changed)
            + "); score one of them, or runs alike.")
  return {dataset: tuple(runs) for dataset, runs in by_dataset.items()}


def _run_identity(train):
  """What the runs of one dataset share: the model (but its seed), the images."""
  values = serialization.to_dict(train)["config"]
  model = dict(values["model"], seed=None)
  images = {k: v for k, v in values["data"].items() if k not in _RUN_DATA_FREE}
  return {"model": model, "data": images}


def _models_of(config, dataset, runs):
  """The `_Models` of `dataset`: its model runs, else the benchmark's own."""
  decomposes = families.of_config(config.model).has("decomposition")
  if not runs:
    return _Models(dataset, _data_config(config, dataset, 0), (), "validation",
                   config.num_seeds,
                   config.model.num_levels if decomposes else None)
  trains = [train for _, train, _ in runs]
  model = trains[0].model
  held_out = {(t.data.validation_size, t.data.seed) for t in trains}
  # The runs' own held-out split if they share one as large as asked for.
  size = next(iter(held_out))[0] if len(held_out) == 1 else 0
  fit_split = "validation" if size >= config.validation_size else "test"
  images = trains[0].data.replace(
      data_dir=config.data_dir or trains[0].data.data_dir, mutation_rate=0.,
      image_shape=None)
  return _Models(dataset, images, tuple(runs), fit_split, len(runs),
                 model.num_levels if decomposes else None)


def _models(config, models, channels, workdir, log):
  """Yields `(seed, model, seed folder, background config)` per model.

  `background config` maps `(mu, lambda)` to the `TrainConfig` of the
  model's background of that setting.
  """
  family = _title(config.family)
  dataset = models.dataset
  if not models.runs:
    for seed in range(config.num_seeds):
      seed_dir = _seed_dir(config, workdir, dataset, seed)
      model = _trained_model(
          _train_config(config, dataset, channels, seed),
          os.path.join(seed_dir, "model"), f"{family} {seed} of {dataset}",
          log)
      yield seed, model, seed_dir, (
          lambda setting, seed=seed: _train_config(config, dataset, channels,
                                                   seed, setting))
    return
  for seed, (folder, train, _) in enumerate(models.runs):
    log(f"scoring the model run {folder} ({family} of {dataset})")
    yield seed, runs_lib.load_run(folder).model, _seed_dir(
        config, workdir, dataset, seed, reused=True), (
            lambda setting, train=train: _run_background_config(
                config, train, setting))


# Images.

def _load_sets(config, models, outs):
  """`{"fit", "test", out...: uint8 images}` of one in-distribution dataset.

  "fit" is `models.fit_split`'s: the held-out training images, or (a fit on
  the test split) `config.validation_size` test images drawn with
  `_FIT_SEED` from those `transforms.subsample` leaves out of "test" (so the
  sets made from the test split, "flipped:<dataset>", stay the scored test
  images'), in file order.
  """
  dataset = models.dataset
  if models.fit_split == "validation":
    loaded = data.load_evaluation_sets(
        models.data, outs, splits=("validation", "test"),
        num_examples=config.num_examples, full_splits=("validation",))
    fit = loaded[f"{dataset}/validation"]
    if models.runs:   # the runs' split may be larger than asked for
      fit = data.subsample(fit, config.validation_size)
    test = loaded[f"{dataset}/test"]
  else:
    loaded = data.load_evaluation_sets(
        models.data, outs, splits=("test",),
        num_examples=config.num_examples, full_splits=("test",))
    images = loaded[f"{dataset}/test"]
    scored = data.transforms.subsample_indices(len(images),
                                               config.num_examples)
    rest = np.setdiff1d(np.arange(len(images)), scored)
    if len(rest) < config.validation_size:
      raise ValueError(
          f"The runs of {dataset} held out no training images to fit the "
          f"scores on, so they are fitted on test images, but its test split "
          f"has {len(images)}: fewer than num_examples={config.num_examples}"
          f" scored + validation_size={config.validation_size} to fit on. "
          "Lower them.")
    fit = images[np.sort(np.random.default_rng(_FIT_SEED).choice(
        rest, config.validation_size, replace=False))]
    test = images[scored]
  return {"fit": fit, "test": test,
          **{out: loaded[f"{out}/test"] for out in outs}}


def _preprocessing_notes(in_shape, out_shape, model_shape):
  """How an OOD set was made to fit the model where the in-distribution images were not.

  Args:
    in_shape, out_shape: `(H, W, C)` of the stored images (`out_shape`
      `None`: generated at the model's shape).
    model_shape: `(H, W, C)` the model takes.
  """
  (ih, iw, ic), (mh, mw, mc) = in_shape, model_shape
  if out_shape is None:
    if (ih, iw) != (mh, mw):
      return [f"generated at {mh}x{mw}, without the zero border that padding "
              f"gives the in-distribution images ({ih}x{iw} stored)"]
    return []
  oh, ow, oc = out_shape
  notes = []
  if (oh, ow) != (ih, iw):
    notes.append(f"{oh}x{ow} images zero-padded to {mh}x{mw}; the "
                 f"in-distribution images are {ih}x{iw}"
                 + (" as stored" if (ih, iw) == (mh, mw) else
                    f", zero-padded to {mh}x{mw} too"))
  if oc == 1 and mc == 3 and ic == 3:
    notes.append("grayscale tiled to RGB (R = G = B); the in-distribution "
                 "images are colour")
  return notes


# Scoring.

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


def _score_models(config, models, sets, workdir, log):
  """Per model: `LikelihoodTerms` of every set, and of its backgrounds; level sizes.

  Returns:
    `(scored, backgrounds, num_dims_per_level, trained)`: `[{set:
    LikelihoodTerms}]`, `[{(mu, lambda): {set: LikelihoodTerms}}]` (no "fit" set),
    per model its levels' latent sizes or `None`, and the models themselves
    (for the scores that run them).
  """
  channels = sets["fit"].shape[-1]
  scored, backgrounds, level_sizes, trained = [], [], [], []
  for _, model, seed_dir, background_config in _models(
      config, models, channels, workdir, log):
    trained.append(model)
    capabilities = model.capabilities
    scorer = likelihood_terms.LikelihoodTermsEvaluator(
        model, config.eval_batch_size,
        latents="decomposition" in capabilities,
        statistics="statistics" in capabilities)
    scored.append({name: scorer(images) for name, images in sets.items()})
    level_sizes.append(
        [int(np.prod(s)) for s in model.flow.latent_shapes]
        if "decomposition" in capabilities else None)
    backgrounds.append({})
    for mu, l2 in config.background_settings:
      background = _trained_model(
          background_config((mu, l2)),
          _background_dir(config, seed_dir, mu, l2),
          f"{_title(config.family)} background of {seed_dir} (mu={mu:g}, "
          f"lambda={l2:g})", log)
      scorer = likelihood_terms.LikelihoodTermsEvaluator(background, config.eval_batch_size)
      backgrounds[-1][mu, l2] = {name: scorer(images)
                                 for name, images in sets.items()
                                 if name != "fit"}
  return scored, backgrounds, level_sizes, trained


def _model_score_maker(config, trained, num_sets):
  """`make(row score, seed)`: the row's score for model `seed`.

  A `ModelScore` is built for the seed's model, every row of one model
  sharing one `PassMemo` (large enough for each model score's passes over
  every set: the fit set twice, for the gradient test's two halves), so a
  batch row, or a refit for the next pair, runs no pass again.
  """
  entries = 2 * (num_sets + 2) * max(1, len(config.model_scores))
  memos = [pass_memo.PassMemo(model, max_entries=entries)
           for model in trained]

  def make(score, seed):
    if isinstance(score, benchmark_rows.ModelScore):
      return score.build(trained[seed], memos[seed])
    return score
  return make


def _evaluate_in_distribution(config, models, outs, workdir, log):
  """`(cells {out: {row: cell}}, notes {out: [note]})` of one dataset's models."""
  sets = _load_sets(config, models, outs)
  model_shape = sets["test"].shape[1:]
  in_shape = data.loading.stored_shape(models.data, models.dataset)
  notes = {out: _preprocessing_notes(
      in_shape, data.loading.stored_shape(models.data, out), model_shape)
           for out in outs}
  scored, backgrounds, level_sizes, trained = _score_models(
      config, models, sets, workdir, log)
  make_score = _model_score_maker(config, trained, len(sets))
  seeds = range(models.num_models)
  features = {
      (seed, name): scores_lib.from_likelihood_terms(
          scored[seed][name], members=[scored[s][name] for s in seeds],
          images=sets[name], num_dims_per_level=level_sizes[seed])
      for seed in seeds for name in sets}
  del scored   # the features hold what is needed
  ratio_rows = {likelihood_ratio_row(mu, l2): (mu, l2)
                for mu, l2 in config.background_settings}

  def features_of(row, seed, name):
    if row not in ratio_rows or name == "fit":
      return features[seed, name]
    return dataclasses.replace(
        features[seed, name], discrete_log_prob_background=backgrounds[seed][
            ratio_rows[row]][name].discrete_log_prob)

  cells = {out: {} for out in outs}
  for row, score, kind in models.rows(config):
    in_values, out_values, fitted_configs = [], {o: [] for o in outs}, []
    for seed in (seeds if kind != "ensemble" else [0]):
      # Fitted once per model: the same fit scores the test set and each
      # out-of-distribution set.
      if isinstance(score, benchmark_rows.ModelScore):
        log(f"  {row}: running model {seed} on every image")
      fitted = make_score(score, seed).fit(features_of(row, seed, "fit"))
      fitted_configs.append(fitted.config())
      apply = fitted.score_batches if kind == "batches" else fitted
      in_values.append(apply(features_of(row, seed, "test")))
      for out in outs:
        out_values[out].append(apply(features_of(row, seed, out)))
    for out in outs:
      cell = _auroc_cell(in_values, out_values[out], config.num_bootstrap)
      # The score's settings as fitted on each model's fit set.
      cell["score"] = dict(fitted_configs[0], kind=kind,
                           fitted_per_seed=fitted_configs)
      if row in ratio_rows:
        cell["score"].update(mutation_rate=ratio_rows[row][0],
                             l2_weight=ratio_rows[row][1])
      cells[out][row] = cell
  return cells, notes


def _runs_record(config, models):
  """What `results.json` says of a dataset's model runs (for the table)."""
  return {
      "runs": [folder for folder, _, _ in models.runs],
      "steps": [step for _, _, step in models.runs],
      "batch_size": models.runs[0][1].batch_size,
      "model": models_lib.describe(models.runs[0][1].model),
      "fit_split": models.fit_split,
      "fit_size": config.validation_size,
  }


# results.json

def _upgraded(results, path):
  """`results.json` of format 1 (Glow only), 2 (rows by label), 3 or 4 as format 5."""
  version = results.get("format_version")
  if isinstance(version, int) and version > RESULTS_FORMAT:
    raise ValueError(
        f"{path} is of results format {version}, newer than this glow_ood's "
        f"{RESULTS_FORMAT}; use the glow_ood that wrote it, or another "
        "workdir.")
  if version in (2, 3, 4, RESULTS_FORMAT) and not isinstance(
      results.get("families"), dict):
    raise ValueError(f"{path} is no benchmark results file (it has no "
                     "'families'); move it away or use another workdir.")
  if version == RESULTS_FORMAT:
    return results
  if version == 4:
    return {"format_version": RESULTS_FORMAT,
            "families": {name: _family_of_format_4(family)
                         for name, family in results["families"].items()}}
  if version == 3:
    return _upgraded({
        "format_version": 4,
        "families": {name: _family_of_format_3(family)
                     for name, family in results["families"].items()}}, path)
  if version == 2:
    return _upgraded({
        "format_version": 3,
        "families": {name: _family_of_format_2(family)
                     for name, family in results["families"].items()}}, path)
  if not isinstance(results.get("cells"), dict):
    raise ValueError(f"{path} is no benchmark results file (it has no "
                     "'cells'); move it away or use another workdir.")
  saved = dict(results.get("config") or {})
  mutation_rate = saved.get("mutation_rate", 0.2)
  if not isinstance(mutation_rate, list):
    saved["mutation_rate"] = [mutation_rate]
  saved.setdefault("model", families.DEFAULT)
  saved.setdefault("background_l2", [0.])
  # The one likelihood-ratio row of format 1 is the (mu, 0) background's.
  old_row = "likelihood ratio (background)"
  new_row = benchmark_rows.row_label(
      likelihood_ratio_row(saved["mutation_rate"][0], 0.))
  cells = {pair: {(new_row if row == old_row else row): cell
                  for row, cell in rows.items()}
           for pair, rows in results["cells"].items()}
  family = {"config": saved, "cells": cells}
  if "elapsed_seconds" in results:
    family["elapsed_seconds"] = results["elapsed_seconds"]
  return _upgraded({"format_version": 2,
                    "families": {families.DEFAULT: family}}, path)


def _family_of_format_2(family):
  """A family of format 2: rows keyed by label, one typicality batch size."""
  family = dict(family)
  family["cells"] = {
      pair: {benchmark_rows.row_of_label(row): cell
             for row, cell in rows.items()}
      for pair, rows in family.get("cells", {}).items()}
  saved = dict(family.get("config") or {})
  if "typicality_batch_size" in saved:
    saved["batch_sizes"] = [saved.pop("typicality_batch_size")]
  saved.setdefault("model_runs", [])   # the models were the benchmark's
  family["config"] = saved
  return family


def _family_of_format_3(family):
  """A family of format 3: its model's settings flattened (Glow) or nested.

  Format 3 kept the default family's four settings at the top of the config
  and every other family's template under its name (a results file holds
  only its own family's); format 4 keeps the family's in `template`.
  """
  family = dict(family)
  saved = dict(family.get("config") or {})
  if "template" not in saved:
    name = saved.get("model", families.DEFAULT)
    flat = {key: saved.pop(key, default)
            for key, default in _FORMAT_3_FLAT.items()}
    nested = {other: saved.pop(other) for other in list(saved)
              if other in families.names()}
    if name == families.DEFAULT:
      template = families.get(name).benchmark.replace(**flat)
      saved["template"] = {"family": name, **serialization.to_dict(
          template)["config"]}
    else:
      saved["template"] = dict(nested.get(name) or serialization.to_dict(
          families.get(name).benchmark)["config"], family=name)
  family["config"] = saved
  return family


def _family_of_format_4(family):
  """A family of format 4: its config's `model` its name, its settings in `template`.

  Format 5 keeps the settings in `model`, as `TrainConfig` does (the family
  in their `"family"` key).
  """
  family = dict(family)
  saved = dict(family.get("config") or {})
  name = saved.get("model", families.DEFAULT)
  template = saved.pop("template", None)
  if template is None:
    template = serialization.to_dict(families.get(name).benchmark)["config"]
  saved["model"] = {"family": name, **template}
  family["config"] = saved
  return family


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
  fileio.check_writable(workdir, "workdir")
  path = os.path.join(workdir, "results.json")
  results = {"format_version": RESULTS_FORMAT, "families": {}}
  if os.path.exists(path):
    results = _upgraded(fileio.read_json(
        path, "benchmark results file",
        fix="delete it and re-run the same command: the trained models in "
        f"{workdir} are reused, only the cells are scored again"), path)
  # Every dataset of every pair and every model run before any training: a
  # typo or a bad file fails now, with nothing written.
  data_config = _data_config(config, config.in_distributions[0], 0)
  pairs = ",".join(f"{a}->{b}" for a, b in config.pairs)
  data.check_datasets(data_config, config.in_distributions,
                      splits=("train", "test"), what=f"--pairs={pairs}")
  data.check_datasets(data_config, [b for _, b in config.pairs],
                      what=f"--pairs={pairs}")
  model_runs = _model_runs(config)
  current = family_config(config)
  family = results["families"].setdefault(config.family, {"cells": {}})
  if family.get("config") is not None:
    run_folder.check_compatible(
        family["config"], current, workdir,
        ignore=config_lib.ood_benchmark.FREE_FIELDS,
        fix=f"use the same settings for --model={config.family}, or a new "
        "workdir")
  family["config"] = current
  start = time.perf_counter()
  for dataset in config.in_distributions:
    models = _models_of(config, dataset, model_runs.get(dataset, ()))
    rows = [row for row, _, _ in models.rows(config)]
    # A pair is done when it has every row (a new score, batch size or
    # background setting adds a row, and the pair is scored again with the
    # models it has).
    outs = [b for a, b in config.pairs if a == dataset and not all(
        row in family["cells"].get(f"{a} -> {b}", {}) for row in rows)]
    if not outs:
      log(f"{dataset}: all cells done (resumed)")
      continue
    cells, notes = _evaluate_in_distribution(config, models, outs, workdir,
                                             log)
    for out, new in cells.items():
      pair = f"{dataset} -> {out}"
      # The table's rows in order, then rows of settings no longer run.
      merged = {**family["cells"].get(pair, {}), **new}
      family["cells"][pair] = {**{row: merged[row] for row in rows}, **merged}
      family.setdefault("preprocessing", {})[pair] = notes[out]
    if models.runs:
      family.setdefault("model_runs", {})[dataset] = _runs_record(config,
                                                                  models)
    family["elapsed_seconds"] = (family.get("elapsed_seconds", 0.)
                                 + time.perf_counter() - start)
    start = time.perf_counter()
    fileio.write_json(path, results)
    log(f"{dataset}: {len(outs)} cell(s) written to {path}")
  fileio.write_json(path, results)
  fileio.write_text(os.path.join(workdir, "results.md"),
                    benchmark_markdown(results, config))
  return results


# results.md

def _models_line(family, saved, record):
  """The table note on one family's models (`record`: its model runs)."""
  name = _title(family)
  backgrounds = ("backgrounds (mu, lambda) in "
                 + ", ".join(f"({mu:g}, {l2:g})"
                             for mu, l2 in saved.background_settings))
  lines = []
  runs = record or {}
  trained = [a for a, _ in saved.pairs if a not in runs]
  if trained or not runs:
    shape = (saved.image_size, saved.image_size, 1)
    lines.append(
        f"- {name}: {saved.num_seeds} seeds of "
        f"{models_lib.describe(saved.model_config(shape, 0))}, "
        f"{saved.train_steps} steps of batch {saved.batch_size}; "
        f"{backgrounds}.")
  for dataset, run in runs.items():
    fit = (f"scores fitted on {run['fit_size']} held-out training images"
           if run["fit_split"] == "validation" else
           f"scores fitted on {run['fit_size']} test images disjoint from "
           "the scored ones (the runs held no training images out)")
    lines.append(
        f"- {name} on {dataset}: the model run(s) {', '.join(run['runs'])}, "
        f"{run['model']}, {'/'.join(map(str, run['steps']))} steps of batch "
        f"{run['batch_size']}; {fit}; {backgrounds}, each the run's model "
        f"trained {saved.train_steps} steps of batch {saved.batch_size} on "
        "its mutated data.")
  return lines


def benchmark_markdown(results, config):
  """Rows = (score, model family), columns = pairs, cells = AUROC [95% CI].

  Every family in `results` gets its rows; the pairs are `config.pairs`'s
  (in order) and then any other pair a family has cells of. A column whose
  out-of-distribution images were made to fit the model where the
  in-distribution images were not (padded from another size, tiled from
  grayscale) is marked `†` and the difference said below the table.
  """
  names = [f for f in families.names() if f in results["families"]] + [
      f for f in results["families"] if f not in families.names()]
  columns = [f"{a} -> {b}" for a, b in config.pairs]
  for family in names:
    columns += [c for c in results["families"][family]["cells"]
                if c not in columns]
  columns = [c for c in columns if any(
      c in results["families"][f]["cells"] for f in names)]
  rows = []
  for family in names:
    for pair_rows in results["families"][family]["cells"].values():
      rows += [r for r in pair_rows if r not in rows]
  rows.sort(key=benchmark_rows.row_rank)   # stable: each family's order
  levels = [int(r.split("_")[1]) for r in rows if r.startswith("level_")
            and r.split("_")[1].isdigit()]
  last_level = max(levels) if levels else None
  table = []
  for row in rows:
    for family in names:
      cells = results["families"][family]["cells"]
      if not any(row in cells[c] for c in columns if c in cells):
        continue
      line = [benchmark_rows.row_label(row, last_level), _title(family)]
      for column in columns:
        cell = cells.get(column, {}).get(row)
        line.append("-" if cell is None else
                    f"{cell['auroc']:.3f} [{cell['auroc_low']:.3f}, "
                    f"{cell['auroc_high']:.3f}]")
      table.append(line)
  notes, unknown = {}, []
  for column in columns:
    recorded = [results["families"][f].get("preprocessing", {}).get(column)
                for f in names
                if column in results["families"][f]["cells"]]
    said = [n for r in recorded if r for n in r]
    if said:
      notes[column] = list(dict.fromkeys(said))
    elif any(r is None for r in recorded):
      unknown.append(column)
  header = ["score (AUROC, higher = better)", "model"] + [
      c.replace(" -> ", " → ") + (" †" if c in notes else "")
      for c in columns]
  models = []
  for family in names:
    saved = _saved_config(results["families"][family]["config"])
    models += _models_line(family, saved,
                           results["families"][family].get("model_runs"))
  text = ("AUROC of each score (mean over the seeds, 95% bootstrap interval "
          "over seeds and examples; WAIC: over examples).\n\n"
          + "\n".join(models) + "\n\n"
          + report.markdown_table(header, table))
  return text + "\n" + _preprocessing_text(notes, unknown, columns)


def _preprocessing_text(notes, unknown, columns):
  lines = [f"† {column.replace(' -> ', ' → ')}: {'; '.join(said)}."
           for column, said in notes.items()]
  others = [c for c in columns if c not in notes and c not in unknown]
  if others:
    lines.append("Every other out-of-distribution set went through the "
                 "in-distribution images' preprocessing.")
  if unknown:
    lines.append("Not recorded (scored before the benchmark recorded it): "
                 + ", ".join(c.replace(" -> ", " → ") for c in unknown) + ".")
  return "\n".join(lines) + "\n"
