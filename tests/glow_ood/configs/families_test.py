"""The model families in the configs: the registry, validation, config.json, flags."""

import dataclasses
import json

from absl import flags
import pytest

from glow_ood import configs
from glow_ood import models
from glow_ood.flags import train as train_flags


@pytest.mark.parametrize("model", [configs.GlowConfig(),
                                   configs.PixelCNNConfig(),
                                   configs.VAEConfig()])
def test_config_json_round_trip_keeps_the_family(model):
  config = configs.TrainConfig(model=model)
  payload = json.loads(json.dumps(configs.to_dict(config)))
  assert payload["config"]["model"]["family"] == model.family
  again = configs.from_dict(payload)
  assert again == config and type(again.model) is type(model)
  assert again.family == model.family


def test_a_config_json_written_before_families_is_a_glow():
  payload = configs.to_dict(configs.TrainConfig())
  del payload["config"]["model"]["family"]
  assert configs.from_dict(payload).model == configs.GlowConfig()


def test_an_unknown_family_in_config_json_is_refused():
  payload = configs.to_dict(configs.TrainConfig())
  payload["config"]["model"]["family"] = "diffusion"
  with pytest.raises(ValueError, match=r"Unknown model family 'diffusion'; "
                                       r"known: glow, pixelcnn, vae\. .*pass "
                                       r"--model_module="):
    configs.from_dict(payload)


@pytest.mark.parametrize("make, message", [
    (lambda: configs.PixelCNNConfig(image_shape=(30, 30, 1)),
     r"PixelCNNConfig: 3 hierarchies need H and W divisible by 4; "
     r"image_shape is \(30, 30, 1\).*fewer --pixelcnn_num_hierarchies"),
    (lambda: configs.VAEConfig(image_shape=(28, 28, 1)),
     r"VAEConfig: 3 stride-2 layers need H and W divisible by 8.*"
     r"--pad_to=32.*fewer --vae_widths"),
    (lambda: configs.VAEConfig(widths=()), r"needs at least one layer"),
    (lambda: configs.VAEConfig(likelihood="gaussian"),
     r"likelihood='gaussian' is not one of"),
    (lambda: configs.PixelCNNConfig(dropout_p=1.), r"dropout_p must be in"),
    (lambda: configs.TrainConfig(model=configs.PixelCNNConfig(),
                                 mixed_precision="float16"),
     r"--mixed_precision applies to Glow's coupling networks only; a "
     r"pixelcnn run cannot use it"),
    (lambda: configs.TrainConfig(model=configs.VAEConfig(),
                                 recompute_couplings=True,
                                 mixed_precision="bfloat16"),
     r"--mixed_precision and --recompute_couplings apply to Glow's"),
])
def test_bad_family_configs_are_refused(make, message):
  with pytest.raises(ValueError, match=message):
    make()


def _config(*argv):
  values = flags.FlagValues()
  train_flags.define_train_flags(values)
  values(["train.py", *argv])
  return values, train_flags.to_train_config(values)


def test_the_model_flag_picks_the_family_and_shared_flags_apply():
  _, config = _config("--model=vae", "--image_shape=16,16,1", "--n_bits=5",
                      "--model_seed=3", "--vae_widths=8,16")
  assert config.model == configs.VAEConfig(image_shape=(16, 16, 1), n_bits=5,
                                           seed=3, widths=(8, 16))
  assert config.data.n_bits == 5
  values, config = _config("--model=pixelcnn", "--image_shape=8,8,1",
                           "--pixelcnn_num_filters=4")
  assert config.model.num_filters == 4 and config.family == "pixelcnn"
  written = set(train_flags.train_flags(values))
  assert "pixelcnn_num_filters" in written and "image_shape" in written
  assert not written & {"num_levels", "vae_widths"}


@pytest.mark.parametrize("argv, message", [
    (["--model=vae", "--pixelcnn_num_filters=4"],
     r"--pixelcnn_num_filters=4 is a flag of --model=pixelcnn; this run is "
     r"--model=vae"),
    (["--pixelcnn_num_filters=4"],
     r"--pixelcnn_num_filters=4 is a flag of --model=pixelcnn; this run is "
     r"--model=glow"),
    (["--model=pixelcnn", "--num_levels=2"],
     r"--num_levels=2 is a flag of --model=glow"),
])
def test_another_familys_flags_are_refused(argv, message):
  with pytest.raises(ValueError, match=message):
    _config(*argv)


def test_glow_flags_at_their_defaults_pass_for_other_families():
  # Shared flagfiles (base.cfg) set Glow's flags to openai/glow's values.
  _, config = _config("--model=vae", "--coupling_scale=sigmoid",
                      "--permutation=conv1x1")
  assert config.family == "vae"


def test_registry():
  assert configs.families.names() == ("glow", "pixelcnn", "vae")
  for family in configs.families.names():
    assert models.config_class(family).family == family
    model_class = models.model_class(family)
    assert issubclass(model_class, models.DensityModel)
    assert model_class.__module__ == f"glow_ood.models.{family}"
  with pytest.raises(ValueError, match=r"Unknown model family 'flow'"):
    models.config_class("flow")
  with pytest.raises(TypeError, match=r"build_model needs a model config"):
    models.build_model(configs.DataConfig())
  assert models.describe(configs.VAEConfig()).startswith("VAE (widths 64,128")


def test_capabilities_come_from_the_registry():
  families = configs.families
  assert [f.name for f in families.with_capability("decomposition")] == ["glow"]
  assert families.get("vae").capabilities == frozenset({"elbo", "statistics"})
  assert families.titles_with("coupling_precision") == "Glow"
  assert families.titles_with("statistics") == "PixelCNN++ or VAE"
  assert families.of_config(configs.VAEConfig()).initializes == "the model"
  with pytest.raises(ValueError, match=r"Unknown capability 'latents'; known: "
                                       r"decomposition, elbo, statistics"):
    families.get("glow").has("latents")


@dataclasses.dataclass(frozen=True)
class _NoBits:
  image_shape: tuple = (8, 8, 1)
  dtype: str = "float32"
  seed: int = 0


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(name="Pixel-Logistic"), ValueError, r"lower case letters, digits"),
    (dict(config=_NoBits), TypeError,
     r"_NoBits must be a frozen dataclass with the fields image_shape, "
     r"n_bits, dtype, seed .*; it lacks n_bits\."),
    (dict(capabilities=("latents",)), ValueError,
     r"unknown capabilities latents"),
    (dict(name="glow"), ValueError,
     r"Model family 'glow' is registered already \(GlowConfig of "
     r"glow_ood.configs.model\); choose another name\."),
    (dict(config=configs.VAEConfig), ValueError,
     r"VAEConfig is the config of the family 'vae' already"),
])
def test_register_refuses_what_does_not_fit(kwargs, error, message):
  values = dict(name="mine", config=configs.families.get("vae").config_class,
                model="my_models:Mine")
  values.update(kwargs)
  if "config" not in kwargs:
    values["config"] = dataclasses.make_dataclass(
        "MineConfig", [(f.name, f.type, dataclasses.field(default=f.default))
                       for f in dataclasses.fields(configs.VAEConfig)],
        frozen=True, namespace={"num_dims": 1, "replace": None})
  name = values.pop("name")
  with pytest.raises(error, match=message):
    configs.families.register(name, **values)
  assert configs.families.names() == ("glow", "pixelcnn", "vae")
