"""`launch/evaluate.py`'s numbers as TensorBoard summaries, beside a run's training events.

    results = evaluate.evaluate(runs, config, output_dir)
    with np.load(f"{output_dir}/scores.npz") as scores:
      evaluation_summaries.write(results, scores, default_folders(runs))

For each run (and the ensemble, if given a folder) and each scored set
`<dataset>/<split>`, into `<folder>/<dataset>/<split>/` at the step of the
checkpoint that was scored:

  scalars     bits_per_dim (bits/dim); discrete_log_prob (log P(image)), and
              for a Glow log_prob_z, log_det, log_prob_z/level_<l>,
              log_det/level_<l>, log_det/<kind>, for a VAE log_prob_stderr
              (nats per image): the means of results.json's `models`, under
              the tags training writes to `eval_sets/` (`glow_ood.train.
              summaries`); for every set but the in-distribution ones auroc,
              aupr_in, aupr_out, fpr_at_95_tpr against the in-distribution
              test split, bits/dim the score
  histograms  histograms/discrete_log_prob, and for a Glow histograms/log_prob_z
              and histograms/log_det: the per-example values of scores.npz
              (nats per image), paper Fig. 2 and 4

The default folder of a run is `<workdir>/evaluate` (`DEFAULT_DIR`), so
`tensorboard --logdir=runs` shows the runs `<name>/evaluate/<dataset>/<split>`
next to training's `<name>/eval_sets/<dataset>/<split>`, with the same tags
(charts overlay), and the HParams dashboard lists them among the run's
metrics. Nothing is written into training's `train/`, `eval/`, `eval_sets/`.
"""

import os

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood.train import summaries

__all__ = ["DEFAULT_DIR", "DETECTION_DESCRIPTIONS", "default_folders",
           "scalars", "write"]

DEFAULT_DIR = "evaluate"

DETECTION_DESCRIPTIONS = {
    "auroc": "AUROC of this set against the in-distribution test split, "
             "bits/dim the OOD score (higher = more OOD); 0.5 = chance.",
    "aupr_in": "Area under the precision-recall curve, the in-distribution "
               "test split as positives (bits/dim the score).",
    "aupr_out": "Area under the precision-recall curve, this set as "
                "positives (bits/dim the score).",
    "fpr_at_95_tpr": "False-positive rate at 95% true-positive rate (a "
                     "fraction; bits/dim the score).",
}

_EXTRA_DESCRIPTIONS = {
    "log_prob_stderr": "Mean standard error of the importance-sampled log "
                       "P(image) (VAE), nats per image.",
    "discrete_log_prob_stderr": "Standard error of the mean log P(image) "
                                "(VAE), nats per image.",
}

# Per-example arrays of scores.npz drawn as histograms.
_HISTOGRAM_TERMS = ("discrete_log_prob", "log_prob_z", "log_det")


def default_folders(runs):
  """`{run name: <workdir>/evaluate}` of `glow_ood.runs.Run`s."""
  return {run.name: os.path.join(run.workdir, DEFAULT_DIR) for run in runs}


def scalars(summary):
  """A set's `likelihood_terms.LikelihoodTerms.summary()` (results.json) -> `{tag: float}`."""
  out = {}
  for name, value in summary.items():
    if name.endswith("_per_level"):
      out.update({f"{name[:-len('_per_level')]}/level_{l}": v
                  for l, v in enumerate(value)})
    elif name == "log_det_per_kind":
      out.update({f"log_det/{kind}": v for kind, v in sorted(value.items())})
    else:
      out[name] = value
  return {k: float(v) for k, v in out.items()}


def _describe(tag):
  return (DETECTION_DESCRIPTIONS.get(tag) or _EXTRA_DESCRIPTIONS.get(tag)
          or summaries.describe(tag))


def _write_set(folder, step, values, histograms):
  writer = tf.summary.create_file_writer(folder)
  with writer.as_default(step=step):
    for tag, value in values.items():
      tf.summary.scalar(tag, value, description=_describe(tag))
    for term, array in histograms.items():
      tf.summary.histogram(
          f"histograms/{term}", np.asarray(array, np.float64),
          description=f"Per-example {term} of the set, nats per image.")
  writer.close()


def write(results, scores, folders):
  """Writes the summaries of `results` into `folders` (see the module docstring).

  Args:
    results: the dict `glow_ood.experiments.evaluate.evaluate` returns.
    scores: mapping `"<run>/<dataset>/<split>/<term>" -> [N]` (scores.npz).
    folders: `{run name: folder}`; a run without a folder is skipped, and
      the key `"ensemble"` (if present and the evaluation had several runs)
      takes the ensemble's bits/dim, log P(image) and detection metrics
      (at the newest member's step).

  Returns:
    The folders written, `{name: folder}`.
  """
  written = {}
  steps = {run["name"]: int(run["step"]) for run in results["runs"]}
  for name, sets in results["models"].items():
    if name not in folders:
      continue
    detection = results["detection"][name]
    for set_name, summary in sets.items():
      values = scalars(summary)
      values.update(detection.get(set_name, {}))
      histograms = {term: scores[f"{name}/{set_name}/{term}"]
                    for term in _HISTOGRAM_TERMS
                    if f"{name}/{set_name}/{term}" in scores}
      _write_set(os.path.join(folders[name], set_name), steps[name],
                 _plottable(values), histograms)
    written[name] = folders[name]
  ensemble = results.get("ensemble")
  if ensemble is not None and "ensemble" in folders:
    step = max(steps.values())
    for set_name, bits in ensemble["bits_per_dim"].items():
      values = dict(bits_per_dim=bits,
                    discrete_log_prob=ensemble["discrete_log_prob"][set_name],
                    **ensemble["detection"].get(set_name, {}))
      key = f"ensemble/{set_name}/discrete_log_prob"
      _write_set(os.path.join(folders["ensemble"], set_name), step,
                 _plottable(values),
                 {"discrete_log_prob": scores[key]} if key in scores else {})
    written["ensemble"] = folders["ensemble"]
  return written


def _plottable(values):
  """`values` without the AUROC interval bounds (they stay in results.json)."""
  return {k: float(v) for k, v in values.items()
          if k not in ("auroc_low", "auroc_high")}
