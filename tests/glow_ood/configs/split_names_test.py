"""Tests of split names with slices (`glow_ood.configs.split_names`) and `DataConfig`'s split fields."""

import numpy as np
import pytest

from glow_ood import configs
from glow_ood.configs import split_names


@pytest.mark.parametrize("text, expected", [
    ("train", split_names.SplitSlice("train")),
    ("test[:9000]", split_names.SplitSlice("test", None, 9000)),
    ("test[9000:]", split_names.SplitSlice("test", 9000, None)),
    ("train[100:200]", split_names.SplitSlice("train", 100, 200)),
    ("test[:]", split_names.SplitSlice("test")),
    ("test[-1000:]", split_names.SplitSlice("test", -1000, None)),
    ("test[5:-5]", split_names.SplitSlice("test", 5, -5)),
])
def test_parse_split(text, expected):
  assert split_names.parse_split(text) == expected


def test_take_is_the_python_slice():
  array = np.arange(10)
  np.testing.assert_array_equal(
      split_names.parse_split("x[2:5]").take(array), [2, 3, 4])
  np.testing.assert_array_equal(
      split_names.parse_split("x[-3:]").take(array), [7, 8, 9])
  np.testing.assert_array_equal(split_names.parse_split("x").take(array),
                                array)


@pytest.mark.parametrize("text, problem", [
    ("", "is not a split"),
    ("test[1.5:]", "is not a split"),
    ("test[:9000", "is not a split"),
    ("test[a:b]", "is not a split"),
    ("test[1:2:3]", "is not a split"),
    ("test[10%:]", "is not a split"),
    ("[:5]", "is not a split"),
    ("test [:5]", "is not a split"),
    ("test[9000:100]", r"selects no images \(9000 >= 100\)"),
    ("test[5:5]", r"selects no images"),
    ("test[-1:-5]", r"selects no images"),
])
def test_bad_splits_are_refused_in_one_line_with_the_syntax(text, problem):
  with pytest.raises(ValueError, match=problem + r".*<name>\[<start>:<stop>\]"
                     ) as info:
    split_names.parse_split(text, "DataConfig.train_split")
  assert "\n" not in str(info.value)
  assert str(info.value).startswith(f"DataConfig.train_split={text!r}")


def test_data_config_defaults_and_validation():
  config = configs.DataConfig()
  assert (config.train_split, config.test_split) == ("train", "test")
  sliced = configs.DataConfig(train_split="test[:9000]",
                              test_split="test[9000:]")
  assert sliced.source_split("train") == split_names.SplitSlice("test", None,
                                                                9000)
  assert sliced.source_split("test") == split_names.SplitSlice("test", 9000)
  with pytest.raises(ValueError, match=r"DataConfig.test_split='test\[9000\]'"
                     " is not a split"):
    configs.DataConfig(test_split="test[9000]")
  with pytest.raises(ValueError, match=r"DataConfig.train_split=.*selects no"):
    sliced.replace(train_split="test[9000:9000]")
