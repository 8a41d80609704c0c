"""The flags of `launch/train.py` (and of a run's flags.cfg) and their `TrainConfig`.

Every flag is a field of `GlowConfig`, `PixelCNNConfig`, `VAEConfig`,
`DataConfig` or `TrainConfig`, with the field's default, help, choices and
range (`glow_ood.flags._fields`), except `--model`, the family
(`glow|pixelcnn|vae`), which picks the model config. The fields all families
share (`--image_shape`, `--n_bits`, `--dtype`, `--model_seed`) have one flag
each; the PixelCNN's and the VAE's own flags are prefixed (`--pixelcnn_*`,
`--vae_*`), Glow's are not (`--num_levels`, ...). A flag of another family
than `--model`'s is refused, not ignored, unless it is at its default.
Renamed: the model's `seed` is `--model_seed`, `DataConfig.source` is `--data_source`; `--n_bits` sets both
the model's and the data's, `--seed` both the data's and the run's.
"""

import os

from absl import flags

from glow_ood import configs
from glow_ood.flags import _fields
from glow_ood.flags import families

__all__ = ["define_train_flags", "to_train_config", "train_flags",
           "train_config_from_flagfile"]

_MODEL = dict(rename={"seed": "model_seed"})
# Fields every model family has: their flags are defined once, from GlowConfig.
_SHARED = ("image_shape", "n_bits", "dtype", "seed")
_OTHER_MODEL = dict(exclude=_SHARED)
_DATA = dict(exclude=("n_bits", "seed"))
_TRAIN = dict(exclude=("model", "data"))
_FAMILY_CLASSES = (("glow", configs.GlowConfig, _MODEL),
                   ("pixelcnn", configs.PixelCNNConfig, _OTHER_MODEL),
                   ("vae", configs.VAEConfig, _OTHER_MODEL))


def _flag_sets():
  """`(config class, flag-name selection)` of every config with flags."""
  return [(cls, kwargs) for _, cls, kwargs in _FAMILY_CLASSES] + [
      (configs.DataConfig, _DATA), (configs.TrainConfig, _TRAIN)]


def define_train_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/train.py` on `flag_values`; returns their names."""
  definer = _fields.Definer(flag_values)
  definer.DEFINE_string(
      "workdir", None, "Run folder: config.json, checkpoints, TensorBoard "
      "events, flags.cfg, results. Re-running with the same workdir resumes.")
  definer.DEFINE_enum(
      "model", "glow", list(configs.FAMILIES),
      "Model family: glow (flags --num_levels, ...), pixelcnn (PixelCNN++, "
      "flags --pixelcnn_*) or vae (flags --vae_*).")
  names = ["workdir", "model"]
  for cls, kwargs in _flag_sets():
    names += list(_fields.define_fields(flag_values, cls, **kwargs))
  return tuple(names)


def train_flags(flag_values):
  """`{name: absl Flag}` of the run's training flags among `flag_values` (for flags.cfg).

  The flags of `--model`'s family only (and the shared, data and training
  flags), so the file relaunches the same run without another family's.
  """
  family = flag_values["model"].value if "model" in flag_values else "glow"
  names = ["workdir", "model"]
  for cls, kwargs in _flag_sets():
    if cls is configs.GlowConfig and family != "glow":
      kwargs = dict(kwargs, only=_SHARED)
    elif cls in (configs.PixelCNNConfig, configs.VAEConfig) and (
        cls.family != family):
      continue
    names += list(_fields.flag_names(cls, **kwargs))
  return {name: flag_values[name] for name in names if name in flag_values}


def to_train_config(flag_values):
  """Parsed flags -> a validated, frozen `TrainConfig`."""
  f = flag_values
  family = f.model if "model" in f else "glow"
  classes = {name: (cls, kwargs) for name, cls, kwargs in _FAMILY_CLASSES}
  families.refuse_other_family_flags(f, family, {
      name: _fields.flag_names(cls, **dict(kwargs, exclude=_SHARED))
      for name, (cls, kwargs) in classes.items()})
  cls, kwargs = classes[family]
  shared = _fields.field_values(f, configs.GlowConfig, only=_SHARED, **_MODEL)
  model = cls(**shared, **_fields.field_values(
      f, cls, **dict(kwargs, exclude=_SHARED)))
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
