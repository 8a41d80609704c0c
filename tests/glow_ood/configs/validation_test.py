"""Tests of the one validation of config dataclasses (`glow_ood.configs._validation`)."""

import dataclasses
from typing import Optional, Tuple

import pytest

import bijectors
from glow_ood import configs
from glow_ood.configs import _validation
from glow_ood.configs._validation import option


@dataclasses.dataclass(frozen=True)
class Example:
  count: int = option(1, "A count.", minimum=1)
  rate: float = option(0.5, "A rate.", minimum=0., maximum=1.,
                       exclusive_minimum=True)
  name: str = option("a", "A name.", choices=("a", "b"))
  names: Tuple[str, ...] = option(("a",), "Names.", choices=("a", "b"))
  shape: Tuple[int, int, int] = option((1, 2, 3), "A shape.", minimum=1)
  limit: Optional[int] = option(None, "A limit.", minimum=2, flag_none=0)
  flag: bool = option(False, "A switch.")

  def __post_init__(self):
    _validation.validate(self)


def test_valid_values_are_coerced():
  example = Example(count=3, rate=1, names=["b", "a"], shape=[4, 5, 6],
                    limit=2)
  assert example.rate == 1.0 and isinstance(example.rate, float)
  assert example.names == ("b", "a") and example.shape == (4, 5, 6)


@pytest.mark.parametrize("changes, error, message", [
    (dict(count=0), ValueError, r"Example.count must be >= 1; got 0"),
    (dict(rate=0.), ValueError, r"Example.rate must be in \(0, 1\]; got 0.0"),
    (dict(rate=1.5), ValueError, r"rate must be in \(0, 1\]"),
    (dict(name="c"), ValueError, r"Example.name='c' is not one of \('a', 'b'\)"),
    (dict(names=("a", "c")), ValueError, r"names='c' is not one of"),
    (dict(names="a"), TypeError, r"names must be a sequence, not a str.*\('a',\)"),
    (dict(shape=(1, 2)), ValueError, r"shape must have 3 entries"),
    (dict(shape=(1, 0, 1)), ValueError, r"shape must be >= 1; got 0"),
    (dict(limit=1), ValueError, r"limit must be >= 2 or None; got 1"),
    (dict(count=1.5), TypeError, r"count must be an int; got 1.5"),
    (dict(count=True), TypeError, r"count must be an int"),
    (dict(flag=1), TypeError, r"flag must be a bool"),
    (dict(name=3), TypeError, r"name must be a str"),
])
def test_bad_values_name_the_field_and_the_fix(changes, error, message):
  with pytest.raises(error, match=message):
    Example(**changes)


def test_range_text():
  info = lambda **kw: dict(_validation.field_info(
      dataclasses.field(metadata={})), **kw)
  assert _validation.range_text(info(minimum=1)) == ">= 1"
  assert _validation.range_text(info(minimum=0, exclusive_minimum=True)) == "> 0"
  assert _validation.range_text(info(minimum=1, maximum=8)) == "in [1, 8]"
  assert _validation.range_text(info()) == ""


def test_mutable_defaults_are_refused():
  with pytest.raises(TypeError, match="mutable"):
    option([1], "A list.")


def test_choice_tuples_agree_with_the_bijectors_own():
  # Defined once for the configs; bijectors validate their own arguments.
  assert set(configs.COUPLING_SCALES) == set(bijectors.affine_coupling.SCALES)
  assert set(configs.PERMUTATIONS) == set(bijectors.glow_flow.PERMUTATIONS)
  assert set(configs.SPLIT_PRIORS) == set(bijectors.glow_flow.SPLIT_PRIORS)


def test_every_config_field_has_help():
  for cls in configs.serialization.config_types().values():
    for field in dataclasses.fields(cls):
      if dataclasses.is_dataclass(field.type) or field.name in ("model", "data"):
        continue
      assert _validation.field_info(field)["help"], f"{cls.__name__}.{field.name}"
