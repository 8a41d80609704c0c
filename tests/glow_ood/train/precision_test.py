"""`mixed_precision="auto"` (`glow_ood.train.precision`) and how `train` uses it.

`resolve` is checked on hardware described by its arguments (CPU flags,
GPU compute capabilities), so every case runs on every machine; `cpu_flags`
on written /proc/cpuinfo-style files. The `train` tests check what a run
prints and records: the resolved value in config.json, and a run resumed
in another precision (as on other hardware) saying so and continuing.
"""

import re

import pytest

from bijectors import coupling_network
from glow_ood import configs
from glow_ood import runs as runs_lib
from glow_ood import train as train_lib
from glow_ood.runs import folder as run_folder
from glow_ood.train import precision
from tests.glow_ood.train.recording import ONE_CPU
from tests.glow_ood.train.recording import resolved
from tests.glow_ood.train.recording import tiny_config

ZEN3 = frozenset({"avx", "avx2", "fma", "sse4_2"})
ZEN4 = ZEN3 | {"avx512f", "avx512_bf16"}
SAPPHIRE_RAPIDS = ZEN3 | {"avx512f", "amx_tile", "amx_bf16", "amx_int8"}


@pytest.mark.parametrize("flags, value, reason", [
    (ZEN4, "bfloat16", "the CPU has AVX512_BF16"),
    (SAPPHIRE_RAPIDS, "bfloat16", "the CPU has AMX_BF16"),
    (ZEN4 | {"amx_bf16"}, "bfloat16", "the CPU has AVX512_BF16 and AMX_BF16"),
    (ZEN3, "none", "no native bfloat16 on this CPU"),
    (ZEN3 | {"avx512f"}, "none", "no native bfloat16 on this CPU"),
    (None, "none", "this CPU's flags cannot be read, only Linux's "
     "/proc/cpuinfo is; set bfloat16 if it has native bfloat16"),
])
def test_auto_on_cpus(flags, value, reason):
  choice = precision.resolve("auto", family="glow", cpu_flags=flags)
  assert (choice.value, choice.reason) == (value, reason)
  assert choice.message() == f"Mixed precision: auto -> {value} ({reason})."


@pytest.mark.parametrize("gpus, value, reason", [
    ([("NVIDIA A100", (8, 0))], "bfloat16",
     "the GPU has compute capability >= 8.0: NVIDIA A100 8.0"),
    ([("NVIDIA H100", (9, 0)), ("NVIDIA L4", (8, 9))], "bfloat16",
     "the GPU has compute capability >= 8.0: NVIDIA H100 9.0, NVIDIA L4 8.9"),
    ([("Tesla V100", (7, 0))], "none",
     "no native bfloat16 on GPU Tesla V100 7.0: it needs compute capability "
     ">= 8.0"),
    # Every GPU of the run must have it.
    ([("NVIDIA A100", (8, 0)), ("Tesla T4", (7, 5))], "none",
     "no native bfloat16 on GPU Tesla T4 7.5: it needs compute capability "
     ">= 8.0"),
    ([("AMD Instinct", None)], "none",
     "the compute capability of GPU AMD Instinct is unknown"),
])
def test_auto_on_gpus_ignores_the_cpu(gpus, value, reason):
  for flags in (ZEN3, ZEN4):   # the GPUs decide
    choice = precision.resolve("auto", family="glow", cpu_flags=flags,
                               gpus=gpus)
    assert (choice.value, choice.reason) == (value, reason)


def test_explicit_values_are_kept():
  for flags in (ZEN3, ZEN4, None):
    for value in ("none", "bfloat16", "float16"):
      choice = precision.resolve(value, family="glow", cpu_flags=flags)
      assert choice.value == value
  assert precision.resolve("bfloat16", family="glow", cpu_flags=ZEN4
                           ).message() == "Mixed precision: bfloat16 (as asked)."
  # Kept where it is emulated, with a warning.
  assert precision.resolve("bfloat16", family="glow", cpu_flags=ZEN3
                           ).message() == (
      "Mixed precision: bfloat16 (as asked, although no native bfloat16 on "
      "this CPU: expect it slower than float32).")
  assert precision.resolve("none", family="glow", cpu_flags=ZEN4
                           ).message() == "Mixed precision: none (as asked)."


@pytest.mark.parametrize("model", [configs.PixelCNNConfig(),
                                   configs.VAEConfig()],
                         ids=lambda m: m.family)
def test_families_without_coupling_networks_resolve_to_none(model):
  config = configs.TrainConfig(model=model)   # the default, auto, is accepted
  assert config.mixed_precision == "auto"
  for requested in ("auto", "none"):
    choice = precision.resolve(requested, family=model.family, cpu_flags=ZEN4)
    assert choice.value == "none"
    assert choice.reason == f"a {model.family} model has no coupling networks"
  ran, choice = precision.resolve_config(config, ONE_CPU)
  assert ran == config.replace(mixed_precision="none") and choice.value == "none"
  with pytest.raises(ValueError, match=r"mixed_precision='bfloat16' applies to "
                     r"Glow's coupling networks only, not to a "):
    precision.resolve("bfloat16", family=model.family, cpu_flags=ZEN4)


def test_cpu_flags_reads_the_flags_lines(tmp_path):
  path = tmp_path / "cpuinfo"
  path.write_text(
      "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu AVX2 avx512_bf16\n"
      "\nprocessor\t: 1\nflags\t\t: fpu avx2 amx_bf16\n"
      "bugs\t\t: sysret_ss_attrs\n")
  assert precision.cpu_flags(str(path), platform="linux") == frozenset(
      {"fpu", "avx2", "avx512_bf16", "amx_bf16"})
  assert precision.cpu_flags(str(path), platform="darwin") is None
  assert precision.cpu_flags(str(path), platform="win32") is None
  assert precision.cpu_flags(str(tmp_path / "missing"), platform="linux") is None


def test_resolve_config_on_this_machine():
  config = configs.TrainConfig()
  assert config.mixed_precision == "auto"   # the default
  assert precision.gpu_capabilities(ONE_CPU) == []
  ran, choice = precision.resolve_config(config, ONE_CPU)
  expected = precision.resolve("auto", family="glow",
                               cpu_flags=precision.cpu_flags())
  assert choice == expected
  assert ran == config.replace(mixed_precision=expected.value)
  # Resolving again changes nothing; TrainState takes only resolved configs.
  assert precision.resolve_config(ran, ONE_CPU)[0] == ran


def _compute_dtypes(model):
  return {m.compute_dtype.name for m in model.submodules
          if isinstance(m, coupling_network.GlowCouplingNetwork)}


def test_train_prints_the_choice_once_and_records_what_ran(toy_dir, tmp_path,
                                                         runs, capsys):
  config = tiny_config(toy_dir, train_steps=2)
  workdir = str(tmp_path / "run")
  train_lib.train(config, workdir)
  ran = resolved(config)
  expected = precision.resolve_config(config, config.devices)[1].message()
  lines = [line for line in capsys.readouterr().out.splitlines()
           if line.startswith("Mixed precision:")]
  assert lines == [expected]
  assert re.fullmatch(r"Mixed precision: auto -> (bfloat16|none) \(.+\)\.",
                      expected)
  assert run_folder.read_config(workdir, configs.TrainConfig) == ran
  compute = {"none": "float32"}.get(ran.mixed_precision, ran.mixed_precision)
  assert _compute_dtypes(runs[0].model) == {compute}
  # The launchers' models evaluate in float32 whatever the run trained in.
  assert _compute_dtypes(runs_lib.load_run(workdir).model) == {"float32"}


def test_a_run_resumed_in_another_precision_says_so(toy_dir, tmp_path, runs,
                                                    capsys):
  # As a run started on a bfloat16 machine and resumed on an AVX2 one.
  workdir = str(tmp_path / "run")
  config = tiny_config(toy_dir, train_steps=2, mixed_precision="bfloat16")
  train_lib.train(config, workdir)
  assert _compute_dtypes(runs_lib.load_run(workdir).model) == {"float32"}
  capsys.readouterr()
  moved = config.replace(train_steps=4, mixed_precision="none")
  results = train_lib.train(moved, workdir)
  out = capsys.readouterr().out
  assert ("Mixed precision: none (as asked). The steps so far ran with "
          "mixed_precision=bfloat16; the run continues from its checkpoint "
          "(weights in the model's dtype) with none, which config.json now "
          "records.") in out.splitlines()
  assert "Resumed from" in out
  resumed = runs[1]
  assert resumed.initial.step == 2 and resumed.history[-1].step == 4
  assert all(state.applied for state in resumed.history)
  assert _compute_dtypes(resumed.model) == {"float32"}
  assert run_folder.read_config(workdir, configs.TrainConfig) == moved
  assert sorted(results) == ["toy/test", "toy/train"]
  # A run whose config.json says "none" (all runs before auto) resumes under
  # the default auto; the note appears only if auto differs here.
  capsys.readouterr()
  train_lib.train(moved.replace(train_steps=5, mixed_precision="auto"),
                  workdir)
  line = [l for l in capsys.readouterr().out.splitlines()
          if l.startswith("Mixed precision:")]
  ran = resolved(moved.replace(mixed_precision="auto")).mixed_precision
  assert len(line) == 1
  assert ("The steps so far ran with mixed_precision=none" in line[0]) == (
      ran != "none")
  assert run_folder.read_config(workdir, configs.TrainConfig).mixed_precision \
      == ran
