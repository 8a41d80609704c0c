"""The docs' tables of the grayscale pairs (Fig. 1 left, 7a, 9, 11, 12b).

Each model is trained twice where the paper's layout matters: on 32x32x1 (the
images padded to 32x32) and on the paper's 32x32x3 (padded, then tiled to three
identical channels, as openai/glow does for MNIST). Bits/dim of the two are not
comparable (tiling triples D while adding almost no information, so a tiled
model's bits/dim is about a third); bits per image (bits/dim x D) are, and each
table gives both.
"""

from scripts.table_format import (auroc_cell, decomposition_table, detected,
                                  detection, lower, machine_cell,
                                  markdown_table, number, set_value,
                                  smaller_codes, verdict_row)

__all__ = ["GRAYSCALE_MODELS", "TABLES", "verdict_rows"]

# (trained on, record, input layout, in-distribution dataset, OOD datasets).
GRAYSCALE_MODELS = (
    ("Fashion-MNIST", "fashion_mnist_glow_cpu", "32x32x1", "fashion_mnist",
     ("mnist", "notmnist")),
    ("NotMNIST", "notmnist_glow_cpu", "32x32x1", "notmnist",
     ("mnist", "fashion_mnist")),
    ("NotMNIST", "notmnist_glow_rgb_cpu", "32x32x3 tiled", "notmnist",
     ("mnist", "fashion_mnist")),
    ("MNIST", "mnist_glow_cpu", "32x32x1", "mnist",
     ("notmnist", "fashion_mnist")),
    ("MNIST", "mnist_glow_rgb_cpu", "32x32x3 tiled", "mnist",
     ("notmnist", "fashion_mnist")),
)

# Nalisnick et al. (2019), Fig. 1 and 9 (bits/dim, 32x32x3 tiled as
# openai/glow lays MNIST out) and Fig. 11-12b (traces, pixels / 256).
PAPER = {
    ("notmnist", "notmnist/train"): 1.978,
    ("notmnist", "notmnist/test"): 1.790,
    ("notmnist", "mnist/test"): 2.222,
    ("notmnist", "constant:0/test"): 0.214,
    ("notmnist", "uniform_random/test"): 9.024,
    ("mnist", "mnist/test"): 1.262,
}
PAPER_TRACES = {"notmnist": {"data": 152.8, "codes": 507.1},
                "mnist": {"data": 52.3, "codes": 328.3}}
NAMES = {"fashion_mnist": "Fashion-MNIST", "notmnist": "NotMNIST",
         "mnist": "MNIST"}


def _present(records):
  found = [model for model in GRAYSCALE_MODELS if model[1] in records]
  if not found:
    raise KeyError(GRAYSCALE_MODELS[0][1])
  return found


def _steps(records, experiment):
  """`"<steps> (<why it stopped>)"` from the record's training summary."""
  runs = records[experiment].get("runs", {})
  training = next(iter(runs.values()), {}).get("training", {})
  step = training.get("step")
  reason = {"plateau": "plateau", "wall_budget": "wall budget",
            "train_steps": "step limit"}.get(training.get("stop_reason"),
                                             training.get("stop_reason"))
  if step is None:
    return "-"
  return f"{step} steps ({reason})" if reason else f"{step} steps"


def fig1_grayscale(records):
  """Bits/dim, bits per image and AUROC per model and set (Fig. 1 left, 7a)."""
  body = []
  for trained_on, name, layout, dataset, others in _present(records):
    model = f"{trained_on}, {layout}, {_steps(records, name)}"
    sets = [(f"{NAMES[dataset]} {split}", f"{dataset}/{split}")
            for split in ("train", "test")]
    sets += [(f"{NAMES[other]} test", f"{other}/test") for other in others]
    test = set_value(records, name, f"{dataset}/test")
    for label, set_name in sets:
      value = set_value(records, name, set_name)
      if value is None:
        continue
      bits = number(value)
      if set_name.split("/")[0] != dataset and value < test:
        bits = f"**{bits}**"
      paper = (PAPER.get((dataset, set_name)) if "x3" in layout else None)
      body.append((model, label, number(paper), bits,
                   number(set_value(records, name, set_name,
                                    "bits_per_image"), 0),
                   auroc_cell(detection(records, name, set_name))))
      model = ""
  return markdown_table(("model (trained on, input, steps)", "set",
                         "paper bits/dim", "bits/dim", "bits/image",
                         "AUROC of bits/dim"), body)


def fig9_constants(records):
  """Constant and uniform-noise images against each model's test set (Fig. 9)."""
  columns = (("test", None), ("constant 0", "constant:0/test"),
             ("constant 128", "constant:128/test"),
             ("uniform noise", "uniform_random/test"))
  body = []
  for trained_on, name, layout, dataset, _ in _present(records):
    cells = []
    for _, set_name in columns:
      value = set_value(records, name, set_name or f"{dataset}/test")
      paper = PAPER.get((dataset, set_name)) if "x3" in layout else None
      text = number(value)
      if paper is not None:
        text += f" (paper {number(paper)})"
      cells.append(text)
    body.append([f"{trained_on}, {layout}"] + cells)
  return markdown_table(["trained on"] + [label for label, _ in columns],
                        body)


def fig11_12b_statistics(records):
  """Traces of the data's and the codes' covariances (Fig. 11a, 12b)."""
  record = records.get("notmnist_cvglow_rgb_cpu_analysis")
  if record is None:
    raise KeyError("notmnist_cvglow_rgb_cpu_analysis")
  analysis = record["metrics"]["analysis"]
  body = []
  for dataset in ("notmnist", "mnist"):
    data = analysis["data_statistics"].get(dataset)
    codes = analysis["latent_statistics"].get(dataset)
    if data is None or codes is None:
      continue
    paper = PAPER_TRACES[dataset]
    # Tiled to 3 identical channels: one channel's variances are the
    # paper's trace (its images are single-channel).
    body.append((NAMES[dataset], f"{data['channel_variance_sums'][0]:.1f}",
                 f"{paper['data']:.1f}", f"{codes['covariance_trace']:.1f}",
                 f"{paper['codes']:.1f}", f"{codes['mean_std']:.3f}",
                 f"{codes['mean_normalized_norm']:.3f}"))
  table = markdown_table(
      ("images", "Tr(data cov.), one channel", "paper", "Tr(codes cov.)",
       "paper",
       "mean std of codes", "mean \\|\\|z\\|\\|/sqrt(D)"), body)
  gap = analysis.get("second_order", {}).get("mnist")
  if gap is None:
    return table
  return table + (
      f"\nSection 5 on this pair (nats per image, MNIST minus NotMNIST): "
      f"Eq. 6 predicts {gap['paper_gap']:+.0f} "
      f"({gap['paper_gap_bits_per_dim']:+.3f} bits/dim), measured "
      f"{gap['measured_gap']:+.0f} ({gap['measured_gap_bits_per_dim']:+.3f}); "
      f"first-order term {gap['first_order']:+.0f}.\n")


def fig4ab_decomposition(records):
  """Mean log p(z) and log|det| of NotMNIST and MNIST under the NotMNIST Glows."""
  models = [(f"{trained_on}, {layout}", name)
            for trained_on, name, layout, dataset, _ in GRAYSCALE_MODELS
            if dataset == "notmnist"]
  return decomposition_table(records, models, (
      ("NotMNIST train", "notmnist/train"), ("NotMNIST test", "notmnist/test"),
      ("MNIST test", "mnist/test")))


def _log_prob_z_lower(records, experiment):
  z_mnist = set_value(records, experiment, "mnist/test", "log_prob_z")
  z_test = set_value(records, experiment, "notmnist/test", "log_prob_z")
  if z_mnist is None:
    return None
  return z_mnist < z_test, (f"MNIST {number(z_mnist, 0)} vs NotMNIST test "
                            f"{number(z_test, 0)} nats")


def _most_likely(records, experiment, set_name):
  """(holds, text): `set_name` has the lowest bits/dim of every scored set."""
  metrics = records.get(experiment)
  if metrics is None:
    return None
  sets = metrics["metrics"]["evaluation"]["sets"]
  value = sets[set_name]["bits_per_dim"]
  others = {name: entry["bits_per_dim"] for name, entry in sets.items()
            if name != set_name}
  runner_up = min(others, key=others.get)
  return value < others[runner_up], (
      f"{number(value)}; next lowest of {len(others)} sets: "
      f"{runner_up.split('/')[0]} {number(others[runner_up])}")


def _higher(records, experiment, set_name, than):
  outcome = lower(records, experiment, set_name, than)
  return None if outcome is None else (not outcome[0], outcome[1])


def verdict_rows(records):
  """The grayscale pairs' rows of the verdict table."""
  return [
      verdict_row(
          "Glow trained on NotMNIST gives MNIST a lower likelihood (higher "
          "bits/dim) than NotMNIST test (Fig. 1 left, 2a)", "2.222 vs 1.790",
          [("32x32x3 tiled", _higher(records, "notmnist_glow_rgb_cpu",
                                     "mnist/test", "notmnist/test")),
           ("32x32x1", _higher(records, "notmnist_glow_cpu", "mnist/test",
                               "notmnist/test"))],
          "our NotMNIST: 10k images of the small, clean notMNIST set; "
          "Eq. 6 predicts MNIST more likely here (Fig. 11a/12b section)"),
      verdict_row(
          "Under the NotMNIST Glow, MNIST's log p(z) is lower: what lets it "
          "tell MNIST apart (Fig. 4a)", "MNIST shifted left",
          [("32x32x3 tiled", _log_prob_z_lower(records,
                                               "notmnist_glow_rgb_cpu")),
           ("32x32x1", _log_prob_z_lower(records, "notmnist_glow_cpu"))]),
      verdict_row(
          "Trained on MNIST, NotMNIST is detected (Fig. 7a)",
          "NotMNIST less likely",
          [("32x32x3 tiled", detected(records, "mnist_glow_rgb_cpu",
                                      "notmnist/test")),
           ("32x32x1", detected(records, "mnist_glow_cpu", "notmnist/test"))]),
      verdict_row(
          "A constant image is the most likely input (Fig. 9)",
          "0.214 (NotMNIST, constant 0); 0.589 (CIFAR-10, 128)",
          [("NotMNIST x3, constant 0", _most_likely(
              records, "notmnist_glow_rgb_cpu", "constant:0/test")),
           ("CIFAR-10 Glow, constant 128", _most_likely(
               records, "cifar10_glow_cpu", "constant:128/test"))],
          "lowest bits/dim of every set the model scored"),
      verdict_row(
          "MNIST's codes under a NotMNIST CV-Glow have the smaller spread "
          "(Fig. 12b)", "Tr 328.3 vs 507.1", [("", smaller_codes(
              records, "notmnist_cvglow_rgb_cpu_analysis", "mnist",
              "notmnist"))]),
  ]


def main_job_table(records):
  """README: the main job's bits/dim, bits per image and AUROC, with its run."""
  name, dataset = "fashion_mnist_glow_cpu", "fashion_mnist"
  record = records[name]
  sets = (("Fashion-MNIST train", f"{dataset}/train"),
          ("Fashion-MNIST test", f"{dataset}/test"),
          ("MNIST test", "mnist/test"), ("NotMNIST test", "notmnist/test"))
  body = [(label, number(set_value(records, name, set_name)),
           number(set_value(records, name, set_name, "bits_per_image"), 0),
           auroc_cell(detection(records, name, set_name)))
          for label, set_name in sets
          if set_value(records, name, set_name) is not None]
  training = next(iter(record["runs"].values()))["training"]
  return markdown_table(("set", "bits/dim", "bits/image",
                         "AUROC of bits/dim vs Fashion-MNIST test"), body) + (
      f"\n{training['step']} steps in {training['train_seconds'] / 60:.1f} "
      f"minutes of training ({training['images_per_second']:.0f} images/s) "
      f"on {machine_cell(record)}, mixed precision "
      f"{next(iter(record['runs'].values()))['mixed_precision']}; "
      f"[record](docs/results/{name}.json).\n")


TABLES = {
    "main_job": main_job_table,
    "fig1_grayscale": fig1_grayscale,
    "fig9_constants": fig9_constants,
    "fig4ab_decomposition": fig4ab_decomposition,
    "fig11_12b": fig11_12b_statistics,
}
