"""The flags of `launch/train.py` (and of a run's flags.cfg) and their `TrainConfig`.

Every flag is a field of `GlowConfig`, `DataConfig` or `TrainConfig`, with the
field's default, help, choices and range (`glow_ood.flags._fields`). Renamed:
`GlowConfig.seed` is `--model_seed`, `DataConfig.source` is `--data_source`;
`--n_bits` sets both the model's and the data's, `--seed` both the data's
and the run's.
"""

import os

from absl import flags

from glow_ood import configs
from glow_ood.flags import _fields

__all__ = ["define_train_flags", "to_train_config", "train_flags",
           "train_config_from_flagfile"]

_MODEL = dict(rename={"seed": "model_seed"})
_DATA = dict(exclude=("n_bits", "seed"))
_TRAIN = dict(exclude=("model", "data"))


def define_train_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/train.py` on `flag_values`; returns their names."""
  definer = _fields.Definer(flag_values)
  definer.DEFINE_string(
      "workdir", None, "Run folder: config.json, checkpoints, TensorBoard "
      "events, flags.cfg, results. Re-running with the same workdir resumes.")
  names = ["workdir"]
  for cls, kwargs in ((configs.GlowConfig, _MODEL), (configs.DataConfig, _DATA),
                      (configs.TrainConfig, _TRAIN)):
    names += list(_fields.define_fields(flag_values, cls, **kwargs))
  return tuple(names)


def train_flags(flag_values):
  """`{name: absl Flag}` of the training flags among `flag_values` (for flags.cfg)."""
  names = ["workdir"]
  for cls, kwargs in ((configs.GlowConfig, _MODEL), (configs.DataConfig, _DATA),
                      (configs.TrainConfig, _TRAIN)):
    names += list(_fields.flag_names(cls, **kwargs))
  return {name: flag_values[name] for name in names if name in flag_values}


def to_train_config(flag_values):
  """Parsed flags -> a validated, frozen `TrainConfig`."""
  f = flag_values
  model = configs.GlowConfig(**_fields.field_values(f, configs.GlowConfig,
                                                    **_MODEL))
  data = configs.DataConfig(n_bits=f.n_bits, seed=f.seed,
                            **_fields.field_values(f, configs.DataConfig,
                                                   **_DATA))
  return configs.TrainConfig(model=model, data=data, **_fields.field_values(
      f, configs.TrainConfig, **_TRAIN))


def train_config_from_flagfile(path):
  """The `TrainConfig` a flagfile (e.g. a run's `flags.cfg`) describes.

  Parses the file into a private `FlagValues`, so the process's own `FLAGS`
  are left alone.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"No {path}: is {os.path.dirname(path) or '.'} a run folder written by "
        "launch/train.py? It holds flags.cfg and checkpoints/.")
  values = flags.FlagValues()
  define_train_flags(values)
  values(["flags.cfg", f"--flagfile={path}"])
  return to_train_config(values)
