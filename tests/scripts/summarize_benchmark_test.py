"""scripts/summarize_benchmark.py keeps each cell's AUROC and interval, rows in table order."""

from scripts import summarize_benchmark


def test_summary_keeps_cells_labels_and_order():
  cell = lambda a: {"auroc": a, "auroc_low": a - .01, "auroc_high": a + .01,
                    "aupr_in": 0.5, "per_seed": [a]}
  results = {"format_version": 3, "families": {"glow": {
      "cells": {"a -> b": {"dose_kde": cell(.9), "nll": cell(.2)},
                "a -> c": {"nll": cell(.7)}},
      "preprocessing": {"a -> b": [], "a -> c": ["tiled"]},
      "elapsed_seconds": 12.}}}
  glow = summarize_benchmark.summarize(results)["families"]["glow"]
  assert glow["pairs"] == ["a -> b", "a -> c"]
  assert glow["rows"] == ["nll", "dose_kde"]          # the table's order
  assert glow["labels"]["nll"] == "-log p(x) (bits/dim)"
  assert glow["auroc"]["a -> b"]["dose_kde"] == {
      "auroc": .9, "auroc_low": .9 - .01, "auroc_high": .9 + .01}
  assert "dose_kde" not in glow["auroc"]["a -> c"]
  assert glow["preprocessing"]["a -> c"] == ["tiled"]
