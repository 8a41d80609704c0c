"""The flags of `launch/train.py` (and of a run's flags.cfg) and their `TrainConfig`.

Every flag is a field of a model family's config, of `DataConfig` or of
`TrainConfig`, with the field's default, help, choices and range
(`glow_ood.flags._fields`), except `--model`, the family (one of
`glow_ood.configs.families`), which picks the model config, and
`--model_module` (`glow_ood.flags.families`). The fields all families share
(`--image_shape`, `--n_bits`, `--dtype`, `--model_seed`) have one flag each,
defined from the default family's config; each family's own flags carry its
prefix (`--pixelcnn_*`, `--vae_*`; Glow's have none: `--num_levels`, ...). A
flag of another family than `--model`'s is refused, not ignored, unless it is
at its default. Renamed: the model's `seed` is `--model_seed`,
`DataConfig.source` is `--data_source`; `--n_bits` sets both the model's and
the data's, `--seed` both the data's and the run's.
"""

import os

from absl import flags

from glow_ood import configs
from glow_ood.configs import families
from glow_ood.flags import _fields
from glow_ood.flags import families as family_flags

__all__ = ["define_train_flags", "to_train_config", "train_flags",
           "train_config_from_flagfile"]

# The shared fields' flags, defined once from the default family's config.
_SHARED = dict(only=families.SHARED_FIELDS, rename={"seed": "model_seed"})
_DATA = dict(exclude=("n_bits", "seed"))
_TRAIN = dict(exclude=("model", "data"))


def _flag_sets(family=None):
  """`(config class, flag-name selection)` of every config with flags.

  Args:
    family: a family's name: its own fields' flags only, no other family's.
  """
  shared = [(families.get(families.DEFAULT).config_class, _SHARED)]
  own = [(f.config_class, family_flags.family_selection(f))
         for f in families.all_families() if family in (None, f.name)]
  return shared + own + [(configs.DataConfig, _DATA),
                         (configs.TrainConfig, _TRAIN)]


def define_train_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/train.py` on `flag_values`; returns their names."""
  definer = _fields.Definer(flag_values)
  definer.DEFINE_string(
      "workdir", None, "Run folder: config.json, checkpoints, TensorBoard "
      "events, flags.cfg, results. Re-running with the same workdir resumes.")
  family_flags.define_model_flags(definer, "Model family: " + ", ".join(
      f"{f.name} ({f.title}, flags {_prefix_text(f)})"
      for f in families.all_families()) + ".")
  names = ["workdir", "model", "model_module"]
  for cls, kwargs in _flag_sets():
    names += list(_fields.define_fields(flag_values, cls, **kwargs))
  return tuple(names)


def _prefix_text(family):
  names = family_flags.own_flag_names(family)
  if family.flag_prefix:
    return f"--{family.flag_prefix}*"
  return f"--{names[0]}, ..." if names else "none"


def train_flags(flag_values):
  """`{name: absl Flag}` of the run's training flags among `flag_values` (for flags.cfg).

  The flags of `--model`'s family only (and `--model_module`, the shared,
  data and training flags), so the file relaunches the same run without
  another family's.
  """
  family = (flag_values["model"].value if "model" in flag_values
            else families.DEFAULT)
  names = ["workdir", "model", "model_module"]
  for cls, kwargs in _flag_sets(family):
    names += list(_fields.flag_names(cls, **kwargs))
  return {name: flag_values[name] for name in names if name in flag_values}


def to_train_config(flag_values):
  """Parsed flags -> a validated, frozen `TrainConfig`."""
  f = flag_values
  family = families.get(f.model if "model" in f else families.DEFAULT)
  family_flags.refuse_other_family_flags(f, family.name)
  shared = _fields.field_values(
      f, families.get(families.DEFAULT).config_class, **_SHARED)
  model = family.config_class(**shared, **_fields.field_values(
      f, family.config_class, **family_flags.family_selection(family)))
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
  with open(path, encoding="utf-8") as f:   # its families first
    family_flags.import_model_modules([line.strip() for line in f])
  values = flags.FlagValues()
  define_train_flags(values)
  values(["flags.cfg", f"--flagfile={path}"])
  return to_train_config(values)
