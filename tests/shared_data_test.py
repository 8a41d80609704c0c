"""Tests of `tests.shared_data`: a missing data file skips a test, and fails it under CI."""

import pytest

from tests import shared_data


def test_missing_data_skips_with_the_reason_and_fails_under_ci(tmp_path,
                                                               monkeypatch):
  monkeypatch.setenv("GLOW_OOD_DATA_DIR", str(tmp_path))
  (tmp_path / "here_test.npz").write_bytes(b"")
  assert shared_data.missing(["here_test.npz", "gone_test.npz"]) == [
      "gone_test.npz"]
  shared_data.require("here_test.npz")   # present: nothing happens
  for ci in ("", "false"):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception,
                       match=rf"gone_test.npz not in {tmp_path}"):
      shared_data.require("here_test.npz", "gone_test.npz")
  for ci in ("true", "1", "TRUE"):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception,
                       match=r"gone_test.npz not in .*CI is set, so a missing "
                       "data file fails the test instead of skipping it"):
      shared_data.require("here_test.npz", "gone_test.npz")


@shared_data.needs("fashion_mnist_train.npz")
def test_the_marker_runs_a_test_whose_data_is_there():
  assert not shared_data.missing(["fashion_mnist_train.npz"])
