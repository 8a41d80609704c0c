"""The flags of `launch/ood_benchmark.py` and their `BenchmarkConfig`."""

from absl import flags

from glow_ood import configs
from glow_ood.flags import _fields

__all__ = ["define_ood_benchmark_flags", "to_benchmark_config", "parse_pair"]

_BENCHMARK = dict(exclude=("pairs",))


def define_ood_benchmark_flags(flag_values=flags.FLAGS):
  """Defines the flags of `launch/ood_benchmark.py` on `flag_values`."""
  definer = _fields.Definer(flag_values)
  definer.DEFINE_string("workdir", "runs/ood_benchmark",
                        "Trained models, results.json and results.md; re-run "
                        "to resume.")
  # Pairs are written "in->out" on the command line (`parse_pair`).
  pairs = configs.BenchmarkConfig.__dataclass_fields__["pairs"]
  definer.DEFINE_list("pairs", [f"{a}->{b}" for a, b in pairs.default],
                      pairs.metadata["help"])
  _fields.define_fields(flag_values, configs.BenchmarkConfig, **_BENCHMARK)


def parse_pair(text):
  """`"in->out"` -> `("in", "out")`, or a `ValueError` showing the syntax."""
  parts = text.split("->")
  if len(parts) != 2 or not all(p.strip() for p in parts):
    raise ValueError(f"--pairs entries look like in->out (e.g. "
                     f"fashion_mnist->mnist); got {text!r}.")
  return parts[0].strip(), parts[1].strip()


def to_benchmark_config(flag_values):
  """Parsed ood_benchmark flags -> `BenchmarkConfig`."""
  values = _fields.field_values(flag_values, configs.BenchmarkConfig,
                                **_BENCHMARK)
  return configs.BenchmarkConfig(
      pairs=tuple(parse_pair(p) for p in flag_values.pairs), **values)
