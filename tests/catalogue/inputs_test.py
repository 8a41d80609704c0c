"""Catalogue: bad input to the evaluation, analysis, benchmark, two-moons and ensemble launchers.

Each case gives a launcher (run in this process) or a data / run-folder
function one input a user gets wrong: an output path that is a file, under a
file or unwritable; a truncated, corrupt or empty npz; images of the wrong
dtype or rank, or none; an unknown dataset inside a list; a results.json a
kill left empty or cut short. What the issue promises: one line
`launch/<program>.py: error: ...` naming the problem and the fix, exit 1, no
traceback, every pre-existing file under the run / output folders
byte-identical and no folder left behind. One tiny run (2 steps), trained
once from Python, serves every case.
"""

import json
import os
import shutil

import numpy as np
import pytest

import glow_ood.train
from glow_ood import data
from glow_ood.runs import folder as run_folder
from tests import toy_data
from tests.catalogue import harness
from tests.launch import in_process

EVALUATE, ANALYZE = "launch/evaluate.py", "launch/analyze_data.py"
BENCHMARK, TWO_MOONS = "launch/ood_benchmark.py", "launch/two_moons.py"
ENSEMBLE = "launch/train_ensemble.py"

# Small settings, so a case that is not refused still ends in seconds.
EVALUATE_FLAGS = ("--num_examples=8", "--num_bootstrap=5", "--graying_factors=",
                  "--num_samples=0")
BENCHMARK_FLAGS = (
    "--num_seeds=2", "--image_size=8", "--num_levels=2",
    "--num_steps_per_level=1", "--hidden_width=8", "--train_steps=2",
    "--batch_size=16", "--warmup_steps=0", "--validation_size=16",
    "--num_examples=16", "--num_bootstrap=5", "--eval_batch_size=16")
TWO_MOONS_FLAGS = ("--num_examples=64", "--num_eval_examples=48",
                   "--num_couplings=2", "--hidden_width=8", "--train_steps=3",
                   "--batch_size=32", "--dims=2", "--scales=exp")


def _ensemble_flags(data_dir):
  return ["--flagfile=launch/flagfiles/smoke.cfg", "--num_members=2",
          f"--data_dir={data_dir}", "--data_source=npz", "--dataset=toy",
          "--pad_to=0", "--image_shape=8,8,1", "--eval_datasets=",
          "--train_steps=2", "--strategy=one_device", "--devices=/cpu:0"]


def _truncated(path):
  raw = path.read_bytes()
  path.write_bytes(raw[:len(raw) // 2])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  """The shared, read-only inputs: data folders, a trained run, a file."""
  root = tmp_path_factory.mktemp("catalogue_inputs")
  w = type("World", (), {})()
  w.data_dir = root / "data"
  toy_data.write_dataset(str(w.data_dir))
  # Test splits that are broken, one way each, beside the good "toy".
  shape = (4,) + toy_data.IMAGE_SHAPE
  images = toy_data.toy_images(4, seed=9)
  np.savez(w.data_dir / "noimg_test.npz", pixels=images)
  np.savez(w.data_dir / "floaty_test.npz", images=images / 255.)
  np.savez(w.data_dir / "flat_test.npz", images=images[..., 0])
  np.savez(w.data_dir / "empty_test.npz",
           images=np.zeros((0,) + shape[1:], np.uint8),
           labels=np.zeros([0], np.int64))
  shutil.copy(w.data_dir / "toy_test.npz", w.data_dir / "cut_test.npz")
  _truncated(w.data_dir / "cut_test.npz")
  (w.data_dir / "blank_test.npz").write_bytes(b"")
  np.save(w.data_dir / "single.npy", images)
  os.replace(w.data_dir / "single.npy", w.data_dir / "single_test.npz")
  # CRC damage inside the compressed images: the zip directory reads fine.
  np.savez_compressed(w.data_dir / "bitflip_test.npz",
                      images=toy_data.toy_images(64, seed=3))
  raw = bytearray((w.data_dir / "bitflip_test.npz").read_bytes())
  raw[len(raw) // 3] ^= 0xFF
  (w.data_dir / "bitflip_test.npz").write_bytes(bytes(raw))
  # The in-distribution dataset itself broken: a truncated test split.
  w.cut_dir = root / "cut_data"
  w.cut_dir.mkdir()
  shutil.copy(w.data_dir / "toy_train.npz", w.cut_dir)
  shutil.copy(w.data_dir / "cut_test.npz", w.cut_dir / "toy_test.npz")
  w.empty_dir = root / "empty_data"
  w.empty_dir.mkdir()
  shutil.copy(w.data_dir / "toy_train.npz", w.empty_dir)
  shutil.copy(w.data_dir / "empty_test.npz", w.empty_dir / "toy_test.npz")
  w.run = root / "run"
  glow_ood.train.train(toy_data.tiny_train_config(
      str(w.data_dir), train_steps=2, log_every=2, num_samples=1),
      str(w.run))
  w.a_file = root / "a_file"
  w.a_file.write_text("precious")
  return w


class Context:
  """One case: the shared world, its own temporary folder, snapshots."""

  def __init__(self, world, tmp_path):
    self.w, self.tmp = world, tmp_path
    self.watched = [world.run, world.data_dir, world.a_file]
    self.before = {}

  def watch(self, *paths):
    self.watched += list(paths)

  def snapshot(self):
    self.before = {p: (harness.snapshot(p), os.path.exists(p))
                   for p in self.watched}

  def assert_unchanged(self):
    for path, (digests, existed) in self.before.items():
      harness.assert_unchanged(digests, path)
      assert os.path.exists(path) == existed, f"{path} left behind"

  def refused(self, script, args, *needles):
    """Runs `script` with `args`: refused in one line with `needles`, nothing changed."""
    self.snapshot()
    line = harness.refused_launcher(in_process.run(script, *args), script,
                                    *needles)
    self.assert_unchanged()
    return line

  def evaluate(self, *args, output_dir=None):
    output_dir = output_dir or self.tmp / "evaluation"
    self.watch(output_dir)
    return [f"--workdir={self.w.run}", f"--output_dir={output_dir}",
            *EVALUATE_FLAGS, *args]

  def analyze(self, *args):
    self.watch(self.tmp / "analysis")
    return [f"--data_dir={self.w.data_dir}", "--data_source=npz",
            f"--output_dir={self.tmp / 'analysis'}", *args]

  def previous_evaluation(self):
    """An output folder holding an earlier evaluation's files."""
    folder = self.tmp / "evaluation"
    (folder / "figures").mkdir(parents=True)
    (folder / "results.json").write_text('{"earlier": true}')
    (folder / "results.md").write_text("# earlier\n")
    (folder / "figures" / "log_prob_histograms.png").write_bytes(b"\x89PNG")
    return folder


# Output paths: refused before any work, naming the flag.

def evaluate_output_dir_under_a_file(c):
  c.refused(EVALUATE, c.evaluate(output_dir=c.w.a_file / "out"),
            f"--output_dir={c.w.a_file}/out cannot be made",
            f"{c.w.a_file} is a file", "pass a path under a folder")


def evaluate_output_dir_not_writable(c):
  c.refused(EVALUATE, c.evaluate(output_dir="/proc/glow_ood_evaluation"),
            "--output_dir=/proc/glow_ood_evaluation is not writable",
            "pass a folder you can write to")


def analyze_output_dir_is_a_file(c):
  args = [f"--data_dir={c.w.data_dir}", "--datasets=toy",
          f"--output_dir={c.w.a_file}"]
  c.refused(ANALYZE, args, f"--output_dir={c.w.a_file} is a file, not a "
            "folder")


def benchmark_workdir_under_a_file(c):
  c.refused(BENCHMARK, [f"--workdir={c.w.a_file}/bench",
                        f"--data_dir={c.w.data_dir}",
                        "--pairs=toy->uniform_random", *BENCHMARK_FLAGS],
            f"--workdir={c.w.a_file}/bench cannot be made")


def two_moons_output_dir_is_a_file(c):
  c.refused(TWO_MOONS, [f"--output_dir={c.w.a_file}", *TWO_MOONS_FLAGS],
            f"--output_dir={c.w.a_file} is a file, not a folder")


def two_moons_output_dir_not_writable(c):
  c.refused(TWO_MOONS, ["--output_dir=/proc/glow_ood_two_moons",
                        *TWO_MOONS_FLAGS],
            "--output_dir=/proc/glow_ood_two_moons is not writable")


def ensemble_workdir_under_a_file(c):
  c.refused(ENSEMBLE, [f"--workdir={c.w.a_file}/ensemble",
                       *_ensemble_flags(c.w.data_dir)],
            f"--workdir={c.w.a_file}/ensemble cannot be made")


# Unknown dataset names inside lists: the name and the known names.

def evaluate_unknown_dataset_in_list(c):
  line = c.refused(EVALUATE, c.evaluate("--datasets=constant:128,nonsense"),
                   "Unknown dataset 'nonsense' in "
                   "--datasets=constant:128,nonsense", "Known names",
                   "uniform_random")
  assert "toy" in line.split("Known names")[1]


def analyze_unknown_dataset_in_list(c):
  c.refused(ANALYZE, c.analyze("--datasets=toy,nonsense"),
            "Unknown dataset 'nonsense' in --datasets=toy,nonsense",
            f"local files in {c.w.data_dir}: ", "toy")


def benchmark_unknown_dataset_in_pairs(c):
  workdir = c.tmp / "bench"
  c.watch(workdir)
  c.refused(BENCHMARK, [f"--workdir={workdir}", f"--data_dir={c.w.data_dir}",
                        "--pairs=toy->uniform_random,toy->nonsense",
                        *BENCHMARK_FLAGS],
            "Unknown dataset 'nonsense' in --pairs=toy->uniform_random,"
            "toy->nonsense", "Known names")


def ensemble_unknown_eval_dataset(c):
  workdir = c.tmp / "ensemble"
  c.watch(workdir)
  c.refused(ENSEMBLE, [f"--workdir={workdir}", *_ensemble_flags(c.w.data_dir),
                       "--eval_datasets=constant:128,nonsense"],
            "Unknown dataset 'nonsense' in "
            "--eval_datasets=constant:128,nonsense", "Known names")


# Broken npz files, in lists and as the run's own data.

def evaluate_truncated_npz_in_list(c):
  folder = c.previous_evaluation()
  c.refused(EVALUATE, c.evaluate("--datasets=cut"),
            f"{c.w.data_dir}/cut_test.npz is not a readable npz file",
            "truncated or corrupt", "copy it again")
  assert (folder / "results.json").read_text() == '{"earlier": true}'


def evaluate_truncated_npz_of_the_run(c):
  c.watch(c.w.cut_dir)
  c.refused(EVALUATE, c.evaluate(f"--data_dir={c.w.cut_dir}"),
            f"{c.w.cut_dir}/toy_test.npz is not a readable npz file")


def evaluate_empty_test_split(c):
  c.previous_evaluation()
  c.watch(c.w.empty_dir)
  c.refused(EVALUATE, c.evaluate(f"--data_dir={c.w.empty_dir}"),
            "split 'test' of 'toy' has no images",
            f"{c.w.empty_dir}/toy_test.npz holds 0")


def evaluate_zero_byte_npz(c):
  c.refused(EVALUATE, c.evaluate("--datasets=blank"),
            "blank_test.npz is not a readable npz file")


def analyze_npz_without_images(c):
  c.refused(ANALYZE, c.analyze("--datasets=toy,noimg"),
            "noimg_test.npz has no 'images' array (it holds ['pixels'])",
            "uint8 'images' [N, H, W, C]")


def analyze_float_images(c):
  c.refused(ANALYZE, c.analyze("--datasets=toy,floaty"),
            "floaty_test.npz: 'images' are float64, not uint8",
            "astype(np.uint8)")


def analyze_images_without_channel_axis(c):
  c.refused(ANALYZE, c.analyze("--datasets=toy,flat"),
            "flat_test.npz: 'images' have shape (4, 8, 8), not [N, H, W, C]",
            "images[..., None]")


def analyze_empty_split(c):
  c.refused(ANALYZE, c.analyze("--datasets=toy,empty"),
            "split 'test' of 'empty' has no images")


def benchmark_truncated_npz(c):
  workdir = c.tmp / "bench"
  c.watch(workdir, c.w.cut_dir)
  c.refused(BENCHMARK, [f"--workdir={workdir}", f"--data_dir={c.w.cut_dir}",
                        "--pairs=toy->uniform_random", *BENCHMARK_FLAGS],
            "toy_test.npz is not a readable npz file")


def ensemble_float_eval_images(c):
  workdir = c.tmp / "ensemble"
  c.watch(workdir)
  c.refused(ENSEMBLE, [f"--workdir={workdir}", *_ensemble_flags(c.w.data_dir),
                       "--eval_datasets=floaty"],
            "floaty_test.npz: 'images' are float64, not uint8")


# Results a kill left empty or cut short: the file, and what to do.

def evaluate_damaged_config_json(c):
  run = c.tmp / "run"
  shutil.copytree(c.w.run, run)
  _truncated(run / "config.json")
  c.watch(run)
  c.refused(EVALUATE, [f"--workdir={run}", f"--output_dir={c.tmp / 'out'}",
                       *EVALUATE_FLAGS],
            f"{run}/config.json is truncated", "a run killed while writing",
            "delete it and re-run", "rewrites it")


def benchmark_empty_results_json(c):
  workdir = c.tmp / "bench"
  workdir.mkdir()
  (workdir / "results.json").write_text("")
  c.watch(workdir)
  c.refused(BENCHMARK, [f"--workdir={workdir}", f"--data_dir={c.w.data_dir}",
                        "--pairs=toy->uniform_random", *BENCHMARK_FLAGS],
            f"{workdir}/results.json is empty", "delete it and re-run the "
            "same command: the trained models", "are reused")


def two_moons_truncated_results_json(c):
  folder = c.tmp / "moons"
  folder.mkdir()
  (folder / "results.json").write_text('{"config": {"seed": 0}, "cells": [')
  (folder / "results.json.tmp").write_text("")   # a kill's leftover
  c.watch(folder)
  c.refused(TWO_MOONS, [f"--output_dir={folder}", *TWO_MOONS_FLAGS],
            f"{folder}/results.json is truncated",
            "delete it and re-run the same command to retrain its cells")


def two_moons_results_json_of_another_shape(c):
  folder = c.tmp / "moons"
  folder.mkdir()
  (folder / "results.json").write_text(json.dumps(
      {"config": {}, "cells": [{"scale": "exp"}]}))
  c.watch(folder)
  c.refused(TWO_MOONS, [f"--output_dir={folder}", *TWO_MOONS_FLAGS],
            f"{folder}/results.json is damaged", "'cells'")


def ensemble_member_results_json_empty(c):
  workdir = c.tmp / "ensemble"
  (workdir / "member_0").mkdir(parents=True)
  (workdir / "member_0" / "results.json").write_text("")
  c.watch(workdir)
  c.refused(ENSEMBLE, [f"--workdir={workdir}", *_ensemble_flags(c.w.data_dir)],
            f"{workdir}/member_0/results.json is empty",
            "delete it and re-run this command: member_0's training resumes "
            "from its checkpoints and rewrites it")


# The library functions behind the launchers (train.py's data checks too).

def _config(folder, dataset="toy"):
  return data.DataConfig(dataset=dataset, data_dir=str(folder), source="npz")


def load_images_truncated_npz(c):
  harness.refused_api(lambda: data.load_images(_config(c.w.cut_dir), "test"),
                      ValueError, "toy_test.npz is not a readable npz file")


def load_images_crc_damage(c):
  config = _config(c.w.data_dir, dataset="bitflip")
  data.check_datasets(config, ["bitflip"])   # headers are fine
  harness.refused_api(lambda: data.load_images(config, "test"), ValueError,
                      "bitflip_test.npz is not a readable npz file")


def load_images_npy_named_npz(c):
  harness.refused_api(
      lambda: data.load_images(_config(c.w.data_dir, dataset="single"),
                               "test"),
      ValueError, "single_test.npz is not a readable npz file",
      "not a zip file")


def load_evaluation_sets_unknown_name(c):
  harness.refused_api(
      lambda: data.load_evaluation_sets(_config(c.w.data_dir),
                                        ("constant:0", "nosuch")),
      data.DatasetNotFoundError,
      "Unknown dataset 'nosuch' in the evaluation datasets [constant:0, "
      "nosuch]", "local files in", "toy")


def finished_step_of_a_truncated_results_json(c):
  workdir = c.tmp / "run"
  workdir.mkdir()
  (workdir / "results.json").write_text('{"step": 2, "bits_per_dim": {')
  harness.refused_api(lambda: run_folder.finished_step(str(workdir), 2),
                      ValueError, "results.json is truncated",
                      "delete it and re-run the run's training")


CASES = [pytest.param(case, id=case.__name__.replace("_", "-")) for case in (
    evaluate_output_dir_under_a_file, evaluate_output_dir_not_writable,
    analyze_output_dir_is_a_file, benchmark_workdir_under_a_file,
    two_moons_output_dir_is_a_file, two_moons_output_dir_not_writable,
    ensemble_workdir_under_a_file,
    evaluate_unknown_dataset_in_list, analyze_unknown_dataset_in_list,
    benchmark_unknown_dataset_in_pairs, ensemble_unknown_eval_dataset,
    evaluate_truncated_npz_in_list, evaluate_truncated_npz_of_the_run,
    evaluate_empty_test_split, evaluate_zero_byte_npz,
    analyze_npz_without_images, analyze_float_images,
    analyze_images_without_channel_axis, analyze_empty_split,
    benchmark_truncated_npz, ensemble_float_eval_images,
    evaluate_damaged_config_json, benchmark_empty_results_json,
    two_moons_truncated_results_json, two_moons_results_json_of_another_shape,
    ensemble_member_results_json_empty,
    load_images_truncated_npz, load_images_crc_damage,
    load_images_npy_named_npz, load_evaluation_sets_unknown_name,
    finished_step_of_a_truncated_results_json)]


@pytest.mark.parametrize("case", CASES)
def test_case(case, world, tmp_path):
  case(Context(world, tmp_path))
