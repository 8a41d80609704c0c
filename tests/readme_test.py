"""The README's Python examples run as written (in a scratch folder)."""

import os
import re

import pytest

from glow_ood.configs import families
from tests import REPO
from tests import shared_data

# The end-to-end tier (tests/conftest.py): run with `-m slow`.
pytestmark = pytest.mark.slow

README = os.path.join(REPO, "README.md")


@shared_data.needs("fashion_mnist_train.npz", "fashion_mnist_test.npz")
def test_readme_python_examples_run(capsys, tmp_path, monkeypatch):
  with open(README, encoding="utf-8") as f:
    blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
  assert blocks, "README.md has no python example"
  monkeypatch.chdir(tmp_path)   # the examples write runs/ where they run
  registered = families.names()
  try:
    for block in blocks:
      exec(compile(block, "README.md", "exec"), {})  # pylint: disable=exec-used
  finally:   # the README's own model family is gone again
    for name in set(families.names()) - set(registered):
      families.unregister(name)
  printed = capsys.readouterr().out.splitlines()
  # The examples' own prints, in order (training prints progress between).
  expected = ["4 True", "pixel_logistic", "(16,)", "(2, 8, 8, 4)", "(4,)"]
  assert [line for line in printed if line in expected] == expected, printed
