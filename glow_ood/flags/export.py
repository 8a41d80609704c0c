"""The flags of `launch/export.py` and their `ExportConfig`."""

from absl import flags

from glow_ood import configs
from glow_ood.flags import _fields
from glow_ood.flags import families

__all__ = ["define_export_flags", "to_export_config"]


def define_export_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/export.py` on `flag_values`."""
  definer = _fields.Definer(flag_values)
  definer.DEFINE_string(
      "workdir", None, "Run folder written by launch/train.py or "
      "glow_ood.train.train (with its config.json).")
  definer.DEFINE_string(
      "output_dir", None, "Folder the SavedModel is written to: new or "
      "empty (an export never overwrites).")
  definer.DEFINE_integer("step", None, "Checkpoint step to export (default: "
                         "the latest).", lower_bound=0)
  families.define_model_module_flag(definer, reads_runs=True)
  definer.DEFINE_bool("use_ema", True, "Export the EMA weights if the run "
                      "kept them.")
  _fields.define_fields(flag_values, configs.ExportConfig)


def to_export_config(flag_values):
  """Parsed export flags -> `ExportConfig`."""
  return configs.ExportConfig(
      **_fields.field_values(flag_values, configs.ExportConfig))
