"""One rule for the flags of the model families a program is not running."""

__all__ = ["refuse_other_family_flags"]


def refuse_other_family_flags(flag_values, family, flags_of):
  """Raises `ValueError` if a flag of another family than `family` was changed.

  A flag of another family is refused where it was given with a value other
  than its default (shared flagfiles, e.g. base.cfg, set a few of Glow's to
  openai/glow's values), so that it is never silently ignored.

  Args:
    flag_values: the parsed `absl.flags.FlagValues`.
    family: the program's family (`--model`).
    flags_of: `{family: flag names of that family only}`.
  """
  for other, names in flags_of.items():
    if other == family:
      continue
    for name in names:
      flag = flag_values[name]
      if flag.present and flag.value != flag.default:
        raise ValueError(
            f"--{name}={flag.serialize().split('=', 1)[-1]} is a flag of "
            f"--model={other}; this run is --model={family}, where it would be "
            f"ignored. Remove it, or set --model={other}.")
