"""The model families, each declared once: `register` here; everything else reads it.

A family is a name (`--model=`, the `"family"` of config.json), a frozen
config dataclass (`configs/<family>.py`), a model class (`models/<family>.py`,
imported only when a model is built), and what the programs must know of it
without building one:

    title          its name in tables and progress lines ("PixelCNN++").
    flag_prefix    of the flags of its own fields (`--pixelcnn_num_filters`;
                   Glow's are unprefixed). The fields every family shares,
                   `SHARED_FIELDS`, have one flag each whatever the family.
    capabilities   what its models offer beyond the common interface
                   (`CAPABILITIES`); programs ask
                   `family.has("decomposition")`, never its name.
    benchmark      the model the OOD benchmark trains (`SHARED_FIELDS` set
                   per dataset and seed), e.g. a CPU-size PixelCNN++.
    initializes    what its `data_init` initializes, for the progress line.
    module         the module that registers it, for a family from outside
                   glow_ood: config.json records it beside the family, so
                   that a run reopens in a fresh process (`get`).

    families.get("vae").has("elbo")                    # True
    families.of_config(GlowConfig()).title             # "Glow"
    families.names()                                   # ("glow", "pixelcnn", "vae")

Bring your own model: a module of your own defines a config dataclass (the
shared fields and your own, declared with `glow_ood.configs.option` (or
plain defaults)) and a `glow_ood.models.DensityModel`, and calls
`glow_ood.models.register` (this `register`); `--model_module=<module>`
imports it before any flag is defined, and then every launcher serves the
family (README: "Bring your own model"). No TensorFlow here: the model class
is named by a `"module:Class"` path and imported when first used.
"""

import dataclasses
import importlib
import re
import sys
from typing import Optional

from glow_ood.configs import model as glow_config
from glow_ood.configs import pixelcnn as pixelcnn_config
from glow_ood.configs import vae as vae_config

__all__ = ["Family", "ModelConfig", "CAPABILITIES", "SHARED_FIELDS",
           "DEFAULT", "register", "unregister", "get", "of_config", "names",
           "all_families", "with_capability", "titles_with", "import_module",
           "default_config"]

# What a family's models may offer besides the interface every model has
# (`model.capabilities`, `density_model.require_capability`), each named by
# the methods or arguments it gives:
#   decomposition       `decompose`, `decompose_and_encode`, `flow.latent_shapes`:
#                       log p(x) per level and layer kind (per-level terms);
#                       the config has `num_levels`.
#   elbo                `elbo_terms`, `log_weights` (a VAE's).
#   statistics          `summary_statistics(images)` for DoSE.
#   temperature         `sample(n, temperature, seed=)`: samples at a
#                       temperature (the latents' scale).
#   coupling_precision  `build_model(config, coupling_compute_dtype=,
#                       recompute_couplings=)`: coupling networks that run in
#                       a lower precision and can be recomputed in the
#                       backward pass (`TrainConfig.mixed_precision`,
#                       `recompute_couplings`).
CAPABILITIES = ("decomposition", "elbo", "statistics", "temperature",
                "coupling_precision")

# The fields every family's config has, with one flag each (`--image_shape`,
# `--n_bits`, `--dtype`, `--model_seed`), that the OOD benchmark sets per
# dataset and seed.
SHARED_FIELDS = ("image_shape", "n_bits", "dtype", "seed")

# The family of the files written before there were several: a config.json
# model without a "family", a benchmark's first results and folders.
DEFAULT = "glow"

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_REGISTRY = {}
_importing = []   # the --model_module being imported (`import_module`)


class ModelConfig:
  """Annotation of a field holding any registered family's config.

  `TrainConfig.model` and `BenchmarkConfig.model` are `ModelConfig`s:
  their `__post_init__` checks the value with `of_config`, serialization
  reads its class from the `"family"` key, flags leave it out (a nested
  config). Never instantiated.
  """


@dataclasses.dataclass(frozen=True)
class Family:
  """One registered family (see the module docstring for the fields)."""
  name: str
  config_class: type
  model: object            # the model class, or its "module:Class" path
  title: str
  flag_prefix: str
  capabilities: frozenset
  benchmark: object
  initializes: str
  module: Optional[str]

  @property
  def model_class(self):
    """The model class (imported on first use for a `"module:Class"` path)."""
    if not isinstance(self.model, str):
      return self.model
    module, _, name = self.model.partition(":")
    return getattr(importlib.import_module(module), name)

  def has(self, capability):
    """Whether the family's models offer `capability` (one of `CAPABILITIES`)."""
    if capability not in CAPABILITIES:
      raise ValueError(f"Unknown capability {capability!r}; known: "
                       f"{', '.join(CAPABILITIES)}.")
    return capability in self.capabilities

  def describe(self, config):
    """One line naming the model and its size: `config.describe()` if it has one."""
    describe = getattr(config, "describe", None)
    return describe() if callable(describe) else self.title


def _check_config_class(name, config):
  if not (isinstance(config, type) and dataclasses.is_dataclass(config)):
    raise TypeError(f"register({name!r}): config must be a dataclass class; "
                    f"got {config!r}.")
  fields = {f.name for f in dataclasses.fields(config)}
  missing = [f for f in SHARED_FIELDS if f not in fields]
  if missing or not config.__dataclass_params__.frozen:
    raise TypeError(
        f"register({name!r}): {config.__name__} must be a frozen dataclass "
        f"with the fields {', '.join(SHARED_FIELDS)} (the shared ones, as "
        "GlowConfig declares them)"
        + (f"; it lacks {', '.join(missing)}." if missing else
           "; add frozen=True."))
  for attribute in ("num_dims", "replace"):
    if not hasattr(config, attribute):
      raise TypeError(f"register({name!r}): {config.__name__} needs "
                      f"`{attribute}` (see GlowConfig).")


def _default_module(config):
  """Where a family of `config`'s class is registered again, or `None`.

  `None` for a built-in family, and for a class of `__main__` or of no file
  (e.g. `exec`'d), which no other process can import.
  """
  if _importing:
    return _importing[-1]
  module = config.__module__
  if module == "__main__" or module.startswith("glow_ood.") or getattr(
      sys.modules.get(module), "__file__", None) is None:
    return None
  return module


def register(name, *, config, model, title=None, flag_prefix=None,
             capabilities=(), benchmark=None, initializes="the model",
             module=None):
  """Registers a model family; returns its `Family`.

  Args:
    name: identifier of the family (`[a-z][a-z0-9_]*`): `--model=name`.
    config: its config class: a frozen dataclass with the fields of
      `SHARED_FIELDS`, `num_dims` and `replace` (as `GlowConfig`). Its
      `family` attribute is set to `name`.
    model: its model class (a `glow_ood.models.DensityModel`: the
      `density_model` interface), or the `"module:Class"` path of it.
    title: its name in tables. Default value: `name`.
    flag_prefix: prefix of its own fields' flags. Default value: `name + "_"`.
    capabilities: what its models offer beyond the common interface, from
      `CAPABILITIES`.
    benchmark: the model config the OOD benchmark trains. Default value:
      `config()`.
    initializes: what its `data_init` initializes, for the progress line.
    module: the module that registers it, recorded in config.json so that a
      run reopens in a fresh process. Default value: the `--model_module`
      being imported, else the config class's module (none for `__main__`).

  Raises:
    ValueError: a bad name or capability, or the name taken by another family.
    TypeError: a config class that does not fit.
  """
  if not isinstance(name, str) or not _NAME.fullmatch(name):
    raise ValueError(f"A model family's name is lower case letters, digits "
                     f"and _ (e.g. pixel_logistic); got {name!r}.")
  _check_config_class(name, config)
  unknown = sorted(set(capabilities) - set(CAPABILITIES))
  if unknown:
    raise ValueError(f"register({name!r}): unknown capabilities "
                     f"{', '.join(unknown)}; known: {', '.join(CAPABILITIES)}.")
  old = _REGISTRY.get(name)
  if old is not None and (old.config_class.__qualname__,
                          old.config_class.__module__) != (
                              config.__qualname__, config.__module__):
    raise ValueError(
        f"Model family {name!r} is registered already ({old.config_class.__name__}"
        f" of {old.config_class.__module__}); choose another name.")
  taken = getattr(config, "family", None)
  if taken is not None and taken != name and taken in _REGISTRY:
    raise ValueError(f"register({name!r}): {config.__name__} is the config of "
                     f"the family {taken!r} already.")
  config.family = name
  family = Family(
      name=name, config_class=config, model=model, title=title or name,
      flag_prefix=f"{name}_" if flag_prefix is None else flag_prefix,
      capabilities=frozenset(capabilities),
      benchmark=config() if benchmark is None else benchmark,
      initializes=initializes,
      module=module if module is not None else _default_module(config))
  if not isinstance(family.benchmark, config):
    raise TypeError(f"register({name!r}): benchmark must be a "
                    f"{config.__name__}; got {type(family.benchmark).__name__}.")
  _REGISTRY[name] = family   # a module imported again replaces its family
  return family


def unregister(name):
  """Removes the family `name` (for tests and notebooks); built-ins stay."""
  if name in _BUILT_IN:
    raise ValueError(f"{name!r} is a built-in model family; it stays.")
  _REGISTRY.pop(name, None)


def _unknown(name, module):
  recorded = ""
  if module is not None:
    recorded = (f" (importing its module {module!r}, recorded with it, "
                "registered no such family)")
  return ValueError(
      f"Unknown model family {name!r}{recorded}; known: {', '.join(names())}. "
      "A family from outside glow_ood is registered by its own module: pass "
      "--model_module=<that module> (it calls glow_ood.models.register).")


def get(name, module=None):
  """The `Family` called `name`; first imports `module` if it is not registered.

  Args:
    name: the family's name.
    module: the module that registers it (config.json records it for a
      family from outside glow_ood), imported if `name` is unknown.

  Raises:
    ValueError: no such family (the message names the --model_module fix),
      or `module` cannot be imported.
  """
  if name not in _REGISTRY and module is not None:
    import_module(module, what=(
        f"The model family {name!r} is registered by its module {module} "
        "(recorded with it), which"))
  if name not in _REGISTRY:
    raise _unknown(name, module)
  return _REGISTRY[name]


def of_config(config, where="model"):
  """The `Family` of a model config (an instance of a registered config class).

  Raises:
    TypeError: `config` is no registered family's config.
  """
  family = _REGISTRY.get(getattr(type(config), "family", None))
  if family is None or family.config_class is not type(config):
    classes = ", ".join(f.config_class.__name__ for f in _REGISTRY.values())
    raise TypeError(f"{where} must be one of {classes}; got "
                    f"{type(config).__name__}.")
  return family


def names():
  """The registered families' names, in registration order."""
  return tuple(_REGISTRY)


def all_families():
  """The registered `Family`s, in registration order."""
  return tuple(_REGISTRY.values())


def with_capability(capability):
  """The registered families that offer `capability`."""
  return tuple(f for f in _REGISTRY.values() if f.has(capability))


def titles_with(capability):
  """`"Glow"` (or `"A or B"`): the titles of the families offering `capability`."""
  return " or ".join(f.title for f in with_capability(capability)) or "none"


def default_config():
  """The default family's default config (`TrainConfig.model`'s default)."""
  return get(DEFAULT).config_class()


def import_module(module, what=None):
  """Imports `module`, which registers families (they record it as their module).

  Args:
    module: dotted module name, e.g. `"my_models.pixel_logistic"`.
    what: the error message's subject. Default value: `--model_module=<it>`.

  Raises:
    ValueError: it cannot be imported (one line, with the fix).
  """
  what = what or f"--model_module={module}"
  if not isinstance(module, str) or not all(
      part.isidentifier() for part in module.split(".")):
    raise ValueError(f"{what}: {module!r} is not a module name (dotted, e.g. "
                     "my_models.pixel_logistic).")
  _importing.append(module)
  try:
    importlib.import_module(module)
  except ImportError as e:
    raise ValueError(
        f"{what} cannot be imported ({e}); run from the folder that holds "
        "it, or put it on the Python path (PYTHONPATH).") from None
  finally:
    _importing.pop()


# The built-in families.

register("glow", config=glow_config.GlowConfig,
         model="glow_ood.models.glow:Glow", title="Glow", flag_prefix="",
         capabilities=("decomposition", "temperature", "coupling_precision"),
         # CPU-size (2 cores: minutes per model).
         benchmark=glow_config.GlowConfig(num_steps_per_level=2,
                                          hidden_width=64),
         initializes="ActNorm")
register("pixelcnn", config=pixelcnn_config.PixelCNNConfig,
         model="glow_ood.models.pixelcnn:PixelCNN", title="PixelCNN++",
         capabilities=("statistics",),
         # Ren et al.'s released background setup (one hierarchy, 32 filters,
         # no dropout, no weight norm), with one ResNet layer per block and
         # ELU (TFP's concat_elu costs 3x the time here).
         benchmark=pixelcnn_config.PixelCNNConfig(
             num_resnet=1, num_hierarchies=1, num_filters=32,
             num_logistic_mix=5, dropout_p=0., activation="elu",
             use_weight_norm=False, use_data_init=False))
register("vae", config=vae_config.VAEConfig, model="glow_ood.models.vae:VAE",
         title="VAE", capabilities=("elbo", "statistics"),
         benchmark=vae_config.VAEConfig(widths=(32, 64, 128), latent_dim=32,
                                        eval_samples=100))
_BUILT_IN = frozenset(_REGISTRY)
