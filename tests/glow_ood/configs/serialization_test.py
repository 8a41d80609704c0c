"""Tests of configs <-> JSON (`glow_ood.configs.serialization`, a run's config.json)."""

import json

import pytest

from glow_ood import configs
from glow_ood.configs import serialization


@pytest.mark.parametrize("config", [
    configs.TrainConfig(
        model=configs.GlowConfig(image_shape=(8, 8, 1), num_levels=2,
                                 coupling_scale="additive", seed=3),
        data=configs.DataConfig(dataset="toy", pad_to=8, data_dir="some/dir"),
        eval_datasets=("mnist", "constant:128"), grad_clip_norm=50.,
        sample_temperatures=(0.5,), nonfinite_loss_steps=(2, 5)),
    configs.EvaluationConfig(datasets=("mnist",), num_examples=None),
    configs.AnalysisConfig(datasets=("a", "b"), image_shape=(32, 32, 3)),
    configs.BenchmarkConfig(pairs=(("a", "b"), ("a", "constant:0"))),
    configs.TwoMoonsConfig(dims=(2, 4), max_log_scale=None),
    configs.GlowConfig.from_preset("cpu_tiny"),
])
def test_round_trip_through_json(config):
  payload = json.loads(json.dumps(serialization.to_dict(config)))
  assert payload["format_version"] == serialization.FORMAT_VERSION
  assert payload["type"] == type(config).__name__
  back = serialization.from_dict(payload)
  assert back == config and type(back) is type(config)


def test_nested_tuples_come_back_as_tuples():
  config = configs.BenchmarkConfig(pairs=(("a", "b"),))
  back = serialization.from_dict(json.loads(json.dumps(
      serialization.to_dict(config))))
  assert back.pairs == (("a", "b"),) and isinstance(back.pairs[0], tuple)


def _payload(**changes):
  payload = serialization.to_dict(configs.TrainConfig())
  payload.update(changes)
  return payload


@pytest.mark.parametrize("payload, message", [
    (_payload(format_version=2), r"format_version 2 is not 1"),
    (_payload(type="Foo"), r"Unknown config type 'Foo'"),
    ({"config": {}}, r"format_version None"),
    ([], r"Not a glow_ood config"),
])
def test_unreadable_payloads_raise_with_the_reason(payload, message):
  with pytest.raises(ValueError, match=message):
    serialization.from_dict(payload)


def test_unknown_fields_and_bad_values_raise():
  payload = _payload()
  payload["config"]["model"]["num_blocks"] = 3
  with pytest.raises(ValueError, match=r"TrainConfig.model: GlowConfig has no "
                     r"field\(s\) num_blocks"):
    serialization.from_dict(payload)
  payload = _payload()
  payload["config"]["model"]["coupling_scale"] = "affine"
  with pytest.raises(ValueError, match="coupling_scale='affine'"):
    serialization.from_dict(payload)


def test_expected_type_is_checked():
  payload = serialization.to_dict(configs.GlowConfig())
  with pytest.raises(ValueError, match="Expected a TrainConfig, found a "
                     "GlowConfig"):
    serialization.from_dict(payload, configs.TrainConfig)


def test_to_dict_takes_only_configs():
  with pytest.raises(TypeError, match="takes a glow_ood config"):
    serialization.to_dict(object())


def test_a_config_json_from_before_the_split_fields_loads_with_their_defaults():
  config = configs.TrainConfig(data=configs.DataConfig(dataset="svhn_cropped"))
  payload = json.loads(json.dumps(serialization.to_dict(config)))
  for name in ("train_split", "test_split"):
    del payload["config"]["data"][name]
  back = serialization.from_dict(payload)
  assert back == config
  assert (back.data.train_split, back.data.test_split) == ("train", "test")
  sliced = config.replace(data=config.data.replace(train_split="test[:9000]",
                                                   test_split="test[9000:]"))
  assert serialization.from_dict(json.loads(json.dumps(
      serialization.to_dict(sliced)))) == sliced


def test_a_config_json_from_before_edge_padding_loads_with_it_off():
  config = configs.TrainConfig(model=configs.GlowConfig.from_preset("cpu_tiny"))
  payload = json.loads(json.dumps(serialization.to_dict(config)))
  del payload["config"]["model"]["coupling_edge_padding"]
  back = serialization.from_dict(payload)
  assert back == config and back.model.coupling_edge_padding is False
  edged = config.replace(model=config.model.replace(coupling_edge_padding=True))
  assert serialization.from_dict(json.loads(json.dumps(
      serialization.to_dict(edged)))).model.coupling_edge_padding is True
