"""The README's benchmark table quotes only numbers that its cited report files hold."""

import os
import re

from tests import REPO

_START = "<!-- benchmark numbers: docs/results/benchmarks -->"
_END = "<!-- /benchmark numbers -->"


def _section():
  with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
    text = f.read()
  start, end = text.index(_START), text.index(_END)
  table = text[start:end]
  # The files follow the table, as links, up to the next blank line.
  after = text[end:].split("\n\n", 2)[1]
  files = re.findall(r"\((docs/results/benchmarks/[^)]+)\)", after)
  return table, files


def test_every_cited_report_exists_with_its_header():
  _, files = _section()
  assert files
  for path in files:
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
      lines = f.read().splitlines()
    assert lines[0].startswith("command: python benchmarks/"), path
    assert lines[1].startswith("commit: ") and lines[2].startswith("machine: ")


def test_every_decimal_number_of_the_table_is_in_a_cited_report():
  table, files = _section()
  reports = ""
  for path in files:
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
      reports += f.read()
  numbers = re.findall(r"\d+\.\d+", table)
  assert len(numbers) > 20
  missing = [n for n in numbers if n not in reports]
  assert not missing, f"not in {files}: {missing}"
