"""`glow_ood.train.hparams.write_experiment`: the HParams columns of a folder of runs.

Two run folders are written without training (tensorboard_runs.py): a Glow and
a PixelCNN at other learning rates and evaluation sets.
"""

import os

import pytest
from tensorboard.plugins.hparams import metadata as hparams_metadata

from glow_ood import configs
from glow_ood.train import hparams
from tests.glow_ood.train.recording import tiny_config
from tests.glow_ood.train.tensorboard_runs import read_events
from tests.glow_ood.train.tensorboard_runs import write_fake_run


def _two_runs(logdir):
  glow = tiny_config(logdir)
  pixelcnn = glow.replace(
      model=configs.PixelCNNConfig(image_shape=(8, 8, 1), num_resnet=1,
                                   num_hierarchies=1, num_filters=8),
      learning_rate=1e-3)
  write_fake_run(str(logdir / "glow"), glow, sets=("toy/test", "mnist/test"))
  write_fake_run(str(logdir / "group" / "pixelcnn"), pixelcnn)
  return glow, pixelcnn


def _experiment(logdir):
  files = [n for n in os.listdir(logdir) if n.endswith(".experiment.v2")]
  assert len(files) == 1, files
  metadata, _ = read_events(logdir)["."][hparams_metadata.EXPERIMENT_TAG]
  return hparams_metadata.parse_experiment_plugin_data(
      metadata.plugin_data.content)


def test_experiment_has_the_union_of_the_runs_hparams_and_bits_per_dim_metrics(
    tmp_path):
  glow, pixelcnn = _two_runs(tmp_path)
  assert hparams.write_experiment(str(tmp_path)) == ["glow",
                                                     "group/pixelcnn"]
  experiment = _experiment(tmp_path)
  infos = {info.name: info for info in experiment.hparam_infos}
  assert set(hparams.flatten(glow)) | set(hparams.flatten(pixelcnn)) == set(
      infos)
  assert [v.string_value for v in infos["model.family"].domain_discrete.values
          ] == ["glow", "pixelcnn"]
  interval = infos["learning_rate"].domain_interval
  assert (interval.min_value, interval.max_value) == pytest.approx((1e-3,
                                                                    3e-3))
  assert "model.num_filters" in infos and "model.hidden_width" in infos
  metrics = {(m.name.group, m.name.tag): m for m in experiment.metric_infos}
  assert sorted(metrics) == [("eval_sets/mnist/test", "bits_per_dim"),
                             ("eval_sets/toy/test", "bits_per_dim"),
                             ("train", "bits_per_dim")]
  assert "Bits per dimension" in metrics[("train", "bits_per_dim")].description

  # Written again (more runs), it replaces its file.
  write_fake_run(str(tmp_path / "third"), glow.replace(learning_rate=1e-2))
  hparams.write_experiment(str(tmp_path))
  interval = {i.name: i for i in _experiment(tmp_path).hparam_infos}[
      "learning_rate"].domain_interval
  assert interval.max_value == pytest.approx(1e-2)


def test_a_folder_without_runs_is_an_error(tmp_path):
  with pytest.raises(FileNotFoundError, match="No training run"):
    hparams.write_experiment(str(tmp_path))
