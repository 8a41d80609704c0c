"""The docs' tables of the OOD benchmark's recorded runs (docs/OOD_BENCHMARK.md).

Records `ood_benchmark_cifar10`, `ood_benchmark_cifar10_gradients` and
`ood_benchmark_fashion_mnist`: `launch/ood_benchmark.py` with
`ood_benchmark_<name>.cfg` on a CPU Glow run (`runs/cifar10_glow_cpu`,
`runs/fashion_mnist_glow_cpu`), condensed by `scripts/summarize_benchmark.py`.
"""

import functools

from scripts.table_format import markdown_table

__all__ = ["TABLES"]


def _cell(entry):
  if entry is None:
    return "-"
  return (f"{entry['auroc']:.3f} [{entry['auroc_low']:.3f}, "
          f"{entry['auroc_high']:.3f}]")


def _short(pair):
  """`"cifar10_jpeg -> jpeg:svhn_cropped:75"` -> `"jpeg:svhn_cropped:75"`."""
  return pair.split(" -> ", 1)[1]


def _glow(records, experiment):
  return records[experiment]["metrics"]["benchmark"]["families"]["glow"]


def pairs_table(records, experiment):
  """AUROC [95% CI] of every score (rows) on every pair (columns) of a record."""
  family = _glow(records, experiment)
  header = ["score (AUROC, higher = better)"] + [
      _short(pair) + (" †" if family["preprocessing"].get(pair) else "")
      for pair in family["pairs"]]
  body = [[family["labels"][row]] + [
      _cell(family["auroc"][pair].get(row)) for pair in family["pairs"]]
          for row in family["rows"]]
  notes = [f"† {_short(pair)}: " + "; ".join(notes)
           for pair, notes in family["preprocessing"].items() if notes]
  return markdown_table(header, body) + "".join(
      f"\n{note}.\n" for note in notes)


def best_table(records, experiment):
  """Per pair: the best single-example score and the best with batches of 10."""
  family = _glow(records, experiment)
  body = []
  for pair in family["pairs"]:
    cells = family["auroc"][pair]
    single = [row for row in cells if "batch" not in row]
    batched = [row for row in cells if row.endswith("_batch_10")]
    best = max(single, key=lambda row: cells[row]["auroc"])
    best10 = max(batched, key=lambda row: cells[row]["auroc"])
    body.append((_short(pair), family["labels"][best], _cell(cells[best]),
                 family["labels"][best10], _cell(cells[best10])))
  return markdown_table(("OOD set", "best, one image", "AUROC",
                         "best, batches of 10", "AUROC"), body)


def recommended_table(records):
  """README: the recommended score (DoSE, KDE) on every recorded pair."""
  body = []
  for experiment in ("ood_benchmark_cifar10", "ood_benchmark_fashion_mnist"):
    family = _glow(records, experiment)
    body += [(pair, _cell(family["auroc"][pair].get("nll")),
              _cell(family["auroc"][pair].get("dose_kde")),
              _cell(family["auroc"][pair].get("dose_kde_batch_10")))
             for pair in family["pairs"]]
  return markdown_table(("pair", "likelihood (bits/dim)",
                         "DoSE, KDE, one image", "DoSE, KDE, batches of 10"),
                        body)


TABLES = {
    "recommended": recommended_table,
    "ood_cifar10": functools.partial(pairs_table,
                                     experiment="ood_benchmark_cifar10"),
    "ood_cifar10_best": functools.partial(best_table,
                                          experiment="ood_benchmark_cifar10"),
    "ood_fashion_mnist": functools.partial(
        pairs_table, experiment="ood_benchmark_fashion_mnist"),
    "ood_fashion_mnist_best": functools.partial(
        best_table, experiment="ood_benchmark_fashion_mnist"),
    "ood_cifar10_gradients": functools.partial(
        pairs_table, experiment="ood_benchmark_cifar10_gradients"),
    "ood_cifar10_gradients_best": functools.partial(
        best_table, experiment="ood_benchmark_cifar10_gradients"),
}
