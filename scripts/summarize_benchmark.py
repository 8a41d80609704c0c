r"""Condenses an OOD benchmark's results.json into the numbers a record keeps.

  python scripts/summarize_benchmark.py runs/ood_benchmark_cifar10/results.json \
      runs/ood_benchmark_cifar10/summary.json

The output, for `scripts/record_experiment.py --json=benchmark=<it>`:
`{"families": {family: {"pairs": [pair, ...], "rows": [row, ...],
"labels": {row: label}, "auroc": {pair: {row: {"auroc", "auroc_low",
"auroc_high"}}}, "preprocessing": {pair: note}, "elapsed_seconds": s}}}`,
rows in the table's order and with its labels
(`glow_ood.experiments.benchmark_rows`).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from glow_ood import fileio
from glow_ood.experiments import benchmark_rows


def summarize(results):
  """The summary (module docstring) of a benchmark's results dict."""
  families = {}
  for family, result in results["families"].items():
    cells = result["cells"]
    pairs = list(cells)
    rows = sorted({row for cell in cells.values() for row in cell},
                  key=benchmark_rows.row_rank)
    last_level = max((int(row.split("_")[1]) for row in rows
                      if row.startswith("level_")), default=None)
    families[family] = {
        "pairs": pairs, "rows": rows,
        "labels": {row: benchmark_rows.row_label(row, last_level=last_level)
                   for row in rows},
        "auroc": {pair: {row: {key: cells[pair][row][key] for key in (
            "auroc", "auroc_low", "auroc_high")} for row in cells[pair]}
                  for pair in pairs},
        "preprocessing": result.get("preprocessing", {}),
        "elapsed_seconds": result.get("elapsed_seconds"),
    }
  return {"families": families}


def main(argv):
  if len(argv) != 3:
    sys.exit("usage: python scripts/summarize_benchmark.py <results.json> "
             "<summary.json>")
  results = fileio.read_json(argv[1], what="benchmark results",
                             fix="run launch/ood_benchmark.py first")
  fileio.write_json(argv[2], summarize(results))
  print(f"Wrote {argv[2]}.")


if __name__ == "__main__":
  main(sys.argv)
