r"""Renders the docs' tables from the experiment records in docs/results/.

A table in a markdown file under docs/ (or README.md) is a block

    <!-- table: <table id> -->
    | ... the rendered table ... |
    <!-- /table -->

whose body this script rewrites from the records (`scripts/doc_tables.py`
defines each table id). Run after adding or changing a record:

  python scripts/render_docs.py           # rewrite the blocks in place
  python scripts/render_docs.py --check   # exit 1 if any block is stale

A default-suite test runs the check, so a table never disagrees with the
records behind it.
"""

import argparse
import difflib
import glob
import os
import re
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _ROOT)
# pylint: disable=g-import-not-at-top,wrong-import-position
from scripts import doc_tables

BLOCK = re.compile(r"(<!-- table: (?P<id>[\w.-]+) -->\n)(?P<body>.*?)"
                   r"(<!-- /table -->)", re.DOTALL)
DOCS = ("README.md", os.path.join("docs", "*.md"))


def doc_files(root=_ROOT):
  files = []
  for pattern in DOCS:
    files.extend(sorted(glob.glob(os.path.join(root, pattern))))
  return files


def render_text(text, tables, where):
  """`text` with every table block's body rendered from `tables`."""
  def body(match):
    table_id = match.group("id")
    if table_id not in tables:
      raise KeyError(f"{where}: unknown table id {table_id!r}; the ids are "
                     f"defined in scripts/doc_tables.py: {sorted(tables)}.")
    return match.group(1) + tables[table_id].rstrip("\n") + "\n" + match.group(4)
  return BLOCK.sub(body, text)


def render(root=_ROOT, check=False):
  """Renders (or checks) every doc; returns the files that were stale."""
  tables = doc_tables.render_all(os.path.join(root, "docs", "results"))
  stale = []
  for path in doc_files(root):
    with open(path, encoding="utf-8") as f:
      text = f.read()
    new = render_text(text, tables, os.path.relpath(path, root))
    if new == text:
      continue
    stale.append(path)
    if check:
      diff = difflib.unified_diff(
          text.splitlines(), new.splitlines(), os.path.relpath(path, root),
          "rendered from docs/results", lineterm="", n=0)
      print("\n".join(list(diff)[:40]))
    else:
      tmp = path + ".tmp"
      with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
      os.replace(tmp, path)
  return stale


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--check", action="store_true",
                      help="Exit 1 if a table differs from its records.")
  args = parser.parse_args()
  stale = render(check=args.check)
  if args.check and stale:
    print(f"{len(stale)} file(s) have tables that differ from docs/results: "
          "run `python scripts/render_docs.py` and commit the result.")
    return 1
  print(("Rewrote " + ", ".join(os.path.relpath(p, _ROOT) for p in stale))
        if stale else "Every table is in step with docs/results.")
  return 0


if __name__ == "__main__":
  sys.exit(main())
