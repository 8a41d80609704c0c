"""Data statistics of datasets and, given a trained Glow, the paper's Section 5 analysis.

`analyze(config, output_dir, run=None)` computes, on the paper's scale
(pixels / 256), for the training distribution `p = config.datasets[0]`
(train split) and every other dataset `q` (test split), all conformed to one
image shape:

  * data statistics (paper Fig. 6a-b, 11): per-dimension means and
    variances, off-diagonal covariances, the covariance trace, per-channel
    variance sums (the numbers of Section 5), `||x|| / sqrt(D)`;

and with a trained `run` (`glow_ood.runs.Run`; the paper uses an
additive, constant-volume Glow):

  * the second-order prediction of `E_q[log p(x)] - E_p[log p(x)]` (Eq. 5-6)
    next to the measured gap: the paper's 1x1-kernel weights `alpha_c`, the
    model's own Hessian diagonal at the mean training image, and the
    first-order term the paper drops;
  * latent-code statistics (Fig. 12) of every dataset, and of the training
    test split grayed by each of `graying_factors` (Fig. 13).

It writes `analysis.json`, `analysis.md` and `figures/` to `output_dir`.
"""

import os

import numpy as np

from glow_ood import data as data_lib
from glow_ood import fileio
from glow_ood import likelihood_terms
from glow_ood import plots
from glow_ood import progress as progress_lib
from glow_ood.analysis import data_statistics as data_statistics_lib
from glow_ood.analysis import latent_statistics as latent_statistics_lib
from glow_ood.analysis import second_order
from glow_ood.configs import families
from glow_ood.data import special as special_datasets
from glow_ood.experiments import report

__all__ = ["analyze"]




def _datasets(config, run):
  datasets = list(config.datasets)
  if run is not None:
    own = run.config.data.dataset
    if not datasets or datasets[0] != own:
      datasets = [own] + [d for d in datasets if d != own]
  if len(datasets) < 1:
    raise ValueError("Give at least one dataset (--datasets=p,q,...), or a "
                     "run (--workdir) whose dataset is p.")
  return datasets


def _load(config, datasets, image_shape, run):
  """`{dataset: uint8 images}`: p's train split, the others' test splits."""
  template = config.run_data(run.config.data) if run is not None else (
      config.data)
  sets = data_lib.load_evaluation_sets(
      template.replace(dataset=datasets[0], image_shape=None), datasets[1:],
      splits=("train",), image_shape=image_shape,
      num_examples=config.num_examples)
  images = {name.rsplit("/", 1)[0]: x for name, x in sets.items()}
  return images, tuple(int(d) for d in images[datasets[0]].shape[1:])


def _model_input(mean_pixels_over_256):
  """Mean image (pixels / 256) -> the model's input scale at bin centres.

  An 8-bit pixel k is fed as `(k + 1/2) / 256 - 1/2` (`preprocessing`); only
  8-bit models are analyzed (`analyze` checks).
  """
  return mean_pixels_over_256 + 1. / 512. - 0.5


def _second_order(run, stats, images, config, name_p, output_stream):
  """Predicted vs measured gaps for every q, as JSON-ready dicts."""
  model = run.model
  scorer = likelihood_terms.LikelihoodTermsEvaluator(model, config.batch_size)
  limit = config.num_model_examples
  # Gaps of the discrete log P(image) are those of log p(x): the constant
  # -D n_bits log 2 cancels.
  discrete_log_prob = {name: scorer(data_lib.subsample(x, limit),
                                    description=f"log p(x): {name}",
                                    stream=output_stream).discrete_log_prob
                       for name, x in images.items()}
  weights = second_order.paper_dimension_weights(model.flow)
  x0 = _model_input(stats[name_p].mean).astype(
      model.config.dtype)
  diagonal = None
  if config.hessian_method != "none":
    total = (int(np.prod(x0.shape)) if config.hessian_method == "exact"
             else config.num_probes)
    bar = progress_lib.ProgressBar(
        -(-total // 64), f"Hessian diagonal ({config.hessian_method})",
        output_stream)
    diagonal = second_order.hessian_diagonal(
        model.log_prob, x0, method=config.hessian_method,
        num_probes=config.num_probes, batch_size=64, seed=config.seed,
        progress=lambda done, total: bar.update())
    bar.close()
  results = {}
  for name_q in images:
    if name_q == name_p:
      continue
    paper = second_order.paper_prediction(weights, stats[name_p].variance,
                                          stats[name_q].variance)
    analysis_q = second_order.SecondOrderAnalysis(
        measured_gap=float(np.mean(discrete_log_prob[name_q])
                           - np.mean(discrete_log_prob[name_p])),
        paper_gap=paper["predicted_gap"],
        paper_gap_per_channel=paper["predicted_gap_per_channel"],
        alpha=tuple(paper["alpha"]),
        channel_variance_sums_p=tuple(stats[name_p].channel_variance_sums.tolist()),
        channel_variance_sums_q=tuple(stats[name_q].channel_variance_sums.tolist()),
        num_dims=int(np.prod(x0.shape)),
        hessian_gap=(None if diagonal is None else second_order.hessian_prediction(
            diagonal, stats[name_p].variance, stats[name_q].variance)),
        hessian_method=None if diagonal is None else config.hessian_method,
        first_order=second_order.first_order_term(
            model.log_prob, x0, _model_input(stats[name_p].mean),
            _model_input(stats[name_q].mean)))
    results[name_q] = analysis_q.to_json()
  extra = {}
  if diagonal is not None:
    extra["hessian_diagonal_mean"] = float(np.mean(diagonal))
    extra["hessian_diagonal_per_channel_mean"] = np.mean(
        diagonal, axis=(0, 1)).tolist()
  return results, extra


def _markdown(out):
  lines = [f"# Data analysis: p = {out['p']}\n\n",
           f"Image shape {tuple(out['image_shape'])}; pixels / 256. p is the "
           "train split, the others their test split.\n\n"]
  stats = out["data_statistics"]
  channels = len(next(iter(stats.values()))["channel_variance_sums"])
  lines.append(report.markdown_table(
      ["dataset", "images", "mean of means", "mean variance", "trace",
       "per-channel variance sums", "mean \\|off-diag cov\\|",
       "mean \\|\\|x\\|\\|/sqrt(D)"],
      [[name, s["num_images"], f"{s['mean_of_means']:.4f}",
        f"{s['mean_variance']:.5f}", f"{s['covariance_trace']:.1f}",
        ", ".join(f"{v:.1f}" for v in s["channel_variance_sums"]),
        f"{s['mean_abs_offdiagonal']:.5f}", f"{s['mean_normalized_norm']:.4f}"]
       for name, s in stats.items()]))
  if "second_order" in out:
    lines.append(f"\n## Second-order prediction of E_q[log p(x)] - "
                 f"E_p[log p(x)] (Section 5), run {out['run']['name']} "
                 f"({out['run']['coupling_scale']} coupling)\n\n")
    lines.append("Nats per image (bits/dim in brackets, positive = q gets the "
                 "higher likelihood). Paper: Eq. 6 from the 1x1 kernels "
                 f"(alpha_c, one per input channel: C = {channels}); Hessian: Eq. 5 with the "
                 "model's Hessian diagonal at the mean training image; "
                 "first order: the term the paper drops by assuming equal "
                 "means.\n\n")
    rows = []
    for name, r in out["second_order"].items():
      def cell(key):
        value = r.get(key)
        if value is None:
          return "-"
        return f"{value:.1f} ({r[key + '_bits_per_dim']:+.3f})"
      rows.append([name, cell("measured_gap"), cell("paper_gap"),
                   cell("hessian_gap"), cell("first_order"),
                   ", ".join(f"{a:.2f}" for a in r["alpha"])])
    lines.append(report.markdown_table(
        ["q", "measured", "paper (Eq. 6)", "Hessian (Eq. 5)", "first order",
         "alpha_c"], rows))
    lines.append("\n(bits/dim difference shown as bpd(p) - bpd(q).)\n")
  if "latent_statistics" in out:
    lines.append("\n## Latent codes (Fig. 12-13)\n\n")
    lines.append(report.markdown_table(
        ["dataset", "mean of means", "mean std", "mean \\|\\|z\\|\\|/sqrt(D)"],
        [[name, f"{s['mean_of_means']:.4f}", f"{s['mean_std']:.4f}",
          f"{s['mean_normalized_norm']:.4f}"]
         for name, s in out["latent_statistics"].items()]))
  return "".join(lines)


def analyze(config, output_dir, run=None, stream=None):
  """Computes and writes the analysis; returns the JSON-ready dict."""
  fileio.check_writable(output_dir, "output_dir")
  datasets = _datasets(config, run)
  image_shape = config.image_shape
  if run is not None:
    if image_shape is not None and tuple(image_shape) != tuple(
        run.config.model.image_shape):
      raise ValueError(
          f"image_shape {tuple(image_shape)} differs from the run's model "
          f"shape {tuple(run.config.model.image_shape)}; with a run the data "
          "are conformed to the model: drop image_shape.")
    if not families.of_config(run.config.model).has("decomposition"):
      raise ValueError(
          f"{run.name} is a {run.config.family} run: the second-order analysis "
          f"and the latent statistics need a "
          f"{families.titles_with('decomposition')} (its latents and volume "
          "term). Leave out the run for the data statistics alone.")
    if run.config.model.n_bits != 8:
      raise ValueError(
          f"The second-order analysis works on the paper's pixels/256 scale, "
          f"i.e. 8-bit models; {run.name} has n_bits="
          f"{run.config.model.n_bits}.")
    image_shape = run.config.model.image_shape
  images, image_shape = _load(config, datasets, image_shape, run)
  stats = {}
  for name, x in images.items():
    stats[name] = data_statistics_lib.data_statistics(x, seed=config.seed)
  out = dict(p=datasets[0], image_shape=list(image_shape),
             data_statistics={n: s.summary() for n, s in stats.items()})
  latent = None
  if run is not None:
    out["run"] = dict(name=run.name, workdir=run.workdir, step=run.step,
                      coupling_scale=run.config.model.coupling_scale)
    out["second_order"], extra = _second_order(run, stats, images, config,
                                               datasets[0], stream)
    out.update(extra)
    latent = {}
    limit = config.num_model_examples
    for name, x in images.items():
      latent[name] = latent_statistics_lib.latent_statistics(
          run.model, data_lib.subsample(x, limit), config.batch_size,
          description=f"latent codes: {name}", stream=stream)
    p_images = data_lib.subsample(images[datasets[0]], limit)
    for factor in config.graying_factors:
      latent[f"{datasets[0]} grayed x{factor:g}"] = latent_statistics_lib.latent_statistics(
          run.model, special_datasets.grayed_images(p_images, factor),
          config.batch_size, description=f"latent codes: grayed x{factor:g}",
          stream=stream)
    out["latent_statistics"] = {n: s.summary() for n, s in latent.items()}
  # Staged, then moved in place: a failure leaves output_dir as it was.
  with fileio.staged_outputs(output_dir) as stage:
    figures = _figures(run, datasets, stats, latent,
                       os.path.join(stage, "figures"))
    out["figures"] = {n: [os.path.relpath(p, stage) for p in paths]
                      for n, paths in figures.items()}
    fileio.write_json(os.path.join(stage, "analysis.json"), out)
    fileio.write_text(os.path.join(stage, "analysis.md"), _markdown(out))
  return out


def _figures(run, datasets, stats, latent, figures_dir):
  """Draws the data (and, with `run`, latent) statistics; returns `{name: [png, pdf]}`."""
  figures = {"data_statistics": plots.plot_data_statistics(
      stats, os.path.join(figures_dir, "data_statistics"),
      title=f"Data statistics (pixels / 256), p = {datasets[0]}")}
  if run is None:
    return figures
  figures["latent_statistics"] = plots.plot_latent_statistics(
      {n: dict(mean=s.mean, std=s.std, norm=s.normalized_norm)
       for n, s in latent.items() if "grayed" not in n},
      os.path.join(figures_dir, "latent_statistics"),
      title=f"Latent codes of {run.name}")
  grayed = {n: s for n, s in latent.items()
            if n == datasets[0] or "grayed" in n}
  if len(grayed) > 1:
    figures["latent_statistics_graying"] = plots.plot_latent_statistics(
        {n: dict(mean=s.mean, std=s.std, norm=s.normalized_norm)
         for n, s in grayed.items()},
        os.path.join(figures_dir, "latent_statistics_graying"),
        title=f"Effect of graying on the codes of {run.name}")
  return figures
