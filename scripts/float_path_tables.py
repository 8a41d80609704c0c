"""The docs' table of what a re-run can reproduce: float paths against seeds.

Record `fashion_mnist_glow_float_paths` holds the README's main job trained
with seed 0 in float32 and in bfloat16 on one machine and with seeds 1 and 2
in float32; record `fashion_mnist_glow_cpu` holds seed 0 in bfloat16 on
another machine. Same seed, other float path: the numbers drift apart a
little (chaotic divergence of the optimization); other seeds: a lot. The
table puts the two spreads next to the record's tolerance.
"""

from glow_ood.experiments import records as records_lib
from scripts.table_format import markdown_table, number

__all__ = ["TABLES"]

_SAME_SEED = ("seed0_float32", "seed0_bfloat16")
_OTHER_SEEDS = ("seed1_float32", "seed2_float32")


def _bits(entry, name):
  return entry["sets"].get(name, {}).get("bits_per_dim")


def float_paths(records):
  """Per set: the record, the same seed on other float paths, other seeds."""
  main = records["fashion_mnist_glow_cpu"]
  paths = records["fashion_mnist_glow_float_paths"]["metrics"]
  recorded = main["metrics"]["evaluation"]
  tolerance = main["tolerance"]
  rows = []
  for name in recorded["sets"]:
    same = [_bits(recorded, name)] + [_bits(paths[k], name)
                                      for k in _SAME_SEED]
    seeds = [_bits(paths["seed0_float32"], name)] + [
        _bits(paths[k], name) for k in _OTHER_SEEDS]
    allowed = records_lib.tolerance_of(
        tolerance, f"evaluation/sets/{name}/bits_per_dim")
    rows.append([f"{name} bits/dim"] + [number(v) for v in same] +
                [number(max(same) - min(same)), number(allowed, 2)] +
                [number(v) for v in seeds[1:]] +
                [number(max(seeds) - min(seeds))])
  return markdown_table(
      ("set", "record (seed 0, bfloat16, AVX512_BF16)", "seed 0, float32",
       "seed 0, bfloat16 (emulated)", "same seed: spread", "tolerance",
       "seed 1, float32", "seed 2, float32", "seeds 0-2: spread"), rows)


TABLES = {"float_paths": float_paths}
