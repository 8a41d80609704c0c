"""Tests of `glow_ood.plots`: files written, shared bins, densities, event files, errors."""

import os
import types

import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest
import tensorflow as tf

from glow_ood.data import transforms
from glow_ood.plots import common
from glow_ood.plots import graying
from glow_ood.plots import histograms
from glow_ood.plots import samples
from glow_ood.plots import statistics
from glow_ood.plots import training_curves

plt = common.plt


def _assert_png_and_pdf(paths, stem):
  assert paths == [str(stem) + ".png", str(stem) + ".pdf"]
  with open(paths[0], "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  with open(paths[1], "rb") as f:
    assert f.read(5) == b"%PDF-"
  assert os.path.getsize(paths[0]) > 1000 and os.path.getsize(paths[1]) > 1000
  assert not plt.get_fignums()   # every figure was closed


def test_backend_is_agg():
  assert matplotlib.get_backend().lower() == "agg"


@pytest.mark.parametrize("suffix", ["", ".png", ".pdf"])
def test_save_figure_strips_suffix_and_makes_folders(tmp_path, suffix):
  fig, ax = plt.subplots()
  ax.plot([0, 1], [1, 0])
  paths = common.save_figure(fig, tmp_path / "new" / f"figure{suffix}")
  _assert_png_and_pdf(paths, tmp_path / "new" / "figure")


def test_save_figure_replaces_atomically(tmp_path, monkeypatch):
  fig, ax = plt.subplots()
  ax.plot([0, 1], [1, 0])
  common.save_figure(fig, tmp_path / "figure")
  assert sorted(os.listdir(tmp_path)) == ["figure.pdf", "figure.png"]
  before = {n: (tmp_path / n).read_bytes() for n in os.listdir(tmp_path)}
  # A figure whose drawing fails half-way leaves the previous files intact
  # and no temporary file behind.
  fig, ax = plt.subplots()
  ax.plot([0, 1], [0, 1])
  savefig = fig.savefig

  def fail_on_pdf(path, **kwargs):
    if kwargs.get("format") == "pdf":
      with open(path, "wb") as f:
        f.write(b"%PDF-half")
      raise OSError("disk full")
    return savefig(path, **kwargs)

  monkeypatch.setattr(fig, "savefig", fail_on_pdf)
  with pytest.raises(OSError, match="disk full"):
    common.save_figure(fig, tmp_path / "figure")
  assert sorted(os.listdir(tmp_path)) == ["figure.pdf", "figure.png"]
  assert (tmp_path / "figure.pdf").read_bytes() == before["figure.pdf"]
  assert not plt.get_fignums()


def test_colors_follow_the_paper_then_stay_distinct():
  names = ["cifar10/train", "cifar10/test", "svhn/test", "celeba/test"]
  colors = common.assign_colors(names)
  assert [colors[n] for n in names[:3]] == ["black", "blue", "red"]
  assert len(set(colors.values())) == 4


def test_more_sets_than_the_paper_palette_get_distinct_colours():
  # A CIFAR-10 report scores 2 + 12 sets (each OOD set raw and as JPEG).
  for count in (len(common.PAPER_COLORS) + 1, 30):
    colors = common.assign_colors([f"set{i}/test" for i in range(count)])
    assert len(set(colors.values())) == count
  assert common.assign_colors(["a", "b"], {"b": "g", "a": "k", "c": "r"}) == {
      "a": "k", "b": "g"}
  with pytest.raises(ValueError, match=r"no entry for \['b'\]"):
    common.assign_colors(["a", "b"], {"a": "k"})
  with pytest.raises(ValueError, match="no matplotlib colour"):
    common.assign_colors(["a"], ["not-a-colour"])
  with pytest.raises(ValueError, match="only 1 colors"):
    common.assign_colors(["a", "b"], ["k"])


def _bar_containers(ax):
  return [c for c in ax.containers if c.patches]


def test_histograms_share_bin_edges_and_are_densities():
  rng = np.random.default_rng(0)
  values = {"train": rng.normal(-10., 1., 300),
            "test": rng.normal(-10., 1., 100),
            "ood": rng.normal(-5., 0.5, 200)}
  fig, ax = plt.subplots()
  edges = histograms.draw_histograms(ax, values, bins=20)
  union = np.concatenate(list(values.values()))
  np.testing.assert_allclose(edges, np.linspace(union.min(), union.max(), 21))
  containers = _bar_containers(ax)
  assert len(containers) == 3
  for (name, v), container, color in zip(values.items(), containers,
                                         ["black", "blue", "red"]):
    lefts = np.array([r.get_x() for r in container.patches])
    widths = np.array([r.get_width() for r in container.patches])
    heights = np.array([r.get_height() for r in container.patches])
    np.testing.assert_allclose(lefts, edges[:-1])          # the same bins
    np.testing.assert_allclose(widths, np.diff(edges))
    np.testing.assert_allclose(np.sum(heights * widths), 1.)   # a density
    counts, _ = np.histogram(v, edges)
    np.testing.assert_allclose(heights, counts / (len(v) * np.diff(edges)))
    np.testing.assert_allclose(container.patches[0].get_facecolor()[:3],
                               matplotlib.colors.to_rgb(color))
  assert ax.get_legend_handles_labels()[1] == list(values)
  plt.close(fig)


def test_non_finite_values_are_dropped_counted_and_warned():
  values = {"a": np.array([1., np.nan, 2., np.inf, -np.inf, 3.]),
            "b": np.array([0., 4.])}
  fig, ax = plt.subplots()
  with pytest.warns(UserWarning, match="'a': 3 of 6 non-finite"):
    edges = histograms.draw_histograms(ax, values, bins=4)
  np.testing.assert_allclose(edges, [0., 1., 2., 3., 4.])
  assert ax.get_legend_handles_labels()[1] == [
      "a (3 non-finite dropped)", "b"]
  heights = [r.get_height() for r in _bar_containers(ax)[0].patches]
  np.testing.assert_allclose(heights, [0., 1 / 3, 1 / 3, 1 / 3])
  plt.close(fig)


def test_values_outside_given_edges_are_counted():
  fig, ax = plt.subplots()
  edges = histograms.draw_histograms(ax, {"a": [0.5, 1.5, 7.]}, bins=[0., 1., 2.])
  np.testing.assert_allclose(edges, [0., 1., 2.])
  assert ax.get_legend_handles_labels()[1] == ["a (1 outside the bins)"]
  plt.close(fig)


def test_plot_log_prob_histograms_writes_png_and_pdf(tmp_path):
  rng = np.random.default_rng(1)
  values = {"notmnist/train": rng.normal(-2000., 200., 500),
            "notmnist/test": rng.normal(-1900., 200., 100),
            "mnist/test": rng.normal(-2500., 300., 100)}
  paths = histograms.plot_log_prob_histograms(
      values, tmp_path / "figure2a.pdf", title="Train on NotMNIST")
  _assert_png_and_pdf(paths, tmp_path / "figure2a")


def test_decomposition_histograms(tmp_path):
  rng = np.random.default_rng(2)
  log_prob_z = {"cifar10/test": rng.normal(-3000., 50., 64),
                "svhn/test": rng.normal(-3100., 50., 64)}
  log_det = {"svhn/test": rng.normal(500., 20., 64),
             "cifar10/test": np.full(64, 400.)}   # constant volume: one value
  paths = histograms.plot_decomposition_histograms(
      log_prob_z, log_det, tmp_path / "figure4")
  _assert_png_and_pdf(paths, tmp_path / "figure4")
  with pytest.raises(ValueError, match=r"only in log_det: \['svhn/test'\]"):
    histograms.plot_decomposition_histograms(
        {"cifar10/test": log_prob_z["cifar10/test"]}, log_det, tmp_path / "x")
  with pytest.raises(ValueError, match="64 log_prob_z values but 63"):
    histograms.plot_decomposition_histograms(
        log_prob_z, dict(log_det, **{"svhn/test": np.zeros(63)}),
        tmp_path / "x")
  assert not plt.get_fignums()


@pytest.mark.parametrize("bins, message", [
    (0, "positive int"), (2.5, "positive int"), (True, "positive int"),
    ("best", "must be one of"), ([0., 2., 1.], "strictly increasing"),
    ([1.], "strictly increasing")])
def test_bad_bins(bins, message):
  with pytest.raises(ValueError, match=message):
    histograms.bin_edges([np.arange(3.)], bins)


def test_bad_histogram_inputs(tmp_path):
  with pytest.raises(ValueError, match="empty"):
    histograms.plot_log_prob_histograms({}, tmp_path / "x")
  with pytest.raises(ValueError, match="mapping"):
    histograms.plot_log_prob_histograms([np.zeros(3)], tmp_path / "x")
  with pytest.raises(ValueError, match="'a' has no finite values"):
    histograms.plot_log_prob_histograms({"a": [np.nan]}, tmp_path / "x")
  with pytest.raises(ValueError, match="'a' has no values"):
    histograms.plot_log_prob_histograms({"a": []}, tmp_path / "x")
  assert not plt.get_fignums() and not os.listdir(tmp_path)


def _write(logdir, scalars, image_tag=None):
  """One event file: `scalars` = {tag: {step: value}}, plus an image summary."""
  writer = tf.summary.create_file_writer(str(logdir))
  with writer.as_default():
    for tag, by_step in scalars.items():
      for step, value in by_step.items():
        tf.summary.scalar(tag, value, step=step)
    if image_tag:
      tf.summary.image(image_tag, tf.zeros([1, 2, 2, 1]), step=0)
  writer.close()


def test_read_scalars_round_trip_two_files_later_steps_win(tmp_path):
  _write(tmp_path, {"bits_per_dim/a/test": {s: 0.5 * s for s in range(5)},
                    "loss": {0: 3., 2: 1.}}, image_tag="samples")
  # A resumed run re-logs steps 3 and 4 into a second, later file.
  _write(tmp_path, {"bits_per_dim/a/test": {s: 10. + s for s in (3, 4, 5)},
                    "bits_per_dim/b/test": {4: 0.25}})
  assert len(os.listdir(tmp_path)) == 2
  scalars = training_curves.read_scalars(tmp_path)
  assert sorted(scalars) == ["bits_per_dim/a/test", "bits_per_dim/b/test",
                             "loss"]   # the image summary is skipped
  steps, values = scalars["bits_per_dim/a/test"]
  assert steps.dtype == np.int64 and values.dtype == np.float64
  np.testing.assert_array_equal(steps, [0, 1, 2, 3, 4, 5])
  np.testing.assert_array_equal(values, [0., 0.5, 1., 13., 14., 15.])
  np.testing.assert_array_equal(scalars["loss"][0], [0, 2])
  np.testing.assert_array_equal(scalars["loss"][1], [3., 1.])
  only_bpd = training_curves.read_scalars(tmp_path, tag_prefix="bits_per_dim/")
  assert sorted(only_bpd) == ["bits_per_dim/a/test", "bits_per_dim/b/test"]
  np.testing.assert_array_equal(only_bpd["bits_per_dim/b/test"][1], [0.25])


def test_read_scalars_stops_at_a_truncated_record(tmp_path):
  _write(tmp_path, {"x": {s: float(s) for s in range(4)}})
  path = os.path.join(tmp_path, os.listdir(tmp_path)[0])
  with open(path, "rb") as f:
    data = f.read()
  with open(path, "wb") as f:
    f.write(data[:-10])   # the last record half written
  with pytest.warns(UserWarning, match="truncated"):
    steps, values = training_curves.read_scalars(tmp_path)["x"]
  np.testing.assert_array_equal(steps, [0, 1, 2])
  np.testing.assert_array_equal(values, [0., 1., 2.])


def test_read_scalars_errors(tmp_path):
  os.makedirs(tmp_path / "empty")
  with pytest.raises(FileNotFoundError, match="No TensorBoard event files.*empty"):
    training_curves.read_scalars(tmp_path / "empty")
  with pytest.raises(FileNotFoundError, match="missing"):
    training_curves.read_scalars(tmp_path / "missing")
  _write(tmp_path, {"loss": {0: 1.}})
  with pytest.raises(ValueError, match=r"'bpd'.*found: \['loss'\]"):
    training_curves.read_scalars(tmp_path, tag_prefix="bpd")


def test_plot_training_curves(tmp_path):
  steps = np.arange(0, 1000, 100)
  curves = {"cifar train": (steps, 4. - steps / 1000.),
            "cifar test": (steps, 4.1 - steps / 1000.),
            "svhn test": (steps, 3. - steps / 1000.)}
  paths = training_curves.plot_training_curves(curves, tmp_path / "figure5b")
  _assert_png_and_pdf(paths, tmp_path / "figure5b")
  with pytest.raises(ValueError, match="3 values for 10 steps"):
    training_curves.plot_training_curves({"a": (steps, [1., 2., 3.])},
                                         tmp_path / "x")
  with pytest.raises(ValueError, match="pair"):
    training_curves.plot_training_curves({"a": (steps, steps, steps)},
                                         tmp_path / "x")
  with pytest.raises(ValueError, match="steps must be finite"):
    training_curves.plot_training_curves({"a": ([0., np.nan], [1., 2.])},
                                         tmp_path / "x")


def test_plot_graying(tmp_path):
  factors = [1., 0.75, 0.5, 0.25]
  values = {"cifar10": [3.4, 3.0, 2.5, 1.9], "svhn": [2.4, 2.1, 1.7, np.nan]}
  with pytest.warns(UserWarning, match="'svhn': 1 of 4"):
    paths = graying.plot_graying(factors, values, tmp_path / "figure6c")
  _assert_png_and_pdf(paths, tmp_path / "figure6c")
  with pytest.raises(ValueError, match="'svhn' has 3 values for 4 factors"):
    graying.plot_graying(factors, {"svhn": [1., 2., 3.]}, tmp_path / "x")
  with pytest.raises(ValueError, match="distinct"):
    graying.plot_graying([1., 1.], {"a": [1., 2.]}, tmp_path / "x")
  with pytest.raises(ValueError, match="empty"):
    graying.plot_graying(factors, {}, tmp_path / "x")


def _data_stats(rng, scale):
  return {"mean": rng.uniform(0.4, 0.6, 48),
          "variance": np.full(48, 0.05 * scale),
          "covariance_offdiagonal": rng.normal(0.02, 0.01, 200),
          "normalized_norm": rng.uniform(0.3, 0.7, 100)}


def test_data_statistics_panels_and_figure(tmp_path):
  rng = np.random.default_rng(3)
  stats = {"cifar10": _data_stats(rng, 1.), "svhn": _data_stats(rng, 0.5)}
  panels = statistics.data_statistics_panels(stats)
  assert [xlabel for _, xlabel in panels] == list(statistics.DATA_STATISTICS.values())
  # The trace of the covariance = sum of the per-dimension variances.
  assert list(panels[1][0]) == ["cifar10 (Tr = 2.4)", "svhn (Tr = 1.2)"]
  paths = statistics.plot_data_statistics(stats, tmp_path / "figure11")
  _assert_png_and_pdf(paths, tmp_path / "figure11")
  del stats["svhn"]["normalized_norm"]
  stats["svhn"]["norm"] = np.ones(3)
  with pytest.raises(ValueError, match=r"'svhn'\] lacks \['normalized_norm'\]"):
    statistics.plot_data_statistics(stats, tmp_path / "x")


def test_latent_statistics_panels_and_figure(tmp_path):
  rng = np.random.default_rng(4)
  stats = {name: {"mean": rng.normal(0., 0.05, 48), "std": np.full(48, std),
                  "norm": rng.uniform(0.5, 1.5, 100)}
           for name, std in (("cifar10", 1.), ("svhn", 0.5))}
  panels = statistics.latent_statistics_panels(stats)
  # Tr = sum_d std_d^2: 48 * 1 and 48 * 0.25.
  assert list(panels[1][0]) == ["cifar10 (Tr = 48)", "svhn (Tr = 12)"]
  paths = statistics.plot_latent_statistics(stats, tmp_path / "figure12")
  _assert_png_and_pdf(paths, tmp_path / "figure12")
  # Objects with the statistics as attributes work too; other fields ignored.
  as_objects = {name: types.SimpleNamespace(num_images=100, **entry)
                for name, entry in stats.items()}
  assert list(statistics.latent_statistics_panels(as_objects)[1][0]) == [
      "cifar10 (Tr = 48)", "svhn (Tr = 12)"]
  with pytest.raises(ValueError, match="stats is empty"):
    statistics.plot_latent_statistics({}, tmp_path / "x")
  with pytest.raises(ValueError, match=r"lacks \['std'\]"):
    statistics.plot_latent_statistics(
        {"a": types.SimpleNamespace(mean=[0.], norm=[1.])}, tmp_path / "x")


@pytest.mark.parametrize("channels", [1, 3])
def test_sample_grid_png_holds_exactly_the_images(tmp_path, channels):
  rng = np.random.default_rng(channels)
  images = rng.integers(0, 256, (5, 7, 6, channels), dtype=np.uint8)
  paths = samples.save_sample_grid(images, tmp_path / "figure14", num_columns=3)
  _assert_png_and_pdf(paths, tmp_path / "figure14")
  png = np.round(matplotlib.image.imread(paths[0])[..., :3] * 255.)
  grid = transforms.image_grid(images, 3)[0]     # [2 * 7, 3 * 6, C]
  scale = int(np.ceil(samples.MIN_SIDE_PIXELS / 18))
  assert png.shape == (14 * scale, 18 * scale, 3)
  expected = np.repeat(np.repeat(grid, scale, 0), scale, 1)
  np.testing.assert_array_equal(png, np.broadcast_to(expected, png.shape))
  # Cell 6 (row 1, column 2) is empty: black.
  assert not png[7 * scale:, 12 * scale:].any()


def test_sample_grid_with_title_and_errors(tmp_path):
  images = np.full((4, 28, 28, 1), 200, np.uint8)
  paths = samples.save_sample_grid(images, tmp_path / "s", title="MNIST")
  _assert_png_and_pdf(paths, tmp_path / "s")
  png = matplotlib.image.imread(paths[0])
  assert png.shape[0] > png.shape[1]   # the title band on top of a square grid
  with pytest.raises(TypeError, match="to_uint8"):
    samples.save_sample_grid(images.astype(np.float32), tmp_path / "x")
  with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
    samples.save_sample_grid(images[..., 0], tmp_path / "x")
  with pytest.raises(ValueError, match="num_columns"):
    samples.save_sample_grid(images, tmp_path / "x", num_columns=0)
