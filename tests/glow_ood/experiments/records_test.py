"""Tests of `glow_ood.experiments.records`: machine, metrics, tolerance checks."""

import json
import os

import pytest

from glow_ood.experiments import records

LSCPU = """Architecture:            x86_64
Model name:              AMD EPYC 9B14
Flags:                   fpu sse sse2 ssse3 sse4_1 avx avx2 fma f16c avx512f avx512_bf16 aes
"""


def _results():
  return {
      "in_distribution": "cifar10_jpeg",
      "runs": [{"name": "glow", "model": {"image_shape": [32, 32, 3]}}],
      "num_examples": {"cifar10_jpeg/test": 100, "svhn_cropped/test": 100},
      "models": {"glow": {
          "cifar10_jpeg/test": {"bits_per_dim": 3.5, "log_prob_z": -10.,
                                "log_det": 20., "log_det_per_level": [1., 2.]},
          "svhn_cropped/test": {"bits_per_dim": 2.5, "log_prob_z": -5.,
                                "log_det": 25., "log_det_per_level": [3., 4.]},
      }},
      "detection": {"glow": {"svhn_cropped/test": {
          "auroc": 0.1, "auroc_low": 0.05, "auroc_high": 0.15,
          "aupr_in": 0.3, "fpr_at_95_tpr": 1.0}}},
  }


def test_machine_description_reads_model_and_simd_flags_only():
  machine = records.machine_description(LSCPU)
  assert machine["model_name"] == "AMD EPYC 9B14"
  assert machine["simd_flags"] == sorted(
      ["sse", "sse2", "ssse3", "sse4_1", "avx", "avx2", "fma", "f16c",
       "avx512f", "avx512_bf16"])
  assert "aes" not in machine["simd_flags"]


def test_evaluation_metrics_bits_per_image_and_detection():
  metrics = records.evaluation_metrics(_results())
  svhn = metrics["sets"]["svhn_cropped/test"]
  assert svhn["bits_per_image"] == pytest.approx(2.5 * 32 * 32 * 3)
  assert svhn["log_det_per_level"] == [3., 4.]
  assert metrics["detection"]["svhn_cropped/test"] == {
      "auroc": 0.1, "auroc_low": 0.05, "auroc_high": 0.15,
      "fpr_at_95_tpr": 1.0}


def test_evaluation_metrics_unknown_run_names_the_runs():
  with pytest.raises(KeyError, match="glow"):
    records.evaluation_metrics(_results(), run_name="other")


def _ensemble_results():
  """Two members and their mixture, as launch/evaluate.py writes them."""
  results = _results()
  member = results["models"].pop("glow")
  results["runs"] = [{"name": f"member_{m}",
                      "model": {"image_shape": [32, 32, 3]}} for m in (0, 1)]
  results["models"] = {"member_0": member, "member_1": member}
  results["detection"] = {"member_0": results["detection"]["glow"],
                          "member_1": results["detection"]["glow"]}
  results["ensemble"] = {
      "members": ["member_0", "member_1"],
      "bits_per_dim": {"cifar10_jpeg/test": 3.4, "svhn_cropped/test": 2.4},
      "detection": {"svhn_cropped/test": {"auroc": 0.2, "auroc_low": 0.1,
                                          "auroc_high": 0.3}}}
  return results


def test_evaluation_metrics_of_an_ensemble_are_the_mixtures():
  metrics = records.evaluation_metrics(_ensemble_results())
  assert metrics["sets"]["svhn_cropped/test"]["bits_per_dim"] == 2.4
  assert metrics["sets"]["svhn_cropped/test"]["bits_per_image"] == (
      pytest.approx(2.4 * 3072))
  assert "log_prob_z" not in metrics["sets"]["svhn_cropped/test"]
  assert metrics["detection"]["svhn_cropped/test"]["auroc"] == 0.2
  member = records.evaluation_metrics(_ensemble_results(), run_name="member_1")
  assert member["sets"]["svhn_cropped/test"]["bits_per_dim"] == 2.5


def test_evaluation_metrics_of_several_runs_need_a_name():
  results = _ensemble_results()
  del results["ensemble"]
  with pytest.raises(KeyError, match="name the run"):
    records.evaluation_metrics(results)


def _record(tmp_path):
  record = records.make_record(
      "demo", "a demo", ["python launch/evaluate.py --workdir=runs/x"],
      records.evaluation_metrics(_results()),
      tolerance={"bits_per_dim": 0.05, "auroc": 0.03},
      machine=records.machine_description(LSCPU), repo_dir=str(tmp_path))
  path = os.path.join(tmp_path, "demo.json")
  records.write_record(path, record)
  return records.read_record(path)


def test_record_round_trip_and_compare_within_tolerance(tmp_path):
  record = _record(tmp_path)
  assert record["commit"] == "unknown"   # tmp_path is no git checkout
  metrics = records.evaluation_metrics(_results())
  assert records.compare(record, metrics) == []
  metrics["sets"]["svhn_cropped/test"]["bits_per_dim"] += 0.04
  assert records.compare(record, metrics) == []


def test_compare_reports_drift_and_missing_numbers(tmp_path):
  record = _record(tmp_path)
  metrics = records.evaluation_metrics(_results())
  metrics["sets"]["svhn_cropped/test"]["bits_per_dim"] += 0.2
  metrics["detection"]["svhn_cropped/test"]["auroc"] = 0.5
  del metrics["sets"]["cifar10_jpeg/test"]
  differences = {path: (recorded, measured) for path, recorded, measured, _
                 in records.compare(record, metrics)}
  assert differences["sets/svhn_cropped/test/bits_per_dim"] == (
      2.5, pytest.approx(2.7))
  assert differences["detection/svhn_cropped/test/auroc"] == (0.1, 0.5)
  assert differences["sets/cifar10_jpeg/test/bits_per_dim"] == (3.5, None)
  # log_prob_z has no tolerance entry and no default: not compared.
  assert not any("log_prob_z" in path for path in differences)


def test_a_rerun_entry_says_what_differed_and_by_how_much(tmp_path):
  record = _record(tmp_path)
  metrics = records.evaluation_metrics(_results())
  metrics["sets"]["svhn_cropped/test"]["bits_per_dim"] += 0.2
  metrics["sets"]["cifar10_jpeg/test"]["bits_per_dim"] -= 0.01
  metrics["detection"]["svhn_cropped/test"]["auroc"] -= 0.02
  runs = {"x": {"mixed_precision": "none", "train_steps": 1500,
                "batch_size": 64, "dataset": "cifar10_jpeg",
                "training": {"step": 1500, "stop_reason": "train_steps",
                             "train_seconds": 240.5,
                             "images_per_second": None, "history": []}}}
  entry = records.rerun_entry(
      record, metrics, runs=runs, repo_dir=str(tmp_path),
      machine=records.machine_description(LSCPU))
  # The settings that explain a difference, and how long it trained (a
  # resumed process's images/s is null: not kept).
  assert entry["runs"] == {"x": {"mixed_precision": "none",
                                 "train_steps": 1500, "batch_size": 64,
                                 "training_step": 1500,
                                 "training_stop_reason": "train_steps",
                                 "training_train_seconds": 240.5}}
  assert entry["beyond_tolerance"] == [
      {"path": "sets/svhn_cropped/test/bits_per_dim", "recorded": 2.5,
       "measured": pytest.approx(2.7), "tolerance": 0.05}]
  largest = entry["largest_differences"]
  assert largest["bits_per_dim"] == {
      "path": "sets/svhn_cropped/test/bits_per_dim",
      "difference": pytest.approx(0.2)}
  assert largest["auroc"]["difference"] == pytest.approx(-0.02)
  assert entry["numbers_compared"] == len(
      records.compare(record, {})) > 0   # every compared number, missing
  # Kept in the record, which still reads (and compares) as before.
  record["reruns"] = [entry]
  path = os.path.join(tmp_path, "demo.json")
  records.write_record(path, record)
  assert records.read_record(path)["reruns"][0]["commit"] == "unknown"
  assert records.compare(records.read_record(path), metrics)[0][0] == (
      "sets/svhn_cropped/test/bits_per_dim")


def test_a_record_without_commands_or_keys_is_refused(tmp_path):
  with pytest.raises(ValueError, match="no command"):
    records.make_record("demo", "", [], {}, tolerance={})
  path = os.path.join(tmp_path, "bad.json")
  with open(path, "w") as f:
    json.dump({"experiment": "bad"}, f)
  with pytest.raises(ValueError, match="missing"):
    records.read_record(path)


def test_evaluation_curves_read_the_trainers_eval_events(tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  writer = tf.summary.create_file_writer(str(tmp_path / "eval"))
  with writer.as_default():
    for step, (test, svhn) in zip((100, 200, 300),
                                  ((4., 3.), (3.5, 2.75), (3.25, 2.5))):
      tf.summary.scalar("bits_per_dim/cifar10_jpeg/test", test, step=step)
      if step != 200:   # a set missing at one step: only common steps kept
        tf.summary.scalar("bits_per_dim/svhn_cropped/test", svhn, step=step)
      tf.summary.scalar("learning_rate", 1e-3, step=step)
  writer.close()
  curves = records.evaluation_curves(str(tmp_path))
  assert curves == {"steps": [100, 300], "bits_per_dim": {
      "cifar10_jpeg/test": [4., 3.25], "svhn_cropped/test": [3., 2.5]}}


def test_tolerance_patterns_before_kinds_before_the_default():
  tolerance = {"bits_per_dim": 0.1, "default": 0.01,
               "*/constant:*/bits_per_dim": 0.4,
               "*/constant:128/*/bits_per_dim": 0.9,
               "evaluation/detection/*": 0.2}
  of = lambda path: records.tolerance_of(tolerance, path)
  assert of("evaluation/sets/mnist/test/bits_per_dim") == 0.1
  assert of("evaluation/sets/constant:0/test/bits_per_dim") == 0.4
  # The longest matching pattern wins.
  assert of("evaluation/sets/constant:128/test/bits_per_dim") == 0.9
  assert of("evaluation/detection/mnist/test/auroc") == 0.2
  assert of("evaluation/sets/mnist/test/log_prob_z") == 0.01
  assert records.tolerance_of({"auroc": 0.05}, "a/bits_per_dim") is None
  # Per-level lists go by the list's name.
  assert of("evaluation/sets/mnist/test/bits_per_dim/2") == 0.1
  record = {"metrics": {"evaluation": {"sets": {
      "constant:0": {"test": {"bits_per_dim": 1.5}},
      "mnist": {"test": {"bits_per_dim": 3.3}}}}}, "tolerance": tolerance}
  measured = {"evaluation": {"sets": {
      "constant:0": {"test": {"bits_per_dim": 1.8}},
      "mnist": {"test": {"bits_per_dim": 3.45}}}}}
  assert records.compare(record, measured) == [
      ("evaluation/sets/mnist/test/bits_per_dim", 3.3, 3.45, 0.1)]
