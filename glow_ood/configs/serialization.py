"""Configs <-> JSON-ready dicts with a format version (a run's `config.json`).

    text = json.dumps(to_dict(config))        # {"format_version": 1,
                                              #  "type": "TrainConfig",
                                              #  "config": {...}}
    config == from_dict(json.loads(text))     # True: validated again

Nested configs are rebuilt from the field annotations, JSON lists become
tuples, a model config (`TrainConfig.model`, any registered family's)
records its family in a `"family"` key (absent in files written before there
were several families: those are `families.DEFAULT`'s) and, for a family
registered from outside glow_ood, the module that registers it in
`"module"` (imported again when read, `families.get`), and an unknown type,
field, family or format version raises with the fix, so a config written by
another version of glow_ood is never misread.
"""

import dataclasses
import typing

from glow_ood.configs import analyze
from glow_ood.configs import data
from glow_ood.configs import evaluate
from glow_ood.configs import families
from glow_ood.configs import ood_benchmark
from glow_ood.configs import train
from glow_ood.configs import two_moons

__all__ = ["FORMAT_VERSION", "to_dict", "from_dict", "config_types"]

FORMAT_VERSION = 1


def config_types():
  """`{name: class}` of every config that can be serialized (every family's too)."""
  classes = tuple(f.config_class for f in families.all_families()) + (
      data.DataConfig, train.TrainConfig,
      evaluate.EvaluationConfig, analyze.AnalysisConfig,
      ood_benchmark.BenchmarkConfig, two_moons.TwoMoonsConfig)
  return {cls.__name__: cls for cls in classes}


def to_dict(config):
  """`{"format_version", "type", "config"}` of a config dataclass (JSON-ready)."""
  if type(config).__name__ not in config_types():
    raise TypeError(f"to_dict takes a glow_ood config; got "
                    f"{type(config).__name__}.")
  return {"format_version": FORMAT_VERSION, "type": type(config).__name__,
          "config": {f.name: _plain(getattr(config, f.name))
                     for f in dataclasses.fields(config)}}


def _plain(value):
  if dataclasses.is_dataclass(value):
    fields = {f.name: _plain(getattr(value, f.name))
              for f in dataclasses.fields(value)}
    family = getattr(type(value), "family", None)
    if family is None:
      return fields
    module = families.of_config(value).module
    return {"family": family, **({"module": module} if module else {}),
            **fields}
  if isinstance(value, dict):
    return {k: _plain(v) for k, v in value.items()}
  if isinstance(value, (tuple, list)):
    return [_plain(v) for v in value]
  return value


def _build(cls, values, where):
  if not isinstance(values, dict):
    raise ValueError(f"{where}: expected an object for {cls.__name__}; got "
                     f"{values!r}.")
  family = getattr(cls, "family", None)
  if family is not None:
    values = dict(values)
    written = values.pop("family", family)
    values.pop("module", None)
    if written != family:
      raise ValueError(f"{where}: a {written!r} config where a {family!r} "
                       "one was expected.")
  hints = typing.get_type_hints(cls)
  names = {f.name for f in dataclasses.fields(cls)}
  unknown = sorted(set(values) - names)
  if unknown:
    raise ValueError(
        f"{where}: {cls.__name__} has no field(s) {', '.join(unknown)}; the "
        "file was written by another version of glow_ood.")
  kwargs = {name: _value(hints[name], value, f"{where}.{name}")
            for name, value in values.items()}
  return cls(**kwargs)


def _value(hint, value, where):
  if value is None:
    return None
  if hint is families.ModelConfig:   # any family's, told apart by "family"
    return _build(_family_class(value, where), value, where)
  if typing.get_origin(hint) is typing.Union:
    inner = [a for a in typing.get_args(hint) if a is not type(None)]
    return _value(inner[0], value, where)
  if dataclasses.is_dataclass(hint):
    return _build(hint, value, where)
  if typing.get_origin(hint) is tuple and isinstance(value, list):
    args = typing.get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
      return tuple(_value(args[0], v, where) for v in value)
    return tuple(_value(a, v, where) for a, v in zip(args, value)) + tuple(
        value[len(args):])
  return value


def _family_class(value, where):
  """The config class of the family the object `value` names (its module imported)."""
  if not isinstance(value, dict):
    raise ValueError(f"{where}: expected an object with a model family; got "
                     f"{value!r}.")
  try:
    return families.get(value.get("family", families.DEFAULT),
                        module=value.get("module")).config_class
  except ValueError as e:
    raise ValueError(f"{where}: {e}") from None


def from_dict(payload, expected_type=None):
  """The config of a `to_dict` payload, validated; `expected_type` checks its class.

  Raises:
    ValueError: an unknown format version, type or field, or a value its
      config rejects.
  """
  if not isinstance(payload, dict) or "config" not in payload:
    raise ValueError("Not a glow_ood config: expected an object with "
                     "format_version, type and config.")
  version = payload.get("format_version")
  if version != FORMAT_VERSION:
    raise ValueError(
        f"Config format_version {version!r} is not {FORMAT_VERSION}, the "
        "version this glow_ood reads; use the glow_ood that wrote it.")
  types = config_types()
  name = payload.get("type")
  if name not in types:
    raise ValueError(f"Unknown config type {name!r}; known: "
                     f"{', '.join(sorted(types))}.")
  cls = types[name]
  if expected_type is not None and cls is not expected_type:
    raise ValueError(f"Expected a {expected_type.__name__}, found a {name}.")
  return _build(cls, payload["config"], name)
