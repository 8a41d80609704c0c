"""Tests of the TF / TFP / tf-keras version check."""

import importlib.metadata
import os
import subprocess
import sys
import textwrap

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


def test_onednn_is_turned_on_unless_the_user_chose(monkeypatch):
  monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
  environment.use_onednn()
  assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
  monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
  environment.check_versions()
  assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"


def test_a_fresh_process_importing_glow_ood_runs_onednn_kernels():
  # TensorFlow reads the variable when it loads, so glow_ood must set it
  # before importing TensorFlow; the oneDNN convolution shows in a traced
  # and optimized graph as an _Mkl* kernel in the executed op types.
  code = textwrap.dedent("""
      import os
      os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)
      import glow_ood
      import tensorflow as tf
      from tensorflow.python.util import _pywrap_util_port
      print("ONEDNN", os.environ["TF_ENABLE_ONEDNN_OPTS"],
            _pywrap_util_port.IsMklEnabled())
  """)
  env = dict(os.environ)
  env.pop("TF_ENABLE_ONEDNN_OPTS", None)
  root = os.path.dirname(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))))
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, cwd=root, env=env, check=True).stdout
  assert "ONEDNN 1 True" in out, out
