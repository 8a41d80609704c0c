"""Markdown tables of `glow_ood.experiments.evaluate` results (results.md)."""

import re

from glow_ood import models
from glow_ood.configs import families

__all__ = ["results_markdown", "markdown_table"]


def _cell(value):
  """`value` as a table cell: `|` not already escaped becomes `\\|`."""
  return re.sub(r"(?<!\\)\|", r"\\|", str(value))


def markdown_table(header, rows):
  """A GitHub markdown table: `header` list of str, `rows` lists of cells."""
  lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |"
            for row in rows]
  return "\n".join(lines) + "\n"


def _role(name, in_distribution):
  dataset, split = name.rsplit("/", 1)
  if dataset == in_distribution:
    return f"in-distribution ({split})"
  return "out-of-distribution"


def _detection_rows(detection):
  return [[name, f"{d['auroc']:.3f} [{d['auroc_low']:.3f}, {d['auroc_high']:.3f}]",
           f"{d['aupr_in']:.3f}", f"{d['aupr_out']:.3f}",
           f"{d['fpr_at_95_tpr']:.3f}"]
          for name, d in detection.items()]


_DETECTION_HEADER = ["dataset", "AUROC [95% CI]", "AUPR-In", "AUPR-Out",
                     "FPR at 95% TPR"]


def _model_text(run):
  """A run's model in a few words (from results.json's `runs` entry)."""
  config = models.config_class(run.get("family", families.DEFAULT))(
      **run["model"])
  return models.describe(config)


def results_markdown(results):
  """The report of one evaluation as markdown."""
  in_distribution = results["in_distribution"]
  runs = results["runs"]
  names = [run["name"] for run in runs]
  out = [f"# Evaluation: trained on {in_distribution}\n"]
  out.append(markdown_table(
      ["run", "workdir", "step", "model"],
      [[r["name"], f"`{r['workdir']}`", r["step"], _model_text(r)]
       for r in runs]))
  out += _bits_per_dim_section(results, names)
  decomposed = [n for n in names if all(
      "log_prob_z" in m for m in results["models"][n].values())]
  estimated = [n for n in names if n not in decomposed]
  out += _estimated_section(results, estimated)
  out += _decomposition_section(results, decomposed)
  out += _detection_section(results, names)
  if "graying" in results:
    out += _graying_section(results["graying"])
  if results.get("figures"):
    out.append("\n## Figures\n\n")
    out += [f"- {name}: {', '.join(paths)}\n"
            for name, paths in results["figures"].items()]
  return "".join(out)


def _bits_per_dim_section(results, names):
  """Bits/dim of every set for every run (and the ensemble)."""
  in_distribution = results["in_distribution"]
  header = ["dataset/split", "role", "images"] + [f"{n} bits/dim" for n in names]
  if "ensemble" in results:
    header.append("ensemble bits/dim")
  rows = []
  for name in results["num_examples"]:
    row = [name, _role(name, in_distribution), results["num_examples"][name]]
    row += [f"{results['models'][n][name]['bits_per_dim']:.4f}" for n in names]
    if "ensemble" in results:
      row.append(f"{results['ensemble']['bits_per_dim'][name]:.4f}")
    rows.append(row)
  return ["\n## Bits/dim (paper Fig. 1, 9, 10)\n", markdown_table(header, rows)]


def _estimated_section(results, estimated):
  """Mean log P(image) of the runs without a decomposition, with standard errors."""
  if not estimated:
    return []
  out = ["\n## log P(image), means in nats\n\n",
         "Exact for a PixelCNN; for a VAE an importance-sampled (IWAE) "
         "estimate, with the standard error of the mean.\n\n"]
  for n in estimated:
    models = results["models"][n]
    out.append(f"Run {n}:\n\n")
    out.append(markdown_table(
        ["dataset/split", "log P(image)", "standard error"],
        [[name, f"{m['discrete_log_prob']:.2f}",
          f"{m['discrete_log_prob_stderr']:.3f}"
          if "discrete_log_prob_stderr" in m else "exact"]
         for name, m in models.items()]))
    out.append("\n")
  return out


def _decomposition_section(results, decomposed):
  """Mean log p(x) = log p(z) + log|det| (in total and per level) of the decomposed runs."""
  if not decomposed:
    return []
  out = ["\n## Decomposition of log p(x), means in nats (paper Fig. 4, 5)\n",
         "`log p(x) = log p(z) + log|det dz/dx| - D n_bits log 2`.\n\n"]
  for n in decomposed:
    models = results["models"][n]
    out.append(f"Run {n}:\n\n")
    out.append(markdown_table(
        ["dataset/split", "log p(x)", "log p(z)", "log \\|det\\|",
         "log p(z) per level", "log \\|det\\| per level"],
        [[name, f"{m['discrete_log_prob']:.1f}", f"{m['log_prob_z']:.1f}",
          f"{m['log_det']:.1f}",
          ", ".join(f"{v:.1f}" for v in m["log_prob_z_per_level"]),
          ", ".join(f"{v:.1f}" for v in m["log_det_per_level"])]
         for name, m in models.items()]))
    out.append("\n")
  return out


def _detection_section(results, names):
  """AUROC & co. of bits/dim as an OOD score, per run (and for the ensemble)."""
  out = ["## Detecting out-of-distribution inputs by bits/dim\n\n",
         "Each set against the in-distribution test split; the score is "
         "bits/dim (higher = more OOD), so AUROC < 0.5 means the set gets "
         "*higher* likelihood than the test split.\n\n"]
  for n in names:
    out.append(f"Run {n}:\n\n")
    out.append(markdown_table(_DETECTION_HEADER,
                              _detection_rows(results["detection"][n])))
    out.append("\n")
  if "ensemble" in results:
    out.append(f"Ensemble of {len(names)} (log p_ens = logsumexp_m log p_m - "
               "log M):\n\n")
    out.append(markdown_table(_DETECTION_HEADER,
                              _detection_rows(results["ensemble"]["detection"])))
    out.append("\n")
  return out


def _graying_section(graying):
  """Bits/dim (and, with a decomposition, its terms) of the grayed test images."""
  out = [f"## Graying {graying['dataset']} (paper Fig. 6c)\n\n",
         "Pixels shrunk toward 128: `128 + factor (x - 128)`.\n\n"]
  mean = graying["mean"]
  if "log_prob_z" in mean:
    out.append(markdown_table(
        ["factor", "bits/dim", "log p(z)", "log \\|det\\|"],
        [[f"{f:g}", f"{b:.4f}", f"{z:.1f}", f"{d:.1f}"] for f, b, z, d in zip(
            graying["factors"], mean["bits_per_dim"], mean["log_prob_z"],
            mean["log_det"])]))
  else:   # a model without Glow's decomposition
    out.append(markdown_table(
        ["factor", "bits/dim"],
        [[f"{f:g}", f"{b:.4f}"] for f, b in zip(graying["factors"],
                                               mean["bits_per_dim"])]))
  return out
