"""The catalogue holds at least 30 cases, each with a unique id."""

import importlib
import pkgutil

import tests.catalogue as catalogue


def _cases():
  for info in pkgutil.iter_modules(catalogue.__path__):
    if info.name.endswith("_test") and info.name != "count_test":
      module = importlib.import_module(f"tests.catalogue.{info.name}")
      for case in module.CASES:
        yield info.name, case.id


def test_the_catalogue_holds_at_least_30_cases_with_unique_ids():
  cases = list(_cases())
  ids = [f"{module}::{case_id}" for module, case_id in cases]
  assert len(ids) == len(set(ids))
  assert all(case_id for _, case_id in cases)
  assert len(ids) >= 30, ids
