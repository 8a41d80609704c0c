"""`launch/analyze_data.py`'s flags: with a run, only the data flags given override its data."""

from absl import flags

from glow_ood import configs
from glow_ood import flags as glow_flags

RUN = configs.DataConfig(dataset="mnist", data_dir="/run/npz", source="npz",
                         tfds_data_dir="/run/tfds", pad_to=32)


def _config(*argv):
  values = flags.FlagValues()
  glow_flags.define_analyze_data_flags(values)
  values(["analyze_data.py", *argv])
  return glow_flags.to_analysis_config(values)


def test_with_a_run_its_data_settings_apply():
  assert _config().run_data(RUN) == RUN
  # Shape flags are the run-less analysis's; a run keeps its own.
  assert _config("--pad_to=0", "--to_rgb").run_data(RUN) == RUN


def test_data_flags_given_override_the_run_s_even_at_their_defaults():
  config = _config("--data_source=auto", "--tfds_data_dir=/tfds",
                   "--notfds_download")
  assert config.data_overrides == ("tfds_data_dir", "source", "tfds_download")
  assert config.run_data(RUN) == RUN.replace(source="auto",
                                             tfds_data_dir="/tfds")
  assert _config("--data_dir=/here").run_data(RUN) == RUN.replace(
      data_dir="/here")


def test_python_callers_data_dir_still_applies_to_a_run():
  config = configs.AnalysisConfig(data=configs.DataConfig(data_dir="/x"))
  assert config.run_data(RUN) == RUN.replace(data_dir="/x")


def test_split_flags_shape_a_run_less_analysis_and_a_run_keeps_its_own():
  config = _config("--datasets=svhn_cropped,cifar10_jpeg",
                   "--train_split=test[:9000]", "--test_split=test[9000:]")
  assert (config.data.train_split, config.data.test_split) == (
      "test[:9000]", "test[9000:]")
  assert config.run_data(RUN) == RUN
