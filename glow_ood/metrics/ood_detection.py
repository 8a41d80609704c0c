"""Out-of-distribution detection metrics from per-example scores.

Convention: a higher score means "more out-of-distribution" (e.g. bits/dim or
-log p(x)); in-distribution examples are the negatives, OOD ones the positives.
Scores may be +-inf (a likelihood that underflowed ranks as the most OOD), not
NaN.
"""

import numpy as np

__all__ = ["auroc", "aupr", "fpr_at_tpr", "bootstrap_interval",
           "seed_bootstrap_interval"]


def _scores_and_labels(in_scores, out_scores):
  in_scores = np.asarray(in_scores, np.float64).ravel()
  out_scores = np.asarray(out_scores, np.float64).ravel()
  if not len(in_scores) or not len(out_scores):
    raise ValueError("Both in- and out-of-distribution scores are needed.")
  # +-inf ranks like any number (a log-likelihood that underflowed to -inf
  # is the most OOD of scores); NaN has no rank.
  for name, values in (("in-distribution", in_scores),
                       ("out-of-distribution", out_scores)):
    if np.any(np.isnan(values)):
      raise ValueError(f"{int(np.isnan(values).sum())} of the {len(values)} "
                       f"{name} scores are NaN: a score cannot be ranked; "
                       "check the model's outputs on those inputs.")
  scores = np.concatenate([in_scores, out_scores])
  labels = np.concatenate([np.zeros(len(in_scores)), np.ones(len(out_scores))])
  return scores, labels


def auroc(in_scores, out_scores):
  """Area under the ROC curve = P(out score > in score) + P(tie) / 2."""
  scores, labels = _scores_and_labels(in_scores, out_scores)
  # Rank statistic (Mann-Whitney U) with average ranks for ties.
  order = np.argsort(scores, kind="mergesort")
  _, first, counts = np.unique(scores[order], return_index=True,
                               return_counts=True)
  ranks = np.empty(len(scores))
  ranks[order] = np.repeat(first + (counts + 1) / 2., counts)
  num_out = labels.sum()
  num_in = len(labels) - num_out
  u = ranks[labels == 1].sum() - num_out * (num_out + 1) / 2.
  return float(u / (num_out * num_in))


def aupr(in_scores, out_scores, positive="out"):
  """Area under the precision-recall curve (average precision).

  Args:
    positive: `"out"` (AUPR-Out: OOD examples are positives, high score) or
      `"in"` (AUPR-In: in-distribution examples are positives, low score).
  """
  if positive == "in":
    return aupr(-np.asarray(out_scores, np.float64),
                -np.asarray(in_scores, np.float64), positive="out")
  if positive != "out":
    raise ValueError(f"positive must be 'in' or 'out'; got {positive!r}.")
  scores, labels = _scores_and_labels(in_scores, out_scores)
  order = np.argsort(-scores, kind="mergesort")
  scores, labels = scores[order], labels[order]
  # Thresholds at distinct scores (ties form one step).
  last_of_run = np.r_[scores[1:] != scores[:-1], True]
  true_positives = np.cumsum(labels)[last_of_run]
  predicted = (np.arange(1, len(scores) + 1))[last_of_run]
  precision = true_positives / predicted
  recall = true_positives / labels.sum()
  recall_steps = np.diff(np.r_[0., recall])
  return float(np.sum(recall_steps * precision))


def fpr_at_tpr(in_scores, out_scores, tpr=0.95):
  """False-positive rate (in-distribution flagged) at the threshold catching `tpr` of OOD."""
  if not 0. < tpr <= 1.:
    raise ValueError(f"tpr must be in (0, 1]; got {tpr}.")
  in_scores = np.asarray(in_scores, np.float64).ravel()
  out_scores = np.sort(np.asarray(out_scores, np.float64).ravel())[::-1]
  _scores_and_labels(in_scores, out_scores)
  threshold = out_scores[int(np.ceil(tpr * len(out_scores))) - 1]
  return float(np.mean(in_scores >= threshold))


def bootstrap_interval(metric, in_scores, out_scores, num_resamples=1000,
                       confidence=0.95, seed=0):
  """Percentile bootstrap interval of `metric(in_scores, out_scores)`.

  Both sets are resampled with replacement, independently.

  Returns:
    `(value, low, high)`: the metric on the data and the interval bounds.
  """
  in_scores = np.asarray(in_scores, np.float64).ravel()
  out_scores = np.asarray(out_scores, np.float64).ravel()
  rng = np.random.default_rng(seed)
  values = [metric(rng.choice(in_scores, len(in_scores)),
                   rng.choice(out_scores, len(out_scores)))
            for _ in range(int(num_resamples))]
  alpha = (1. - confidence) / 2.
  low, high = np.quantile(values, [alpha, 1. - alpha])
  return float(metric(in_scores, out_scores)), float(low), float(high)


def seed_bootstrap_interval(metric, in_scores, out_scores, num_resamples=1000,
                            confidence=0.95, seed=0):
  """Mean of `metric` over S seeds with a two-level percentile bootstrap interval.

  Each resample draws S seeds with replacement and, within each drawn seed,
  its in- and out-of-distribution examples with replacement, and averages the
  metric over the drawn seeds; so the interval covers the variation between
  trained models (seeds) as well as the finite test sets.

  Args:
    metric: `(in_scores, out_scores) -> float`, e.g. `auroc`.
    in_scores, out_scores: sequences of S arrays (one per seed).

  Returns:
    `(mean, low, high, per_seed)`: the mean over seeds of the metric on the
    data, the interval bounds, and the list of per-seed values.
  """
  in_scores = [np.asarray(s, np.float64).ravel() for s in in_scores]
  out_scores = [np.asarray(s, np.float64).ravel() for s in out_scores]
  if not in_scores or len(in_scores) != len(out_scores):
    raise ValueError(f"Need the same number (>= 1) of in- and out-of-"
                     f"distribution score arrays, one per seed; got "
                     f"{len(in_scores)} and {len(out_scores)}.")
  per_seed = [float(metric(a, b)) for a, b in zip(in_scores, out_scores)]
  rng = np.random.default_rng(seed)
  num_seeds = len(in_scores)
  values = []
  for _ in range(int(num_resamples)):
    picks = rng.integers(0, num_seeds, num_seeds)
    values.append(np.mean([
        metric(rng.choice(in_scores[k], len(in_scores[k])),
               rng.choice(out_scores[k], len(out_scores[k])))
        for k in picks]))
  alpha = (1. - confidence) / 2.
  low, high = np.quantile(values, [alpha, 1. - alpha])
  return float(np.mean(per_seed)), float(low), float(high), per_seed
