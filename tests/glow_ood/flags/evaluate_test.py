"""`launch/evaluate.py`'s flags: the run's data, with training's data flags over it."""

from absl import flags

from glow_ood import configs
from glow_ood import flags as glow_flags

RUN = configs.TrainConfig(data=configs.DataConfig(
    dataset="mnist", data_dir="/run/npz", source="npz", pad_to=32))


def _config(*argv):
  values = flags.FlagValues()
  glow_flags.define_evaluate_flags(values)
  values(["evaluate.py", *argv])
  return glow_flags.to_evaluation_config(values, RUN)


def test_without_data_flags_the_run_s_data_are_read():
  assert _config().run_data(RUN.data) == RUN.data


def test_training_s_data_flags_override_where_the_data_come_from():
  config = _config("--data_dir=/here", "--tfds_data_dir=/tfds",
                   "--data_source=tfds", "--tfds_download")
  assert config.run_data(RUN.data) == RUN.data.replace(
      data_dir="/here", tfds_data_dir="/tfds", source="tfds",
      tfds_download=True)
  # What the data are stays the run's.
  assert config.run_data(RUN.data).pad_to == 32
  assert _config("--notfds_download").run_data(RUN.data).tfds_download is False
