"""The flags of `launch/ood_benchmark.py` and their `BenchmarkConfig`.

One flag per `BenchmarkConfig` field (`--model` picks the family; Glow's
settings are `--num_levels`, ...), and the PixelCNN's and VAE's own flags
(`--pixelcnn_*`, `--vae_*`, as in `launch/train.py`, with the benchmark's
CPU-size defaults `BENCHMARK_PIXELCNN` / `BENCHMARK_VAE`). The model fields
the benchmark sets itself (image shape, bits, dtype, seed) have no flag. A
flag of another family than `--model`'s is refused unless at its default.
"""

from absl import flags

from glow_ood import configs
from glow_ood.configs import ood_benchmark as benchmark_configs
from glow_ood.flags import _fields
from glow_ood.flags import families

__all__ = ["define_ood_benchmark_flags", "to_benchmark_config", "parse_pair"]

_BENCHMARK = dict(exclude=("pairs",))
_TEMPLATES = (("pixelcnn", configs.PixelCNNConfig,
               benchmark_configs.BENCHMARK_PIXELCNN),
              ("vae", configs.VAEConfig, benchmark_configs.BENCHMARK_VAE))
_TEMPLATE = dict(exclude=benchmark_configs.TEMPLATE_FIELDS)
_GLOW_FLAGS = ("num_levels", "num_steps_per_level", "hidden_width",
               "coupling_scale")


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
  for _, cls, template in _TEMPLATES:
    _fields.define_fields(
        flag_values, cls, defaults={f: getattr(template, f) for f in
                                    _fields.flag_names(cls, **_TEMPLATE).values()},
        **_TEMPLATE)


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
  flags_of = {"glow": _GLOW_FLAGS}
  for family, cls, template in _TEMPLATES:
    flags_of[family] = list(_fields.flag_names(cls, **_TEMPLATE))
    values[family] = template.replace(**_fields.field_values(
        flag_values, cls, **_TEMPLATE))
  families.refuse_other_family_flags(flag_values, values["model"], flags_of)
  return configs.BenchmarkConfig(
      pairs=tuple(parse_pair(p) for p in flag_values.pairs), **values)
