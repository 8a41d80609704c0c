"""One validation of every config dataclass, driven by each field's own metadata.

A config field is declared once, with everything a reader, a validator and a
command-line flag need to know about it:

    num_levels: int = option(3, "Glow levels L (squeeze + steps + split).",
                             minimum=1)
    coupling_scale: str = option("sigmoid", "Coupling scale.",
                                 choices=COUPLING_SCALES)

`validate(config)` (called first in each `__post_init__`) checks the type of
every field against its annotation (`int`, `float`, `bool`, `str`,
`Optional[...]`, `Tuple[X, ...]`, `Tuple[int, int, int]`, a nested config),
turns sequences into tuples (a `str` where a sequence is wanted raises: a
tuple of its letters is never what was meant), and checks `choices` and the
range of every value (of every element, for tuples). `glow_ood.flags` reads
the same metadata to define the flags. No TensorFlow, no absl.
"""

import dataclasses
import numbers
import typing

__all__ = ["option", "validate", "check_choice", "range_text", "field_info"]

def option(default, help, *, choices=None, minimum=None, maximum=None,  # pylint: disable=redefined-builtin
           exclusive_minimum=False, exclusive_maximum=False, flag=True,
           flag_none=None):
  """A `dataclasses.field` carrying its help, choices and range.

  Args:
    default: the default value (immutable: tuples, not lists).
    help: one sentence for the reader and for `--help`.
    choices: tuple of the allowed values (of each element, for tuples).
    minimum: lower bound of the value (of each element), or `None`.
    maximum: upper bound, or `None`.
    exclusive_minimum: whether `minimum` itself is excluded.
    exclusive_maximum: whether `maximum` itself is excluded.
    flag: whether programs that expose this config define a flag for it
      (`True`, under the field's name), `False`, or the flag's name when it
      differs from the field's (e.g. `"data_source"` for `DataConfig.source`).
    flag_none: for `Optional` fields, the flag value that stands for `None`
      (e.g. `0` for "no clipping"); flags cannot hold `None`.
  """
  if isinstance(default, (list, dict, set)):
    raise TypeError(f"option default {default!r} is mutable; use a tuple.")
  metadata = dict(help=help, choices=tuple(choices) if choices else None,
                  minimum=minimum, maximum=maximum,
                  exclusive_minimum=exclusive_minimum,
                  exclusive_maximum=exclusive_maximum, flag=flag,
                  flag_none=flag_none)
  return dataclasses.field(default=default, metadata=metadata)


def field_info(field):
  """The metadata `option` stored on `field` (empty values if none)."""
  info = dict(help="", choices=None, minimum=None, maximum=None,
              exclusive_minimum=False, exclusive_maximum=False, flag=True,
              flag_none=None)
  info.update(field.metadata)
  return info


def check_choice(owner, field, value, choices):
  """Raises `ValueError` unless `value` is one of `choices`."""
  if value not in choices:
    raise ValueError(f"{owner}.{field}={value!r} is not one of {choices}; "
                     f"choose one of {', '.join(map(str, choices))}.")


def range_text(info):
  """`">= 1"`, `"in (0, 1)"`, `"in [1, 8]"` from a field's metadata; `""` if unbounded."""
  low, high = (None if v is None else f"{v:g}"
               for v in (info["minimum"], info["maximum"]))
  if low is None and high is None:
    return ""
  if high is None:
    return f"{'>' if info['exclusive_minimum'] else '>='} {low}"
  if low is None:
    return f"{'<' if info['exclusive_maximum'] else '<='} {high}"
  left = "(" if info["exclusive_minimum"] else "["
  right = ")" if info["exclusive_maximum"] else "]"
  return f"in {left}{low}, {high}{right}"


def _in_range(value, info):
  low, high = info["minimum"], info["maximum"]
  if low is not None and (value < low or (info["exclusive_minimum"]
                                          and value == low)):
    return False
  if high is not None and (value > high or (info["exclusive_maximum"]
                                            and value == high)):
    return False
  return True


def _is_optional(hint):
  return (typing.get_origin(hint) is typing.Union
          and type(None) in typing.get_args(hint))


def _coerce(owner, name, value, hint):
  """`value` as the type `hint` says (tuples from sequences), or `TypeError`."""
  where = f"{owner}.{name}"
  if _is_optional(hint):
    if value is None:
      return None
    inner = [a for a in typing.get_args(hint) if a is not type(None)][0]
    return _coerce(owner, name, value, inner)
  origin = typing.get_origin(hint)
  if origin is typing.Union:   # of config dataclasses (e.g. TrainConfig.model)
    classes = typing.get_args(hint)
    if not isinstance(value, classes):
      raise TypeError(f"{where} must be one of "
                      f"{', '.join(c.__name__ for c in classes)}; got "
                      f"{type(value).__name__}.")
    return value
  if origin is tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
      raise TypeError(f"{where} must be a sequence, not a "
                      f"{type(value).__name__}; got {value!r}"
                      + (f" (write ({value!r},))." if isinstance(value, str)
                         else "."))
    args = typing.get_args(hint)
    items = tuple(value)
    if len(args) == 2 and args[1] is Ellipsis:
      return tuple(_coerce(owner, name, v, args[0]) for v in items)
    if len(items) != len(args):
      raise ValueError(f"{where} must have {len(args)} entries; got {value!r}.")
    return tuple(_coerce(owner, name, v, a) for v, a in zip(items, args))
  if dataclasses.is_dataclass(hint):
    if not isinstance(value, hint):
      raise TypeError(f"{where} must be a {hint.__name__}; got "
                      f"{type(value).__name__}.")
    return value
  if hint is bool:
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
      raise TypeError(f"{where} must be a bool; got {value!r}.")
    return bool(value)
  if hint is int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
      raise TypeError(f"{where} must be an int; got {value!r}.")
    return int(value)
  if hint is float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
      raise TypeError(f"{where} must be a number; got {value!r}.")
    return float(value)
  if hint is str:
    if not isinstance(value, str):
      raise TypeError(f"{where} must be a str; got {value!r}.")
    return value
  return value


def _elements(value):
  if isinstance(value, tuple):
    for item in value:
      yield from _elements(item)
  else:
    yield value


def validate(config):
  """Coerces and checks every field of the dataclass `config` in place.

  Raises:
    TypeError: a value of the wrong type (e.g. a `str` for a tuple).
    ValueError: a value out of its `choices` or range, with the allowed ones.
  """
  cls = type(config)
  owner = cls.__name__
  hints = typing.get_type_hints(cls)
  for field in dataclasses.fields(cls):
    value = _coerce(owner, field.name, getattr(config, field.name),
                    hints[field.name])
    object.__setattr__(config, field.name, value)
    if value is None:
      continue
    info = field_info(field)
    for item in _elements(value):
      if info["choices"] is not None:
        check_choice(owner, field.name, item, info["choices"])
      if isinstance(item, numbers.Real) and not isinstance(item, bool) and (
          not _in_range(item, info)):
        optional = " or None" if _is_optional(hints[field.name]) else ""
        raise ValueError(f"{owner}.{field.name} must be {range_text(info)}"
                         f"{optional}; got {item!r}.")
