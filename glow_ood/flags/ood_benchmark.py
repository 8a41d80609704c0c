"""The flags of `launch/ood_benchmark.py` and their `BenchmarkConfig`.

One flag per `BenchmarkConfig` field; `--model` picks the family
(`glow_ood.configs.families`, `--model_module` for one of your own) of
`BenchmarkConfig.model`, the models' config, whose own flags (as in
`launch/train.py`: Glow's `--num_levels`, ..., `--pixelcnn_*`, `--vae_*`)
set its fields, with the family's registered benchmark model (CPU-size) as
defaults. The model fields the benchmark sets
itself (image shape, bits, dtype, seed) have no flag. A flag of another
family than `--model`'s is refused unless at its default.
"""

from absl import flags

from glow_ood import configs
from glow_ood.configs import families
from glow_ood.flags import _fields
from glow_ood.flags import families as family_flags

__all__ = ["define_ood_benchmark_flags", "to_benchmark_config", "parse_pair"]

_BENCHMARK = dict(exclude=("pairs",))   # `model`: the family's flags


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
  family_flags.define_model_flags(
      definer, "Model family of the benchmark's models; its own flags set "
      "them (defaults: its CPU-size benchmark model).")
  _fields.define_fields(flag_values, configs.BenchmarkConfig, **_BENCHMARK)
  for family in families.all_families():
    selection = family_flags.family_selection(family)
    _fields.define_fields(
        flag_values, family.config_class,
        defaults={field: getattr(family.benchmark, field) for field in
                  _fields.flag_names(family.config_class,
                                     **selection).values()},
        **selection)


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
  family = families.get(flag_values.model)
  family_flags.refuse_other_family_flags(flag_values, family.name)
  model = family.benchmark.replace(**_fields.field_values(
      flag_values, family.config_class, **family_flags.family_selection(family)))
  return configs.BenchmarkConfig(
      pairs=tuple(parse_pair(p) for p in flag_values.pairs), model=model,
      **values)
