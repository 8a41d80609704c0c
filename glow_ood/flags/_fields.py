"""Flags defined from config dataclass fields, and parsed flags turned back into fields.

A config field declared with `glow_ood.configs._validation.option` carries its
default, help, choices and range; `define_fields` defines one flag per field
from exactly that (so a flag's default can never drift from the dataclass's),
and `field_values` reads the parsed flags back into constructor arguments:

    define_fields(flag_values, GlowConfig, rename={"seed": "model_seed"})
    model = GlowConfig(**field_values(flag_values, GlowConfig,
                                      rename={"seed": "model_seed"}))

Types map as: `bool` -> DEFINE_bool; `str` with choices -> DEFINE_enum;
`str` / `Optional[str]` -> DEFINE_string; `int` / `float` -> DEFINE_integer /
DEFINE_float with the field's inclusive bounds; tuples -> DEFINE_list of
their elements. Flags cannot hold `None`: an `Optional` number uses the
field's `flag_none` value (e.g. `0` = "no clipping"), an `Optional` tuple the
empty list.

The flags of one config class form a help group ("model: glow", "data",
"training", ...; `group_title`), which `flag_groups` returns for a program's
`--help` (`launch/bootstrap.py`). Groups are absl key-flag lists of the
pseudo-module `"glow_ood.flags group: <title>"`, so they live and die with
their `FlagValues`.
"""

import dataclasses
import functools
import re
import typing

from absl import flags

from glow_ood.configs import _validation
from glow_ood.configs import families

__all__ = ["Definer", "flag_names", "define_fields", "field_values",
           "parse_list", "group_title", "add_to_group", "flag_groups"]

_GROUP_PREFIX = "glow_ood.flags group: "


class Definer:
  """`flags.DEFINE_*` bound to one `FlagValues` (the process's or a private one)."""

  def __init__(self, flag_values):
    self._flag_values = flag_values

  def __getattr__(self, name):
    return functools.partial(getattr(flags, name),
                             flag_values=self._flag_values)


def _strip_optional(hint):
  if typing.get_origin(hint) is typing.Union:
    return [a for a in typing.get_args(hint) if a is not type(None)][0], True
  return hint, False


def _element_type(hint):
  args = typing.get_args(hint)
  return args[0] if args else str


def _bounds(info, flag_none):
  """absl's (inclusive) bounds from the field's range; the config excludes open ends."""
  low, high = info["minimum"], info["maximum"]
  if flag_none is not None and info["minimum"] is not None:
    low = min(info["minimum"], flag_none)
  return dict(lower_bound=low, upper_bound=high)


def flag_names(config_cls, *, only=None, exclude=(), rename=None):
  """`{flag name: field name}` of the fields of `config_cls` that get a flag.

  Args:
    config_cls: a config dataclass whose fields were declared with `option`.
    only: field names to define (default: every field that has a flag).
    exclude: field names to leave out.
    rename: `{field name: flag name}`, e.g. `{"seed": "model_seed"}`; an
      option's own `flag="..."` name is used otherwise.
  """
  rename = dict(rename or {})
  hints = typing.get_type_hints(config_cls)
  names = {}
  for field in dataclasses.fields(config_cls):
    info = _validation.field_info(field)
    if only is not None and field.name not in only:
      continue
    if field.name in exclude or (only is None and info["flag"] is False):
      continue
    hint = _strip_optional(hints[field.name])[0]
    if dataclasses.is_dataclass(hint) or hint is families.ModelConfig:
      continue   # a nested config: its own flags
    name = rename.get(field.name) or (
        info["flag"] if isinstance(info["flag"], str) else field.name)
    names[name] = field.name
  return names


def group_title(config_cls):
  """The `--help` group of a config class's flags: `"model: glow"`, `"data"`, ...

  A model config (a registered family's: a string `family`) gives
  `"model: <family>"`;
  `TrainConfig` gives `"training"`, any other `<Name>Config` `<name>` in
  snake case (`TwoMoonsConfig` -> `"two_moons"`).
  """
  family = getattr(config_cls, "family", None)
  if isinstance(family, str):
    return f"model: {family}"
  name = re.sub(r"Config$", "", config_cls.__name__) or config_cls.__name__
  name = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
  return {"train": "training"}.get(name, name)


def add_to_group(flag_values, title, names):
  """Lists the flags `names` of `flag_values` under `title` in `--help`."""
  for name in names:
    flag_values.register_key_flag_for_module(_GROUP_PREFIX + title,
                                             flag_values[name])


def flag_groups(flag_values):
  """`{title: [absl Flag]}` of `flag_values`' help groups, in definition order.

  Flags deleted from `flag_values` since are left out, and so are groups
  left empty.
  """
  order = {name: i for i, name in enumerate(flag_values)}
  groups = {}
  for module, key_flags in flag_values.key_flags_by_module_dict().items():
    if not module.startswith(_GROUP_PREFIX):
      continue
    alive = [f for f in key_flags
             if f.name in order and flag_values[f.name] is f]
    if alive:
      groups.setdefault(module[len(_GROUP_PREFIX):], []).extend(alive)
  return dict(sorted(groups.items(),
                     key=lambda item: min(order[f.name] for f in item[1])))


def define_fields(flag_values, config_cls, *, defaults=None, group=None,
                  **selection):
  """Defines one flag per field of `config_cls`; returns `{flag name: field name}`.

  Args:
    flag_values: the `absl.flags.FlagValues` to define on.
    config_cls: a config dataclass whose fields were declared with `option`.
    defaults: `{field name: flag default}` where a program's default differs
      from the dataclass's (e.g. `None` = "decide from the run").
    group: the flags' `--help` group. Default value: `group_title(config_cls)`.
    **selection: `only`, `exclude`, `rename` of `flag_names`.
  """
  definer = Definer(flag_values)
  defaults = dict(defaults or {})
  hints = typing.get_type_hints(config_cls)
  fields = {f.name: f for f in dataclasses.fields(config_cls)}
  names = flag_names(config_cls, **selection)
  for name, field_name in names.items():
    field = fields[field_name]
    info = _validation.field_info(field)
    hint, _ = _strip_optional(hints[field_name])
    default = defaults.get(field_name, field.default)
    if default is None and info["flag_none"] is not None:
      default = info["flag_none"]
    text = info["help"]
    if typing.get_origin(hint) is tuple:
      definer.DEFINE_list(
          name, None if default is None else [str(v) for v in default],
          text + (f" Each from {', '.join(info['choices'])}."
                  if info["choices"] else ""))
    elif hint is bool:
      definer.DEFINE_bool(name, default, text)
    elif hint is str and info["choices"]:
      definer.DEFINE_enum(name, default, list(info["choices"]), text)
    elif hint is str:
      definer.DEFINE_string(name, default, text)
    elif hint is int:
      definer.DEFINE_integer(name, default, text,
                             **_bounds(info, info["flag_none"]))
    elif hint is float:
      definer.DEFINE_float(name, default, text,
                           **_bounds(info, info["flag_none"]))
    else:
      raise TypeError(f"No flag type for {config_cls.__name__}.{field_name} "
                      f"({hints[field_name]}).")
  add_to_group(flag_values, group or group_title(config_cls), names)
  return names


def parse_list(values, element_type, name):
  """`["1", "2"]` -> `(1, 2)` as `element_type`, or a `ValueError` naming `--name`."""
  if element_type is str:
    return tuple(values)
  try:
    return tuple(element_type(v) for v in values)
  except ValueError:
    what = "integers" if element_type is int else "numbers"
    raise ValueError(f"--{name} must be a comma-separated list of {what}; "
                     f"got {','.join(values)}.") from None


def field_values(flag_values, config_cls, **selection):
  """`{field name: value}` for `config_cls(**...)` from flags `define_fields` defined.

  `selection` (`only`, `exclude`, `rename`) must be what `define_fields` got.

  Flag values are turned back into field values: lists into tuples of the
  element type, an `Optional` field's `flag_none` value (or an empty list)
  into `None`.
  """
  hints = typing.get_type_hints(config_cls)
  fields = {f.name: f for f in dataclasses.fields(config_cls)}
  out = {}
  for flag_name, field_name in flag_names(config_cls, **selection).items():
    value = flag_values[flag_name].value
    info = _validation.field_info(fields[field_name])
    hint, optional = _strip_optional(hints[field_name])
    if typing.get_origin(hint) is tuple:
      if value is None:   # a program's default of None: the program decides
        continue
      out[field_name] = (None if optional and not value else
                         parse_list(value, _element_type(hint), flag_name))
    elif optional and info["flag_none"] is not None and value == info[
        "flag_none"]:
      out[field_name] = None
    else:
      out[field_name] = value
  return out
