"""The flags of `launch/analyze_data.py` and their `AnalysisConfig`."""

from absl import flags

from glow_ood import configs
from glow_ood.configs.evaluate import DATA_LOCATION_FIELDS
from glow_ood.flags import _fields
from glow_ood.flags import families

__all__ = ["define_analyze_data_flags", "to_analysis_config"]

# The data settings of a run-less analysis; with a run, the run's own apply,
# but for where the data are read from (DATA_LOCATION_FIELDS) when given.
_DATA = dict(only=DATA_LOCATION_FIELDS + ("pad_to", "to_rgb", "train_split",
                                          "test_split"))
_ANALYSIS = dict(exclude=("data", "data_overrides"))


def define_analyze_data_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/analyze_data.py` on `flag_values`."""
  definer = _fields.Definer(flag_values)
  definer.DEFINE_string(
      "workdir", None, "A trained run (ideally --coupling_scale=additive, as "
      "the paper's CV-Glow): adds the second-order prediction and latent-code "
      "statistics.")
  definer.DEFINE_string("output_dir", None,
                        "Default: <workdir>/analysis, or runs/analysis_<p>.")
  families.define_model_module_flag(definer, reads_runs=True)
  _fields.define_fields(flag_values, configs.AnalysisConfig, **_ANALYSIS)
  _fields.define_fields(
      flag_values, configs.DataConfig, group="data (with --workdir: the "
      "run's, from its config.json, but for --data_dir, --tfds_data_dir, "
      "--data_source and --tfds_download when given)", **_DATA)


def to_analysis_config(flag_values):
  """Parsed analyze_data flags -> `AnalysisConfig`."""
  data = _fields.field_values(flag_values, configs.DataConfig, **_DATA)
  values = _fields.field_values(flag_values, configs.AnalysisConfig,
                                **_ANALYSIS)
  given = tuple(field for name, field in _fields.flag_names(
      configs.DataConfig, only=DATA_LOCATION_FIELDS).items()
                if flag_values[name].present)
  return configs.AnalysisConfig(data=configs.DataConfig(**data),
                                data_overrides=given, **values)
