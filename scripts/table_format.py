"""Helpers shared by the docs' tables (`scripts/doc_tables.py` and its siblings).

Cells (`number`, `auroc_cell`, `machine_cell`), markdown tables, lookups into
the records (`evaluation`, `set_value`, `detection`, `jpeg_quality`) and the
verdict rows' outcomes (`lower`, `detected`, `verdict_row`): an outcome is
`(holds, text)`, or None when its record is missing.
"""

__all__ = ["auroc_cell", "commit_cell", "detected", "detection", "evaluation",
           "jpeg_quality", "lower", "machine_cell", "markdown_table",
           "number", "set_value", "smaller_codes", "verdict_row",
           "decomposition_table"]


def markdown_table(header, rows):
  lines = ["| " + " | ".join(header) + " |",
           "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(cell) for cell in row) + " |"
            for row in rows]
  return "\n".join(lines) + "\n"


def number(value, digits=3):
  if value is None:
    return "-"
  if abs(value) >= 1e5:
    return f"{value:.2e}"
  return f"{value:.{digits}f}"


def auroc_cell(detection):
  if not detection:
    return "-"
  return (f"{detection['auroc']:.3f} [{detection['auroc_low']:.3f}, "
          f"{detection['auroc_high']:.3f}]")


def machine_cell(record):
  machine = record["machine"]
  flags = machine["simd_flags"]
  simd = ("AVX-512 + AVX512_BF16" if "avx512_bf16" in flags else
          "AVX-512" if "avx512f" in flags else
          "AVX2" if "avx2" in flags else "no AVX2")
  return f"{machine['model_name']} ({simd}), {machine['cpus']} cores"


def commit_cell(commit):
  text = f"`{commit[:10]}`"
  return text + " + local changes" if commit.endswith("+dirty") else text


def evaluation(records, experiment):
  """The `evaluation` metrics of a record, or None if the record is missing."""
  record = records.get(experiment)
  return None if record is None else record["metrics"]["evaluation"]


def set_value(records, experiment, set_name, key="bits_per_dim"):
  metrics = evaluation(records, experiment)
  if metrics is None:
    return None
  return metrics["sets"].get(set_name, {}).get(key)


def detection(records, experiment, set_name):
  metrics = evaluation(records, experiment)
  return None if metrics is None else metrics["detection"].get(set_name)


def jpeg_quality(records):
  """The JPEG quality matched to `cifar10_jpeg` (record `jpeg_quality`)."""
  record = records.get("jpeg_quality")
  return None if record is None else (
      record["metrics"]["matching"]["best_quality"])


def lower(records, experiment, set_name, than):
  """(ours text, agrees) for "set gets a lower bits/dim than `than`"."""
  value = set_value(records, experiment, set_name)
  reference = set_value(records, experiment, than)
  if value is None or reference is None:
    return None
  return value < reference, f"{number(value)} vs {number(reference)}"


def verdict_row(claim, paper, outcomes, note=""):
  """A verdict row from `outcomes`: [(label, (holds, text) or None)]."""
  found = [(label, outcome) for label, outcome in outcomes
           if outcome is not None]
  if not found:
    return (claim, paper, "not run yet", "-", note)
  text = "; ".join(f"{label}{': ' if label else ''}{outcome[1]}"
                   for label, outcome in found)
  holds = [outcome[0] for _, outcome in found]
  verdict = ("yes" if all(holds) else "no" if not any(holds) else "partly")
  return (claim, paper, text, verdict, note)


def detected(records, experiment, set_name, minimum=0.9):
  found = detection(records, experiment, set_name)
  if found is None:
    return None
  return found["auroc"] >= minimum, f"AUROC {auroc_cell(found)}"


def decomposition_table(records, models, sets):
  """Mean log p(z) and log|det| (nats per image) per model and set (Fig. 4)."""
  rows = []
  for model_label, name in models:
    if name not in records:
      continue
    for set_label, set_name in sets:
      z = set_value(records, name, set_name, "log_prob_z")
      det = set_value(records, name, set_name, "log_det")
      if z is None:
        continue
      rows.append((f"{model_label}: {set_label}", number(z, 0),
                   number(det, 0), number(z + det, 0)))
  if not rows:
    raise KeyError(models[0][1])
  return markdown_table(("model: set", "log p(z)", "log \\|det dz/dx\\|",
                         "sum"), rows)


def smaller_codes(records, experiment, dataset, reference):
  """(holds, text): the trace of `dataset`'s codes is below `reference`'s."""
  record = records.get(experiment)
  if record is None:
    return None
  codes = record["metrics"]["analysis"]["latent_statistics"]
  if dataset not in codes:
    return None
  ours, theirs = (codes[dataset]["covariance_trace"],
                  codes[reference]["covariance_trace"])
  return ours < theirs, f"Tr {ours:.0f} vs {theirs:.0f}"
