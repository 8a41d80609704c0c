"""The docs' tables of the paper's appendix experiments on toy data and ensembles.

Fig. 8 (two moons copied to D dimensions: E[log p(z)] and E[log|det|] against
their limiting bounds, record `two_moons`) and Fig. 10 (an ensemble of Glows
trained on CIFAR-10, its members and their spread, record
`cifar10_glow_ensemble_cpu`).
"""

from scripts.table_format import (auroc_cell, jpeg_quality, markdown_table,
                                  number)

__all__ = ["TABLES"]


def _member_keys(metrics):
  return sorted(key for key in metrics if key.startswith("member_"))


def fig10_ensemble(records):
  """Members and their ensemble on CIFAR-10 test and SVHN (Fig. 10)."""
  metrics = records["cifar10_glow_ensemble_cpu"]["metrics"]
  quality = jpeg_quality(records)
  sets = ("cifar10_jpeg/test", "svhn_cropped/test",
          f"jpeg:svhn_cropped:{quality}/test")
  def row(label, entry):
    values = [entry["sets"].get(name, {}).get("bits_per_dim") for name in sets]
    return ([label] + [number(value) for value in values] +
            [auroc_cell(entry["detection"].get(name)) for name in sets[1:]])
  body = [row(key.replace("_", " "), metrics[key])
          for key in _member_keys(metrics)]
  spread = []
  for name in sets:
    values = [metrics[key]["sets"][name]["bits_per_dim"]
              for key in _member_keys(metrics) if name in metrics[key]["sets"]]
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    spread.append(f"{mean:.3f} +- {std:.3f}")
  body.append(["members: mean +- std"] + spread + ["", ""])
  body.append(row("**ensemble**", metrics["evaluation"]))
  return markdown_table(
      ("model", "CIFAR-10 test (JPEG)", "SVHN", f"SVHN, JPEG q{quality}",
       "AUROC, SVHN", f"AUROC, SVHN JPEG q{quality}"), body)


def fig8_two_moons(records):
  """E[log p(z)], E[log|det|] and their bounds per scale and D (Fig. 8)."""
  cells = records["two_moons"]["metrics"]["two_moons"]["cells"]
  body = [(cell["scale"], str(cell["num_dims"]),
           number(cell["mean_log_prob_z"], 1),
           number(cell["log_prob_z_bound"], 1),
           number(cell["mean_log_det"], 2), number(cell["log_det_bound"], 1),
           number(cell["final_nll"], 1)) for cell in cells]
  return markdown_table(("scale", "D", "E log p(z)", "bound", "E log \\|det\\|",
                         "bound", "NLL (nats)"), body)


TABLES = {"fig8_two_moons": fig8_two_moons, "fig10_ensemble": fig10_ensemble}
