"""The catalogue holds exactly `EXPECTED_CASES` cases, each with a unique id.

An exact number, so that a case that silently stops being collected (a
module renamed without `_test`, a `CASES` entry lost in a merge) fails here.
Whoever adds or removes a case updates `EXPECTED_CASES` in the same change.
"""

import collections
import importlib
import pkgutil

import tests.catalogue as catalogue

# api 40, cluster 4, disk 12, inputs 31, preemption 2, runs 38.
EXPECTED_CASES = 127


def _cases():
  for info in pkgutil.iter_modules(catalogue.__path__):
    if info.name.endswith("_test") and info.name != "count_test":
      module = importlib.import_module(f"tests.catalogue.{info.name}")
      for case in module.CASES:
        yield info.name, case.id


def test_the_catalogue_holds_exactly_the_expected_cases_with_unique_ids():
  cases = list(_cases())
  ids = [f"{module}::{case_id}" for module, case_id in cases]
  assert len(ids) == len(set(ids)), [
      i for i, n in collections.Counter(ids).items() if n > 1]
  assert all(case_id for _, case_id in cases)
  per_module = dict(sorted(collections.Counter(m for m, _ in cases).items()))
  assert len(ids) == EXPECTED_CASES, (
      f"the catalogue holds {len(ids)} cases ({per_module}), not "
      f"{EXPECTED_CASES}: if you added or removed cases on purpose, set "
      f"EXPECTED_CASES in tests/catalogue/count_test.py to {len(ids)} (and "
      "its per-module comment); otherwise a case is no longer collected.")
