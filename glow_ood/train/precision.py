"""`TrainConfig.mixed_precision="auto"` resolved against the hardware the run trains on.

    config, choice = resolve_config(config, strategy.extended.worker_devices)
    print(choice.message())   # Mixed precision: auto -> bfloat16 (the CPU has AVX512_BF16).

bfloat16 keeps float32's 8 exponent bits and 8 of its 24 significand bits:
the coupling networks' convolutions run in it (`bijectors.coupling_network`),
everything else stays float32. Where the hardware multiplies bfloat16
natively a training step runs faster (1.67x float32 at the paper config on an
AVX512_BF16 EPYC, issue 22); elsewhere bfloat16 is emulated, and slower than
float32. So `"auto"` becomes:

  * `"bfloat16"` when the run's devices are GPUs that all have compute
    capability >= 8.0 (`MIN_GPU_CAPABILITY`: Ampere and later), or when they
    are CPUs whose flags include `avx512_bf16` or `amx_bf16`
    (`NATIVE_CPU_FLAGS`; read from the `flags` lines of Linux's
    /proc/cpuinfo);
  * `"none"` (float32) on every other GPU or CPU, when a CPU's flags cannot
    be read (macOS, Windows: pass `bfloat16` there to use it), and for model
    families without coupling networks (PixelCNN++, VAE).

`resolve` is the decision, a function of its arguments only; `cpu_flags` and
`gpu_capabilities` read the machine. Under `multi_worker_mirrored` each
worker resolves on its own hardware: on a cluster of unlike hosts, set the
precision explicitly.
"""

import dataclasses
import sys

import tensorflow.compat.v2 as tf

from glow_ood.configs import families

__all__ = ["Choice", "resolve", "resolve_config", "cpu_flags",
           "gpu_capabilities", "NATIVE_CPU_FLAGS", "MIN_GPU_CAPABILITY"]

# x86 CPU flags of native bfloat16 arithmetic (Linux's names): AVX-512
# bfloat16 dot products (Cooper Lake, Sapphire Rapids, AMD Zen 4 on) and AMX
# bfloat16 tiles (Sapphire Rapids on).
NATIVE_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# NVIDIA compute capability from which GPUs compute in bfloat16 (Ampere).
MIN_GPU_CAPABILITY = (8, 0)


@dataclasses.dataclass(frozen=True)
class Choice:
  """What `mixed_precision` was asked for, what runs, and why."""
  requested: str   # "auto", "none", "bfloat16" or "float16"
  value: str       # "none", "bfloat16" or "float16"
  reason: str

  def message(self):
    """`Mixed precision: auto -> bfloat16 (the CPU has AVX512_BF16).`"""
    if self.requested == "auto":
      return f"Mixed precision: auto -> {self.value} ({self.reason})."
    return f"Mixed precision: {self.value} ({self.reason})."


def _native_here(cpu_flag_set, gpus):
  """`(native bfloat16: True, False or None = unknown, why)` on CPUs with
  `cpu_flag_set` (`None`: unreadable) or, if `gpus` is not empty, on those
  `(name, capability)`s."""
  least = f"{MIN_GPU_CAPABILITY[0]}.{MIN_GPU_CAPABILITY[1]}"
  if gpus:
    unknown = sorted({name for name, cc in gpus if cc is None})
    if unknown:
      return None, (f"the compute capability of GPU {', '.join(unknown)} is "
                    "unknown")
    listed = lambda pairs: ", ".join(f"{name} {cc[0]}.{cc[1]}"
                                     for name, cc in sorted(set(pairs)))
    slow = [(name, cc) for name, cc in gpus if tuple(cc) < MIN_GPU_CAPABILITY]
    if slow:
      return False, (f"no native bfloat16 on GPU {listed(slow)}: it needs "
                     f"compute capability >= {least}")
    return True, (f"the GPU has compute capability >= {least}: "
                  f"{listed(gpus)}")
  if cpu_flag_set is None:
    return None, ("this CPU's flags cannot be read, only Linux's /proc/cpuinfo "
                  "is; set bfloat16 if it has native bfloat16")
  native = [flag for flag in NATIVE_CPU_FLAGS if flag in cpu_flag_set]
  if native:
    return True, f"the CPU has {' and '.join(f.upper() for f in native)}"
  return False, "no native bfloat16 on this CPU"


def resolve(requested, *, family, cpu_flags=None, gpus=()):  # pylint: disable=redefined-outer-name
  """The `Choice` for `requested` on the given hardware.

  Args:
    requested: `TrainConfig.mixed_precision`: `"auto"`, `"none"`,
      `"bfloat16"` or `"float16"`.
    family: the model family's name; only a family with the
      `"coupling_precision"` capability (Glow) has coupling networks.
    cpu_flags: the CPU's flags (e.g. `cpu_flags()`), lower case, or `None`
      when they cannot be read. Consulted only when `gpus` is empty.
    gpus: `(name, (major, minor) or None)` of each GPU the run uses
      (`gpu_capabilities`); empty for a CPU run.

  Returns:
    `Choice`; its `value` is `requested` unless that is `"auto"`. An
    explicit `"bfloat16"` on hardware without it is kept, with a warning in
    the reason.
  """
  if not families.get(family).has("coupling_precision"):
    if requested not in ("auto", "none"):
      raise ValueError(
          f"mixed_precision={requested!r} applies to "
          f"{families.titles_with('coupling_precision')}'s coupling networks "
          f"only, not to a {family} model; leave it at auto.")
    return Choice(requested, "none",
                  f"a {family} model has no coupling networks")
  native, why = _native_here(cpu_flags, tuple(gpus))
  if requested == "auto":
    return Choice(requested, "bfloat16" if native else "none", why)
  if requested == "bfloat16" and native is False:
    return Choice(requested, requested,
                  f"as asked, although {why}: expect it slower than float32")
  return Choice(requested, requested, "as asked")


def cpu_flags(path="/proc/cpuinfo", platform=None):
  """The CPU's feature flags (a `frozenset` of lower-case names), or `None`.

  Reads the `flags` lines of Linux's `path`; `None` on other platforms or if
  the file cannot be read.
  """
  if not (platform or sys.platform).startswith("linux"):
    return None
  try:
    with open(path, encoding="utf-8", errors="replace") as f:
      lines = f.readlines()
  except OSError:
    return None
  flags = set()
  for line in lines:
    key, _, value = line.partition(":")
    if key.strip().lower() == "flags":
      flags.update(value.lower().split())
  return frozenset(flags)


def gpu_capabilities(devices):
  """`[(name, (major, minor) or None)]` of the GPUs among `devices`.

  Args:
    devices: device names, e.g. a strategy's `extended.worker_devices`
      (`"/job:localhost/replica:0/task:0/device:GPU:1"`); the GPU with index
      `i` is the `i`-th physical GPU.
  """
  specs = [tf.DeviceSpec.from_string(d) for d in devices]
  indices = sorted({spec.device_index or 0 for spec in specs
                    if (spec.device_type or "").upper() == "GPU"})
  physical = tf.config.list_physical_devices("GPU")
  result = []
  for index in indices:
    details = (tf.config.experimental.get_device_details(physical[index])
               if index < len(physical) else {})
    capability = details.get("compute_capability")
    result.append((details.get("device_name", f"GPU:{index}"),
                   tuple(capability) if capability else None))
  return result


def resolve_config(config, devices):
  """`(config with mixed_precision resolved, Choice)` for a run on `devices`.

  Args:
    config: `TrainConfig`.
    devices: the device names the run's replicas use on this host (a
      strategy's `extended.worker_devices`).
  """
  gpus = gpu_capabilities(devices)
  choice = resolve(config.mixed_precision, family=config.family,
                   cpu_flags=None if gpus else cpu_flags(), gpus=gpus)
  return config.replace(mixed_precision=choice.value), choice
