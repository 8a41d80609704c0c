"""The flags of the model families, read from their registry (`configs.families`).

`--model` picks a registered family; `--model_module` names a module of the
user's that registers families of its own (`glow_ood.models.register`),
imported before any flag is defined (`import_model_modules`, which the
launchers call first), so that its families get their flags. Each family's
own fields get flags with its prefix (`family_selection`); the fields all
families share (`families.SHARED_FIELDS`) one flag each. A flag of another
family than `--model`'s is refused unless at its default.
"""

import dataclasses

from glow_ood.configs import _validation
from glow_ood.configs import families
from glow_ood.flags import _fields

__all__ = ["define_model_flags", "define_model_module_flag", "family_selection", "own_flag_names",
           "refuse_other_family_flags", "model_modules",
           "import_model_modules", "MODEL_MODULE_HELP"]

MODEL_MODULE_HELP = (
    "A Python module (dotted name, importable from the current folder or "
    "the Python path) imported first: it registers a model family of your "
    "own with glow_ood.models.register, which --model can then name. "
    "Runs record it in config.json (README: bring your own model).")


def define_model_flags(definer, help_text):
  """Defines `--model` (a registered family) and `--model_module` with `definer`."""
  definer.DEFINE_enum("model", families.DEFAULT, list(families.names()),
                      help_text)
  define_model_module_flag(definer)


def define_model_module_flag(definer, reads_runs=False):
  """Defines `--model_module` with `definer` (`reads_runs`: a program of runs)."""
  definer.DEFINE_string("model_module", None, MODEL_MODULE_HELP + (
      " A run's own module, recorded in its config.json, is imported "
      "without it." if reads_runs else ""))


def family_selection(family):
  """`flag_names` selection of a family's own fields: its prefix, shared ones out."""
  rename = {}
  for field in dataclasses.fields(family.config_class):
    flag = _validation.field_info(field)["flag"]
    rename[field.name] = family.flag_prefix + (
        flag if isinstance(flag, str) else field.name)
  return dict(exclude=families.SHARED_FIELDS, rename=rename)


def own_flag_names(family):
  """The flag names of a family's own fields."""
  return list(_fields.flag_names(family.config_class,
                                 **family_selection(family)))


def refuse_other_family_flags(flag_values, family):
  """Raises `ValueError` if a flag of another family than `family` was changed.

  A flag of another family is refused where it was given with a value other
  than its default (shared flagfiles, e.g. base.cfg, set a few of Glow's to
  openai/glow's values), so that it is never silently ignored.

  Args:
    flag_values: the parsed `absl.flags.FlagValues`.
    family: the program's family's name (`--model`).
  """
  for other in families.all_families():
    if other.name == family:
      continue
    for name in own_flag_names(other):
      flag = flag_values[name]
      if flag.present and flag.value != flag.default:
        raise ValueError(
            f"--{name}={flag.serialize().split('=', 1)[-1]} is a flag of "
            f"--model={other.name}; this run is --model={family}, where it "
            f"would be ignored. Remove it, or set --model={other.name}.")


def model_modules(args):
  """The values of `--model_module=X` (or `--model_module X`) among `args`."""
  found = []
  for i, arg in enumerate(args):
    if arg == "--":
      break
    for prefix in ("--model_module=", "-model_module="):
      if arg.startswith(prefix):
        found.append(arg[len(prefix):])
    if arg in ("--model_module", "-model_module") and i + 1 < len(args):
      found.append(args[i + 1])
  return [module for module in found if module]


def import_model_modules(args):
  """Imports every `--model_module` among `args` (expanded flagfile lines).

  Raises:
    ValueError: a module cannot be imported (one line).
  """
  for module in model_modules(args):
    families.import_module(module)
