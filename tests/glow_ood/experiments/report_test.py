"""Tests of `glow_ood.experiments.report`: markdown tables of evaluation results.

A results dict is written by hand (the structure `glow_ood.experiments.evaluate` writes
to results.json), so every number in the report is known.
"""

import re

from glow_ood.experiments import report


def test_markdown_table_exact():
  text = report.markdown_table(["a", "b c"], [[1, "x"], [2.5, None]])
  assert text == ("| a | b c |\n"
                  "|---|---|\n"
                  "| 1 | x |\n"
                  "| 2.5 | None |\n")
  assert report.markdown_table(["only"], []) == "| only |\n|---|\n"


def _detection(auroc, low, high):
  return dict(auroc=auroc, auroc_low=low, auroc_high=high, aupr_in=0.25,
              aupr_out=0.75, fpr_at_95_tpr=0.5)


def _model(log_prob, bits):
  return dict(discrete_log_prob=log_prob, bits_per_dim=bits, log_prob_z=-81.04,
              log_det=98.05, log_prob_z_per_level=[-39.66, -41.38],
              log_det_per_level=[95.86, 2.19], log_det_per_kind={})


def make_results(names=("a", "b"), ensemble=True):
  sets = ("toy/train", "toy/test", "constant:128/test")
  bits = {"toy/train": 7.61814, "toy/test": 7.67206,
          "constant:128/test": 7.11294}
  results = dict(
      in_distribution="toy",
      runs=[dict(name=n, workdir=f"/runs/{n}", step=4 + i,
                 model=dict(coupling_scale="sigmoid", num_levels=2,
                            num_steps_per_level=1, hidden_width=8))
            for i, n in enumerate(names)],
      num_examples={"toy/train": 32, "toy/test": 16, "constant:128/test": 10},
      models={n: {s: _model(-337.94 - i, bits[s] + 0.1 * i)
                  for s in sets} for i, n in enumerate(names)},
      detection={n: {"constant:128/test": _detection(0.0123, 0., 0.04567)}
                 for n in names},
      graying=dict(dataset="toy/test", factors=[1., 0.5, 0.],
                   num_images=16,
                   mean=dict(bits_per_dim=[7.67206, 7.3, 7.11294],
                             log_prob_z=[-83.46, -70., -58.71],
                             log_det=[98.04, 98.06, 98.08],
                             discrete_log_prob=[-340.3, -320., -315.5])),
      figures={"graying": ["figures/graying.png", "figures/graying.pdf"]})
  if ensemble:
    results["ensemble"] = dict(
        members=list(names),
        bits_per_dim={s: bits[s] - 0.05 for s in sets},
        discrete_log_prob={s: -330. for s in sets},
        detection={"constant:128/test": _detection(0.5, 0.25, 0.98765)})
  return results


def tables(text):
  """Each table of `text` as a list of rows, a row a list of its cells."""
  found, current = [], []
  for line in text.splitlines() + [""]:
    if line.startswith("|"):
      # Cells are separated by pipes not escaped by a backslash.
      current.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    elif current:
      found.append(current)
      current = []
  return found


def assert_well_formed(text):
  for table in tables(text):
    header, rule, *rows = table
    assert all(re.fullmatch(r"-+", cell) for cell in rule), rule
    assert len(rule) == len(header), table
    for row in rows:
      assert len(row) == len(header), (header, row)


def test_results_markdown_numbers_and_structure():
  text = report.results_markdown(make_results())
  assert text.startswith("# Evaluation: trained on toy\n")
  assert_well_formed(text)
  lines = text.splitlines()
  # Runs.
  assert ("| a | `/runs/a` | 4 | Glow (2 levels x 1 steps, width 8, sigmoid "
          "coupling) |"
          in lines)
  assert ("| b | `/runs/b` | 5 | Glow (2 levels x 1 steps, width 8, sigmoid "
          "coupling) |"
          in lines)
  # Bits/dim, 4 decimals, with roles and the ensemble column.
  assert ("| dataset/split | role | images | a bits/dim | b bits/dim | "
          "ensemble bits/dim |") in lines
  assert ("| toy/train | in-distribution (train) | 32 | 7.6181 | 7.7181 | "
          "7.5681 |") in lines
  assert ("| toy/test | in-distribution (test) | 16 | 7.6721 | 7.7721 | "
          "7.6221 |") in lines
  assert ("| constant:128/test | out-of-distribution | 10 | 7.1129 | 7.2129 | "
          "7.0629 |") in lines
  # Decomposition in nats, 1 decimal, per run; pipes of |det| escaped.
  assert ("| dataset/split | log p(x) | log p(z) | log \\|det\\| | "
          "log p(z) per level | log \\|det\\| per level |") in lines
  for log_prob in ("-337.9", "-338.9"):    # runs a and b
    assert (f"| toy/test | {log_prob} | -81.0 | 98.0 | -39.7, -41.4 | "
            "95.9, 2.2 |") in lines
  # Detection: 3 decimals, the interval in brackets; the ensemble's too.
  assert ("| dataset | AUROC [95% CI] | AUPR-In | AUPR-Out | FPR at 95% TPR |"
          in lines)
  assert lines.count("| constant:128/test | 0.012 [0.000, 0.046] | 0.250 | "
                     "0.750 | 0.500 |") == 2
  assert ("| constant:128/test | 0.500 [0.250, 0.988] | 0.250 | 0.750 | "
          "0.500 |") in lines
  assert "Ensemble of 2 (" in text
  # Graying.
  assert "## Graying toy/test (paper Fig. 6c)" in lines
  assert "| factor | bits/dim | log p(z) | log \\|det\\| |" in lines
  assert "| 1 | 7.6721 | -83.5 | 98.0 |" in lines
  assert "| 0.5 | 7.3000 | -70.0 | 98.1 |" in lines
  assert "| 0 | 7.1129 | -58.7 | 98.1 |" in lines
  # Figures.
  assert "- graying: figures/graying.png, figures/graying.pdf" in lines
  # 1 runs + 1 bits/dim + 2 decompositions + 2 + 1 detections + 1 graying.
  assert len(tables(text)) == 8


def test_single_run_without_ensemble_graying_or_figures():
  results = make_results(names=("only",), ensemble=False)
  del results["graying"]
  results["figures"] = {}
  text = report.results_markdown(results)
  assert_well_formed(text)
  assert "ensemble" not in text.lower()
  assert "Graying" not in text and "## Figures" not in text
  assert ("| toy/test | in-distribution (test) | 16 | 7.6721 |"
          in text.splitlines())
  assert len(tables(text)) == 4


def test_pipes_in_run_names_do_not_break_the_tables():
  """A run is named after its folder, which may hold a `|`."""
  results = make_results(names=("a|b", "other"))
  text = report.results_markdown(results)
  assert_well_formed(text)
  assert "a\\|b bits/dim" in text
