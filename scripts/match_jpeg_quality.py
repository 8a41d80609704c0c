r"""Measures the Pillow JPEG quality that reproduces `cifar10_jpeg`'s compression.

  python scripts/match_jpeg_quality.py
  python scripts/match_jpeg_quality.py --output=jpeg_quality.json

Pairs each `cifar10_lossless` test image (exact pixels: the first 1000 of the
official CIFAR-10 test set) with its JPEG-compressed copy in the
`cifar10_jpeg` test set (all 10,000, sorted by class), measures the error of
the real compression over the pairs (MAE in grey levels, PSNR in dB), sweeps
Pillow's JPEG qualities on the lossless images and prints the quality whose
MAE is nearest the measured one: the `<quality>` of
`jpeg:<dataset>:<quality>` inputs that compare like with like against a
model trained on `cifar10_jpeg` (`glow_ood.analysis.jpeg_matching`).
`--output` also writes the metrics as JSON. Data from `--data_dir`, default
`$GLOW_OOD_DATA_DIR` or ../shared/data.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=g-import-not-at-top,wrong-import-position
from glow_ood.analysis import jpeg_matching
from glow_ood.data import sources

__all__ = ["run", "table", "main"]


def run(data_dir=None, lossless="cifar10_lossless", compressed="cifar10_jpeg",
        split="test"):
  """`jpeg_matching.measure` of the `split` of the two local npz datasets."""
  originals, original_labels = sources.load_npz(lossless, split, data_dir)
  images, labels = sources.load_npz(compressed, split, data_dir)
  if original_labels is None or labels is None:
    raise ValueError(f"{lossless} and {compressed} need 'labels' to be "
                     "paired within classes.")
  return jpeg_matching.measure(originals, original_labels, images, labels)


def table(metrics, lossless="cifar10_lossless", compressed="cifar10_jpeg"):
  """The lines printed: the pairing, the measured error, the sweep, the choice."""
  best = metrics["best_quality"]
  lines = [
      f"{metrics['pairs']} {lossless} images paired with {compressed} (same "
      f"class, nearest by MAE): match MAE median "
      f"{metrics['match_error_median']:.2f} (max "
      f"{metrics['match_error_max']:.2f}), gap to the second-best median "
      f"{metrics['second_best_gap_median']:.2f} (min "
      f"{metrics['second_best_gap_min']:.2f}), {metrics['shared_matches']} "
      "shared matches.",
      f"Measured: MAE {metrics['measured_mae']:.3f}, PSNR "
      f"{metrics['measured_psnr']:.2f} dB.",
      "",
      "| quality | MAE | PSNR (dB) |",
      "|---|---|---|"]
  for row in metrics["sweep"]:
    mark = " <- chosen" if row["quality"] == best else ""
    lines.append(f"| {row['quality']} | {row['mae']:.3f} | "
                 f"{row['psnr']:.2f} |{mark}")
  lines += ["", f"Chosen quality: {best} (jpeg:<dataset>:{best})."]
  return lines


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--data_dir", default=None,
                      help="Folder of the npz files (default: "
                      "$GLOW_OOD_DATA_DIR or ../shared/data).")
  parser.add_argument("--lossless", default="cifar10_lossless",
                      help="Dataset of exact pixels.")
  parser.add_argument("--compressed", default="cifar10_jpeg",
                      help="Dataset holding JPEG copies of them.")
  parser.add_argument("--split", default="test", help="Split of both.")
  parser.add_argument("--output", default=None,
                      help="Also write the metrics to this JSON file.")
  args = parser.parse_args(argv)
  metrics = run(args.data_dir, args.lossless, args.compressed, args.split)
  print("\n".join(table(metrics, args.lossless, args.compressed)))
  if args.output:
    with open(args.output, "w", encoding="utf-8") as f:
      json.dump(metrics, f, indent=1)
      f.write("\n")
    print(f"Written to {args.output}.")
  return metrics


if __name__ == "__main__":
  main()
