"""`glow_ood.experiments.evaluation_summaries`: launch/evaluate.py's numbers as TensorBoard events.

The results dict is built the way `evaluate.evaluate` builds it (its
`models` entries are `LikelihoodTerms.summary()`), for two runs (a Glow with the
decomposition, a model without) and their ensemble; no model is run.
"""

import numpy as np
import pytest

from glow_ood import likelihood_terms
from glow_ood.experiments import evaluation_summaries
from tests.glow_ood.train.tensorboard_runs import read_events


def _scores(seed, decomposed):
  rng = np.random.default_rng(seed)
  lpz, ld = rng.normal(-300, 5, [6, 2]), rng.normal(100, 5, [6, 2])
  log_prob = lpz.sum(1) + ld.sum(1)
  terms = dict(log_prob_z=lpz.sum(1), log_prob_z_per_level=lpz,
               log_det=ld.sum(1), log_det_per_level=ld,
               log_det_per_kind={"actnorm": ld.sum(1) / 2,
                                 "coupling": ld.sum(1) / 2})
  if not decomposed:
    terms = {k: None for k in terms}
  return likelihood_terms.LikelihoodTerms(
      discrete_log_prob=log_prob - 64 * 8 * np.log(2.),
      bits_per_dim=-(log_prob - 64 * 8 * np.log(2.)) / (64 * np.log(2.)),
      num_dims=64, n_bits=8, **terms)


def _evaluation():
  sets = ("toy/test", "mnist/test")
  scores = {"glow": {s: _scores(i, True) for i, s in enumerate(sets)},
            "pixelcnn": {s: _scores(i + 5, False) for i, s in enumerate(sets)}}
  detection = dict(auroc=0.9, auroc_low=0.8, auroc_high=0.95, aupr_in=0.7,
                   aupr_out=0.6, fpr_at_95_tpr=0.3)
  results = dict(
      in_distribution="toy",
      runs=[dict(name="glow", step=12), dict(name="pixelcnn", step=30)],
      models={r: {s: v.summary() for s, v in sets_.items()}
              for r, sets_ in scores.items()},
      detection={r: {"mnist/test": detection} for r in scores},
      ensemble=dict(bits_per_dim={s: 4.0 for s in sets},
                    discrete_log_prob={s: -180. for s in sets},
                    detection={"mnist/test": detection}))
  arrays = {f"{r}/{s}/{term}": getattr(v, term)
            for r, sets_ in scores.items() for s, v in sets_.items()
            for term in ("discrete_log_prob", "bits_per_dim", "log_prob_z",
                         "log_det") if getattr(v, term) is not None}
  arrays.update({f"ensemble/{s}/discrete_log_prob": np.zeros(6) for s in sets})
  return results, arrays, scores


def test_each_run_and_set_gets_its_scalars_and_histograms(tmp_path):
  results, arrays, scores = _evaluation()
  folders = {"glow": str(tmp_path / "glow" / "evaluate"),
             "ensemble": str(tmp_path / "ensemble")}
  written = evaluation_summaries.write(results, arrays, folders)
  assert written == folders   # pixelcnn had no folder: skipped
  runs = read_events(tmp_path, recursive=True)
  assert sorted(runs) == ["ensemble/mnist/test", "ensemble/toy/test",
                          "glow/evaluate/mnist/test", "glow/evaluate/toy/test"]
  toy = runs["glow/evaluate/toy/test"]
  assert {step for _, values in toy.values() for step in values} == {12}
  expected = scores["glow"]["toy/test"]
  assert float(toy["bits_per_dim"][1][12]) == pytest.approx(
      np.mean(expected.bits_per_dim))
  assert float(toy["log_prob_z/level_1"][1][12]) == pytest.approx(
      np.mean(expected.log_prob_z_per_level[:, 1]))
  assert float(toy["log_det/actnorm"][1][12]) == pytest.approx(
      np.mean(expected.log_det) / 2)
  assert "auroc" not in toy   # the in-distribution set is not scored as OOD
  mnist = runs["glow/evaluate/mnist/test"]
  assert float(mnist["auroc"][1][12]) == pytest.approx(0.9)
  assert "auroc_low" not in mnist
  for term in ("discrete_log_prob", "log_prob_z", "log_det"):
    metadata, values = mnist[f"histograms/{term}"]
    assert metadata.plugin_data.plugin_name == "histograms"
    counts = values[12][:, 2]   # [bucket, (left, right, count)]
    assert counts.sum() == pytest.approx(6)
    assert "nats per image" in metadata.summary_description
  for tag in ("bits_per_dim", "log_prob_z", "auroc"):
    assert mnist[tag][0].summary_description, tag
  ensemble = runs["ensemble/mnist/test"]
  assert sorted(ensemble) == ["aupr_in", "aupr_out", "auroc", "bits_per_dim",
                              "discrete_log_prob", "fpr_at_95_tpr",
                              "histograms/discrete_log_prob"]
  assert sorted(ensemble["bits_per_dim"][1]) == [30]   # the newest member's


def test_a_model_without_decomposition_gets_no_decomposition_tags(tmp_path):
  results, arrays, _ = _evaluation()
  evaluation_summaries.write(results, arrays,
                             {"pixelcnn": str(tmp_path / "p")})
  runs = read_events(tmp_path, recursive=True)
  assert sorted(runs["p/toy/test"]) == ["bits_per_dim", "discrete_log_prob",
                                        "histograms/discrete_log_prob"]


def test_default_folders_are_each_runs_evaluate_subfolder():
  class Run:
    name, workdir = "x", "/runs/x"
  assert evaluation_summaries.default_folders([Run()]) == {
      "x": "/runs/x/evaluate"}
