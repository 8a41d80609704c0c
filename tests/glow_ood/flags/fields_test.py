"""Flags are defined from config fields: same defaults, choices, ranges and help."""

from absl import flags
import pytest

from glow_ood import configs
from glow_ood import flags as glow_flags
from glow_ood.flags import _fields


def _parsed(define, *argv):
  values = flags.FlagValues()
  define(values)
  values(["program", *argv])
  return values


def test_default_flags_give_the_default_configs():
  assert glow_flags.to_train_config(
      _parsed(glow_flags.define_train_flags)) == configs.TrainConfig()
  assert glow_flags.to_analysis_config(
      _parsed(glow_flags.define_analyze_data_flags)) == configs.AnalysisConfig()
  assert glow_flags.to_benchmark_config(
      _parsed(glow_flags.define_ood_benchmark_flags)) == configs.BenchmarkConfig()
  assert glow_flags.to_two_moons_config(
      _parsed(glow_flags.define_two_moons_flags)) == configs.TwoMoonsConfig()
  run = configs.TrainConfig(eval_datasets=("mnist", "constant:0"))
  evaluation = glow_flags.to_evaluation_config(
      _parsed(glow_flags.define_evaluate_flags), run)
  assert evaluation == configs.EvaluationConfig(datasets=(
      "mnist", "constant:0", "constant:128", "uniform_random"))


def test_flags_carry_the_fields_help_choices_and_bounds():
  values = flags.FlagValues()
  glow_flags.define_train_flags(values)
  scale = values["coupling_scale"]
  assert scale.parser.enum_values == list(configs.COUPLING_SCALES)
  assert "Coupling scale: sigmoid (openai/glow)" in scale.help
  assert values["n_bits"].parser.lower_bound == 1
  assert values["n_bits"].parser.upper_bound == 8
  assert values["model_seed"].help == "Seed of the model's initial values."
  assert values["data_source"].parser.enum_values == list(configs.SOURCES)
  # Optional numbers: 0 stands for None, and 0 is allowed by the bounds.
  assert values["eval_num_examples"].default == 0
  assert values["eval_num_examples"].parser.lower_bound == 0
  for name in values:
    assert values[name].help, name


def test_flag_values_become_typed_fields():
  config = glow_flags.to_train_config(_parsed(
      glow_flags.define_train_flags, "--image_shape=16,16,1", "--n_bits=5",
      "--seed=7", "--model_seed=3", "--pad_to=16", "--grad_clip_norm=10",
      "--eval_num_examples=0", "--sample_temperatures=0.5,1",
      "--eval_datasets=mnist,constant:0", "--data_source=npz",
      "--nonfinite_loss_steps=1,2", "--num_levels=2"))
  assert config.model.image_shape == (16, 16, 1)
  assert config.model.n_bits == config.data.n_bits == 5
  assert config.seed == config.data.seed == 7 and config.model.seed == 3
  assert config.data.pad_to == 16 and config.data.source == "npz"
  assert config.grad_clip_norm == 10. and config.eval_num_examples is None
  assert config.ema_decay is None
  assert config.sample_temperatures == (0.5, 1.)
  assert config.eval_datasets == ("mnist", "constant:0")
  assert config.nonfinite_loss_steps == (1, 2)


@pytest.mark.parametrize("argv, error, message", [
    (["--image_shape=a,b,c"], ValueError,
     r"--image_shape must be a comma-separated list of integers; got a,b,c"),
    (["--sample_temperatures=x"], ValueError,
     r"--sample_temperatures must be a comma-separated list of numbers"),
    (["--learning_rate=0"], ValueError, r"learning_rate must be > 0"),
    (["--eval_datasets=constant:300"], ValueError, r"not in 0..255"),
])
def test_bad_values_raise_naming_the_flag(argv, error, message):
  values = _parsed(glow_flags.define_train_flags, *argv)
  with pytest.raises(error, match=message):
    glow_flags.to_train_config(values)


def test_out_of_range_values_fail_when_parsed():
  with pytest.raises(flags.IllegalFlagValueError):
    _parsed(glow_flags.define_train_flags, "--n_bits=9")
  with pytest.raises(flags.IllegalFlagValueError):
    _parsed(glow_flags.define_train_flags, "--coupling_scale=affine")


def test_train_flags_lists_the_training_flags_only():
  values = flags.FlagValues()
  glow_flags.define_train_flags(values)
  flags.DEFINE_string("other", None, "Not a training flag.", flag_values=values)
  names = set(glow_flags.train_flags(values))
  assert "other" not in names
  assert {"workdir", "model_seed", "data_source", "seed", "n_bits",
          "train_steps"} <= names


def test_each_config_class_is_a_help_group():
  values = flags.FlagValues()
  glow_flags.define_train_flags(values)
  groups = _fields.flag_groups(values)
  assert list(groups) == ["model: glow", "model: pixelcnn", "model: vae",
                          "data", "training"]
  assert values["num_levels"] in groups["model: glow"]
  assert values["data_source"] in groups["data"]
  assert values["learning_rate"] in groups["training"]
  assert values["workdir"] not in sum(groups.values(), [])
  assert _fields.group_title(configs.TwoMoonsConfig) == "two_moons"
  # A deleted flag leaves its group; an empty group is gone.
  for flag in groups["model: vae"]:
    delattr(values, flag.name)
  assert "model: vae" not in _fields.flag_groups(values)
