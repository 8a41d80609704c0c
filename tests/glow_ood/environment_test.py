"""Tests of the TF / TFP / tf-keras version check."""

import importlib.metadata

import pytest

from glow_ood import environment


def test_installed_stack_passes():
  environment.check_versions()


@pytest.mark.parametrize("versions, message", [
    ({"tensorflow": "2.21.0", "tensorflow-probability": "0.23.0",
      "tf-keras": "2.21.0"}, "needs tensorflow-probability 0.25"),
    ({"tensorflow": "2.15.0", "tensorflow-probability": "0.25.0",
      "tf-keras": "2.15.0"}, "not a verified version"),
    ({"tensorflow": "2.21.0", "tensorflow-probability": "0.25.0",
      "tf-keras": "2.19.0"}, "does not match tensorflow"),
    ({"tensorflow": "2.21.0", "tensorflow-probability": "0.25.0"},
     "tf-keras is not installed"),
])
def test_known_bad_stacks_fail_with_the_install_command(monkeypatch, versions,
                                                        message):
  def fake_version(package):
    if package in versions:
      return versions[package]
    raise importlib.metadata.PackageNotFoundError(package)

  monkeypatch.setattr(environment.importlib.metadata, "version", fake_version)
  monkeypatch.delenv("GLOW_OOD_SKIP_VERSION_CHECK", raising=False)
  with pytest.raises(ImportError, match=message) as error:
    environment.check_versions()
  assert "pip install" in str(error.value)
