"""The flags of `launch/two_moons.py` and their `TwoMoonsConfig`."""

from absl import flags

from glow_ood import configs
from glow_ood.flags import _fields

__all__ = ["define_two_moons_flags", "to_two_moons_config"]


def define_two_moons_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/two_moons.py` on `flag_values`."""
  definer = _fields.Definer(flag_values)
  definer.DEFINE_string(
      "output_dir", None, "Folder for results.json and "
      "limiting_bounds.png/.pdf. Re-running with the same folder resumes.")
  _fields.define_fields(flag_values, configs.TwoMoonsConfig)


def to_two_moons_config(flag_values):
  """Parsed two_moons flags -> `TwoMoonsConfig`."""
  return configs.TwoMoonsConfig(**_fields.field_values(
      flag_values, configs.TwoMoonsConfig))
