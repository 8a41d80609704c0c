"""scripts/match_jpeg_quality.py: the table and the JSON of a set compressed at a known quality."""

import json

import numpy as np

from glow_ood.data import special as special_datasets
from scripts import match_jpeg_quality
from tests.glow_ood.analysis.jpeg_matching_test import shuffled_compressed_set


def test_recovers_the_quality_and_writes_the_metrics(tmp_path, capsys):
  originals, labels, compressed, compressed_labels, _ = (
      shuffled_compressed_set(quality=83, num=20, distractors=10))
  np.savez_compressed(tmp_path / "exact_test.npz", images=originals,
                      labels=labels.astype(np.int64))
  np.savez_compressed(tmp_path / "lossy_test.npz", images=compressed,
                      labels=compressed_labels.astype(np.int64))
  output = tmp_path / "metrics.json"
  match_jpeg_quality.main([f"--data_dir={tmp_path}", "--lossless=exact",
                           "--compressed=lossy", f"--output={output}"])
  printed = capsys.readouterr().out
  metrics = json.loads(output.read_text())
  assert metrics["best_quality"] == 83 and metrics["pairs"] == 20
  mae = np.abs(special_datasets.jpeg_images(originals, 83).astype(float)
               - originals).mean()
  assert metrics["measured_mae"] == mae
  row = next(r for r in metrics["sweep"] if r["quality"] == 83)
  assert row["mae"] == mae and row["psnr"] == metrics["measured_psnr"]
  assert "20 exact images paired with lossy" in printed
  assert f"| 83 | {mae:.3f} |" in printed and "<- chosen" in printed
  assert "Chosen quality: 83 (jpeg:<dataset>:83)." in printed
  assert f"Written to {output}." in printed
