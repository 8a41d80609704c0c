"""The OOD-benchmark launcher end to end on toy data, and its one-line errors.

`launch/ood_benchmark.py` runs in a subprocess on synthetic `.npz` files in
../shared/data's format, written to `tmp_path`: "toyin" (8x8 blocky images)
and "toyout" (6x6 checkerboards, zero-padded to 8x8 by the benchmark), with a
tiny Glow (2 levels of 1 step, width 8) trained for 4 steps per model.
Resuming is tested on the library (tests/glow_ood/ood_benchmark_test.py).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests import REPO
from tests import launcher_error_line
from tests.launch import in_process

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow

TINY_FLAGS = (
    "--num_seeds=2", "--image_size=8", "--num_levels=2",
    "--num_steps_per_level=1", "--hidden_width=8", "--train_steps=4",
    "--batch_size=16", "--warmup_steps=0", "--validation_size=50",
    "--num_examples=50", "--batch_sizes=5,10", "--num_bootstrap=20",
    "--eval_batch_size=50")
ROWS = ("-log p(x) (bits/dim)", "typicality (one example)",
        "typicality, batches of 5", "typicality, batches of 10",
        "WAIC (ensemble of the seeds)",
        "input complexity (PNG)", "likelihood ratio (background μ=0.2, λ=0)",
        "level 1 likelihood (bits/dim)",
        "level 2 likelihood (bits/dim) = last level",
        "DoSE, KDE (one example)", "DoSE, KDE, batches of 5",
        "DoSE, KDE, batches of 10", "DoSE, one-class SVM (one example)",
        "DoSE, one-class SVM, batches of 5",
        "DoSE, one-class SVM, batches of 10",
        "latent goodness-of-fit, Anderson-Darling (one example)",
        "latent goodness-of-fit, random-projection KS, batches of 5",
        "latent goodness-of-fit, random-projection KS, batches of 10")


def _blocky_images(num, seed):
  """8x8x1: 2x2 random blocks (values 40..215), upsampled, plus noise."""
  rng = np.random.default_rng(seed)
  blocks = rng.integers(40, 216, (num, 2, 2, 1))
  images = np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2)
  images = images + rng.integers(-30, 31, (num, 8, 8, 1))
  return np.clip(images, 0, 255).astype(np.uint8)


def _checkerboard_images(num, seed):
  """6x6x1 pixel-level checkerboards of random mean and contrast."""
  rng = np.random.default_rng(seed)
  sign = np.where((np.arange(6)[:, None] + np.arange(6)[None, :]) % 2, 1, -1)
  images = (rng.integers(80, 176, (num, 1, 1, 1))
            + rng.integers(20, 70, (num, 1, 1, 1)) * sign[None, :, :, None])
  return np.clip(images, 0, 255).astype(np.uint8)


def write_dataset(folder, name, make_images, seed, num_train=200,
                  num_test=60):
  """`<folder>/<name>_{train,test}.npz`: uint8 `images` NHWC, int64 `labels`."""
  for split, num in (("train", num_train), ("test", num_test)):
    np.savez(os.path.join(folder, f"{name}_{split}.npz"),
             images=make_images(num, seed=(seed, len(split))),
             labels=np.zeros([num], np.int64))


@pytest.fixture
def data_dir(tmp_path):
  folder = tmp_path / "data"
  folder.mkdir()
  write_dataset(str(folder), "toyin", _blocky_images, seed=0)
  write_dataset(str(folder), "toyout", _checkerboard_images, seed=1)
  return folder


def launch(workdir, data_dir, *extra):
  command = [sys.executable, "launch/ood_benchmark.py", f"--workdir={workdir}",
             f"--data_dir={data_dir}", *TINY_FLAGS, *extra]
  return subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                        timeout=900, check=False)


def _table(stdout):
  """The markdown table printed by the launcher: rows of stripped cells."""
  return [[c.strip() for c in line.strip().strip("|").split("|")]
          for line in stdout.splitlines() if line.startswith("|")]


def test_toy_benchmark_trains_scores_and_prints_the_table(tmp_path, data_dir):
  workdir = tmp_path / "benchmark"
  result = launch(workdir, data_dir,
                 "--pairs=toyin->toyout,toyin->uniform_random")
  assert result.returncode == 0, result.stderr[-3000:]
  table = _table(result.stdout)
  # toyout is padded 6x6 -> 8x8, the in-distribution images are not: marked.
  assert table[0] == ["score (AUROC, higher = better)", "model",
                      "toyin → toyout †", "toyin → uniform_random"]
  assert tuple(row[0] for row in table[2:]) == ROWS
  assert {row[1] for row in table[2:]} == {"Glow"}
  with open(workdir / "results.json", encoding="utf-8") as f:
    results = json.load(f)
  glow = results["families"]["glow"]
  assert list(glow["cells"]) == ["toyin -> toyout", "toyin -> uniform_random"]
  rows = list(glow["cells"]["toyin -> toyout"])   # identifiers, table order
  for (_, _, *cells), row in zip(table[2:], rows):
    for column, text in zip(glow["cells"], cells):
      cell = glow["cells"][column][row]
      assert text == (f"{cell['auroc']:.3f} [{cell['auroc_low']:.3f}, "
                      f"{cell['auroc_high']:.3f}]"), (row, column)
  assert glow["config"]["train_steps"] == 4
  assert glow["config"]["pairs"] == [["toyin", "toyout"],
                                     ["toyin", "uniform_random"]]
  assert (workdir / "results.md").read_text(encoding="utf-8") in result.stdout
  assert sum(l.startswith("training ") for l in result.stdout.splitlines()) == 4
  for seed in (0, 1):
    for kind in ("model", "background_mu0.2_l20"):
      assert (workdir / "toyin" / f"seed_{seed}" / kind / "checkpoints"
              / "checkpoint").exists()
  assert result.stdout.splitlines()[-1].startswith("Done in ")


def error_line(result):
  return launcher_error_line(result, "launch/ood_benchmark.py")


def test_another_family_flag_fails_with_one_clear_line(tmp_path, data_dir):
  workdir = tmp_path / "benchmark"
  line = error_line(in_process.run(
      "launch/ood_benchmark.py", f"--workdir={workdir}",
      f"--data_dir={data_dir}", "--model=vae", "--pixelcnn_num_filters=8"))
  assert line.endswith("--pixelcnn_num_filters=8 is a flag of "
                       "--model=pixelcnn; this run is --model=vae, where it "
                       "would be ignored. Remove it, or set --model=pixelcnn.")
  assert not workdir.exists()


@pytest.mark.parametrize("pairs, message", [
    ("toyin-toyout", "--pairs entries look like in->out"),
    ("nosuch->toyout", "nosuch_train.npz"),
])
def test_bad_pairs_fail_with_one_clear_line(tmp_path, data_dir, pairs,
                                            message):
  workdir = tmp_path / "benchmark"
  line = error_line(in_process.run(
      "launch/ood_benchmark.py", f"--workdir={workdir}",
      f"--data_dir={data_dir}", *TINY_FLAGS, f"--pairs={pairs}"))
  assert message in line
  assert not (workdir / "results.json").exists()
  assert not (workdir / "nosuch").exists()
