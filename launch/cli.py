"""What every launcher prints when it stops on a user error."""

import os


def error_line(program_file, error):
  """`"launch/<program>.py: error: <message on one line>"` for `sys.exit`."""
  text = " ".join(line.strip() for line in str(error).splitlines()
                  if line.strip())
  return f"launch/{os.path.basename(program_file)}: error: {text}"
