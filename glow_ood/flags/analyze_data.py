"""The flags of `launch/analyze_data.py` and their `AnalysisConfig`."""

from absl import flags

from glow_ood import configs
from glow_ood.flags import _fields

__all__ = ["define_analyze_data_flags", "to_analysis_config"]

# The data settings of a run-less analysis (with a run, the run's own apply).
_DATA = dict(only=("data_dir", "source", "pad_to", "to_rgb"))
_ANALYSIS = dict(exclude=("data",))


def define_analyze_data_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/analyze_data.py` on `flag_values`."""
  definer = _fields.Definer(flag_values)
  definer.DEFINE_string(
      "workdir", None, "A trained run (ideally --coupling_scale=additive, as "
      "the paper's CV-Glow): adds the second-order prediction and latent-code "
      "statistics.")
  definer.DEFINE_string("output_dir", None,
                        "Default: <workdir>/analysis, or runs/analysis_<p>.")
  _fields.define_fields(flag_values, configs.AnalysisConfig, **_ANALYSIS)
  _fields.define_fields(flag_values, configs.DataConfig, **_DATA)


def to_analysis_config(flag_values):
  """Parsed analyze_data flags -> `AnalysisConfig`."""
  data = _fields.field_values(flag_values, configs.DataConfig, **_DATA)
  values = _fields.field_values(flag_values, configs.AnalysisConfig,
                                **_ANALYSIS)
  return configs.AnalysisConfig(data=configs.DataConfig(**data), **values)
