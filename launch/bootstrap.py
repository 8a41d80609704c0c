"""What every launcher does first and last: environment, logging, one-line errors.

Import it before anything that imports TensorFlow:

    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from launch import bootstrap  # pylint: disable=g-bad-import-order

It keeps TFP on tf-keras (`TF_USE_LEGACY_KERAS=1`) and TensorFlow's C++
start-up lines quiet; `bootstrap.run(main, __file__, required=[...])` then
runs an absl program with TensorFlow's own INFO lines dropped from the
terminal, and turns the user errors of `USER_ERRORS` (bad flags, missing data
or runs, a diverged run) into one line `launch/<program>.py: error: <what and
the fix>` and exit 1; a write the disk refused (full, read-only:
`glow_ood.write_errors.WriteFailedError`) into the same kind of line, naming
the file and the errno, and exit `glow_ood.write_errors.EXIT_CODE` (74). Each launcher wraps that call in `console_main()`, the
entry point of its console script (`glow-ood-train`, ... in setup.py), so
`python launch/train.py` and `glow-ood-train` are the same program.

A launcher that serves model families calls `import_model_modules(__file__)`
before it defines its flags: every `--model_module=` (on the command line or
in a flagfile) is imported then, from the current folder or the Python path,
so the families it registers (`glow_ood.models.register`) get their flags.

Before absl parses the command line, `expand_flagfiles` inlines every
`--flagfile=FILE`, resolving a `--flagfile=` line inside FILE relative to
FILE's own folder (falling back to the current folder, where such lines were
resolved before), so a flagfile works from any folder. `--help` prints the
launcher's docstring and its own flags by group (`help_text`), with choices,
defaults and the required ones marked; `--helpfull` is absl's list of all.
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN kernels also on AVX2-only CPUs (see glow_ood.environment.use_onednn).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# pylint: disable=g-import-not-at-top,wrong-import-position
import logging

from absl import app
from absl import flags
from absl import logging as absl_logging

__all__ = ["USER_ERRORS", "FlagfileError", "error_line", "expand_flagfiles",
           "import_model_modules", "help_text", "run"]

# Errors that are the user's to fix (configuration, data, run folders), not
# bugs: printed as one line. `FloatingPointError` covers a diverged run.
USER_ERRORS = (ValueError, FileNotFoundError, FloatingPointError)


def error_line(program_file, error):
  """`"launch/<program>.py: error: <message on one line>"` for `sys.exit`."""
  text = " ".join(line.strip() for line in str(error).splitlines()
                  if line.strip())
  return f"launch/{os.path.basename(program_file)}: error: {text}"


class _QuietTensorFlowInfo(logging.Filter):
  """Drops TensorFlow's own INFO lines (e.g. one per checkpoint shard); ours stay."""

  def filter(self, record):
    return (record.levelno > logging.INFO or
            f"{os.sep}tensorflow{os.sep}" not in record.pathname)


class FlagfileError(flags.Error):
  """A `--flagfile=` that cannot be read: missing, unreadable or circular."""


_FLAGFILE_DIRECTIVES = ("--flagfile", "-flagfile")


def _flagfile_path(arg):
  """FILE of `--flagfile=FILE` / `-flagfile=FILE`, else `None`."""
  for directive in _FLAGFILE_DIRECTIVES:
    if arg.startswith(directive + "="):
      return os.path.expanduser(arg[len(directive) + 1:].strip())
  return None


def _resolve(path, including):
  """The file a `--flagfile=path` means, as an absolute path.

  On the command line (`including` is None): relative to the current folder.
  Inside the flagfile `including`: relative to `including`'s folder, else to
  the current folder (how absl resolves it, kept for older flagfiles).
  """
  if os.path.isabs(path):
    return path
  if including is None:
    return os.path.abspath(path)
  beside = os.path.join(os.path.dirname(including), path)
  if os.path.exists(beside) or not os.path.exists(path):
    return os.path.abspath(beside)
  return os.path.abspath(path)


def _read_flagfile(path, including, stack):
  resolved = _resolve(path, including)
  where = f"{including}: " if including else ""
  if resolved in stack:
    raise FlagfileError(
        f"{where}--flagfile={path} includes itself ("
        + " -> ".join(stack + (resolved,)) + "); remove the circular line.")
  try:
    with open(resolved, encoding="utf-8") as f:
      lines = f.readlines()
  except OSError as e:
    looked = (f"in {os.path.dirname(including)} or in the current folder "
              f"{os.getcwd()}" if including and not os.path.isabs(path)
              else f"as {resolved}")
    raise FlagfileError(
        f"{where}cannot read --flagfile={path} (looked {looked}: "
        f"{e.strerror or e}); fix the path. Inside a flagfile, a --flagfile= "
        "line is relative to that flagfile's folder.") from None
  expanded = []
  for line in lines:
    line = line.strip()
    if not line or line.startswith(("#", "//")):
      continue
    nested = _flagfile_path(line)
    if nested is None:
      expanded.append(line)
    else:
      expanded += _read_flagfile(nested, resolved, stack + (resolved,))
  return expanded


def expand_flagfiles(args):
  """`args` with every `--flagfile=FILE` replaced by FILE's flags, recursively.

  What absl does with `--flagfile`, with one difference: a `--flagfile=` line
  inside FILE is relative to FILE's folder (else, as absl has it, to the
  current folder), so `--flagfile=/abs/launch/flagfiles/smoke.cfg` works from
  any folder. As in absl, blank lines and lines starting with `#` or `//` are
  skipped, later flags win, and nothing after `--` is read.

  Args:
    args: command-line arguments without the program name.

  Returns:
    A new list of arguments with no `--flagfile` left.

  Raises:
    FlagfileError: a flagfile is missing, unreadable or includes itself.
  """
  args, expanded = list(args), []
  while args:
    arg = args.pop(0)
    if arg == "--":
      expanded += [arg] + args
      break
    if arg in _FLAGFILE_DIRECTIVES:
      if not args:
        raise FlagfileError(f"{arg} needs a file: {arg}=FILE.")
      path = os.path.expanduser(args.pop(0))
    else:
      path = _flagfile_path(arg)
    if path is None:
      expanded.append(arg)
    else:
      expanded += _read_flagfile(path, None, ())
  return expanded


def import_model_modules(program_file, argv=None):
  """Imports the `--model_module`s of the command line before flags are defined.

  The current folder is put at the end of `sys.path` first (as `python -m`
  puts it at the start), so a module beside the command, or one a run's
  config.json names, imports. A flagfile that cannot be read is left to the
  flag parser to report; a module that cannot be imported exits with one line.

  Args:
    program_file: the launcher's `__file__`, for the error line.
    argv: the command line. Default value: `sys.argv`.
  """
  from glow_ood.flags import families  # pylint: disable=g-import-not-at-top
  if os.getcwd() not in sys.path:
    sys.path.append(os.getcwd())
  try:
    args = expand_flagfiles((sys.argv if argv is None else argv)[1:])
  except FlagfileError:
    return
  try:
    families.import_model_modules(args)
  except ValueError as e:
    sys.exit(error_line(program_file, e))


_HELP_ARGS = ("--help", "-help", "--helpshort", "-helpshort", "-?", "-h")


def _program_flags(flag_values):
  """The flags the program defined (glow_ood.flags, launch), in definition order."""
  names = set()
  for module, defined in flag_values.flags_by_module_dict().items():
    if module.startswith(("glow_ood.", "launch")) or module in (
        sys.argv[0], "__main__"):
      names.update(f.name for f in defined)
  return [flag_values[name] for name in dict.fromkeys(flag_values)
          if name in names and flag_values[name].name == name]


def _render_flag(flag, required):
  """One flag as absl's `--help` shows it, `[required]` marked."""
  text = f"--[no]{flag.name}: " if flag.boolean else f"--{flag.name}: "
  text += ("[required] " if flag.name in required else "") + (flag.help or "")
  lines = [flags.text_wrap(text, indent="      ", firstline_indent="  ")]
  if flag.default_as_str:
    lines.append(flags.text_wrap(f"(default: {flag.default_as_str})",
                                 indent="      ", firstline_indent="    "))
  if flag.parser.syntactic_help:
    lines.append(flags.text_wrap(f"({flag.parser.syntactic_help})",
                                 indent="      ", firstline_indent="    "))
  return "\n".join(lines)


def help_text(flag_values, doc, required=()):
  """`--help`: `doc`, then the program's own flags by group (`_fields.flag_groups`).

  Flags in no group (run folders, the model family, ...) come first, under
  "general"; then each group in definition order.
  """
  from glow_ood.flags import _fields  # pylint: disable=g-import-not-at-top
  own = _program_flags(flag_values)
  groups = {title: [f for f in group if f in own]
            for title, group in _fields.flag_groups(flag_values).items()}
  grouped = {f.name for group in groups.values() for f in group}
  groups = {"general": [f for f in own if f.name not in grouped], **groups}
  out = [(doc or "").strip("\n"), "", flags.text_wrap(
      "Flags" + (" (--" + ", --".join(required) + " required)"
                 if required else "")
      + ". --flagfile=FILE reads flags from FILE (one per line; a "
      "--flagfile= line in it is relative to FILE's folder; later flags "
      "win); --helpfull lists absl's flags too.")]
  for title, group in groups.items():
    if group:
      out += ["", f"{title}:"] + [_render_flag(f, required) for f in group]
  return "\n".join(out) + "\n"


def _parse_flags(program_file, doc, required):
  """absl's flag parser behind `expand_flagfiles` and our `--help`."""
  def parse(argv):
    try:
      args = expand_flagfiles(argv[1:])
    except FlagfileError as e:
      sys.exit(error_line(program_file, e))
    head = args[:args.index("--")] if "--" in args else args
    if any(arg in _HELP_ARGS for arg in head):
      sys.stdout.write(help_text(flags.FLAGS, doc, required))
      sys.exit(0)
    return app.parse_flags_with_usage(argv[:1] + args)
  return parse


def _write_errors():
  from glow_ood import write_errors  # pylint: disable=g-import-not-at-top
  return write_errors


def _failed_write(error):
  """`error` as a `WriteFailedError` if the disk refused a write, else `None`.

  A `WriteFailedError` of the library as it is; any other `OSError` or
  TensorFlow error of a full or read-only disk (`ENVIRONMENT_ERRNOS`, which
  no read meets), so that no write of any program ends in a traceback.
  """
  write_errors = _write_errors()
  return write_errors.from_error(error,
                                 errnos=write_errors.ENVIRONMENT_ERRNOS)


def run(main, program_file, required=()):
  """`app.run(main)` with `required` flags, quiet TensorFlow, one-line user errors.

  Flagfiles are expanded by `expand_flagfiles` (nested ones relative to their
  includer) and `--help` shows `help_text` (the docstring of `main`'s module
  and the program's flags by group) before absl parses the flags.

  Args:
    main: `main(argv)`; positional arguments are refused before it runs.
    program_file: the launcher's `__file__`, for the error line.
    required: names of flags that must be given.
  """
  def wrapped(argv):
    if len(argv) > 1:
      raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.get_logger().setLevel("ERROR")
    absl_logging.get_absl_logger().addFilter(_QuietTensorFlowInfo())
    try:
      return main(argv)
    except USER_ERRORS as e:
      sys.exit(error_line(program_file, e))
    except Exception as e:  # pylint: disable=broad-except
      failed = _failed_write(e)
      if failed is None:
        raise
      print(error_line(program_file, failed), file=sys.stderr, flush=True)
      sys.exit(_write_errors().EXIT_CODE)

  if required:
    flags.mark_flags_as_required(list(required))
  doc = getattr(sys.modules.get(main.__module__), "__doc__", None)
  app.run(wrapped, flags_parser=_parse_flags(program_file, doc, required))
