"""Bring your own model: a family defined here goes through every launcher.

The family, independent discretized logistics per pixel and channel (two
variables per dimension, `PixelLogisticConfig` / `PixelLogistic` below), is
registered by a two-line module of "the user's" (`PLUGIN`, written to a
temporary folder) that the launchers import with `--model_module=`. It is
trained on toy 8x8x1 images, resumed from its flags.cfg, evaluated, scored by
the OOD benchmark (in this process, `tests.launch.in_process`) and exported by
a real `python launch/export.py` run from the plugin's folder without
`--model_module`: the run's config.json names the module, which that fresh
process imports again. What the launchers write is checked against the
model's likelihood computed here in numpy.
"""

import dataclasses
import json
import os
import shutil
import sys
from typing import Tuple

import numpy as np
import pytest
import tensorflow.compat.v2 as tf

from glow_ood import models
from glow_ood import runs
from glow_ood.configs import option
from glow_ood.configs import validate
from glow_ood.models import pixel_likelihoods
from tests import launcher_error_line
from tests.launch import in_process
from tests.launch import model_families_test
from tests.toy_data import toy_images
from tests.toy_data import write_dataset

FAMILY = "pixel_logistic"
PLUGIN = "pixel_logistic_family"   # the user's module, in a temporary folder
PLUGIN_SOURCE = f"""# Registers the model family that {__name__} defines.
from {__name__} import register
register()
"""


@dataclasses.dataclass(frozen=True)
class PixelLogisticConfig:
  """Independent discretized logistics, one per pixel and channel."""
  image_shape: Tuple[int, int, int] = option((8, 8, 1), "H,W,C.", minimum=1)
  init_log_scale: float = option(
      2., "Initial log-scale of every pixel's logistic (pixel units).")
  n_bits: int = option(8, "Bits per pixel.", minimum=1, maximum=8)
  dtype: str = option("float32", "Model dtype.",
                      choices=("float32", "float64"))
  seed: int = option(0, "Seed (unused: the initial values are constants).")

  def __post_init__(self):
    validate(self)

  @property
  def num_dims(self):
    return int(np.prod(self.image_shape))

  def describe(self):
    return f"pixel logistics ({self.num_dims} pixels)"

  def replace(self, **changes):
    return dataclasses.replace(self, **changes)


class PixelLogistic(models.DensityModel):
  """`log P(k) = sum_i log L(k_i; loc_i, exp(log_scale_i))`, `L` binned (`pixel_likelihoods`)."""

  training_input = "uint8"
  loss_part_names = ()
  is_initialized = True

  def __init__(self, config):
    super().__init__(name=FAMILY)
    self.config = config
    dtype = tf.as_dtype(config.dtype)
    middle = 2. ** (config.n_bits - 1)
    self.loc = tf.Variable(tf.fill(config.image_shape,
                                   tf.constant(middle, dtype)), name="loc")
    self.log_scale = tf.Variable(tf.fill(
        config.image_shape, tf.constant(config.init_log_scale, dtype)),
                                 name="log_scale")

  def discrete_log_prob(self, images):
    bins = tf.cast(images, tf.int32) // 2 ** (8 - self.config.n_bits)
    log_p = pixel_likelihoods.discretized_logistic_log_prob(
        bins, self.loc, self.log_scale, self.config.n_bits)
    return models.Estimate(tf.reduce_sum(log_p, axis=[-3, -2, -1]))

  def loss_terms(self, images):
    log_p = self.discrete_log_prob(images).log_prob
    return models.LossTerms(
        bits_per_dim=-log_p / (self.config.num_dims * np.log(2.)), parts={})

  def data_init(self, images):
    return self.loss_terms(images).bits_per_dim   # nothing to initialize

  def sample(self, num_samples, seed=None):
    shape = [num_samples, *self.config.image_shape]
    bins = pixel_likelihoods.discretized_logistic_sample(
        tf.broadcast_to(self.loc, shape), self.log_scale, self.config.n_bits,
        [0, 0] if seed is None else seed)
    return (tf.cast(bins, self.loc.dtype) + 0.5) / 2 ** self.config.n_bits - 0.5


def register():
  """What the user's module does."""
  return models.register(FAMILY, config=PixelLogisticConfig,
                         model=PixelLogistic, title="Pixel logistics")


def numpy_log_prob(images, loc, log_scale):
  """log P(k) per image (nats, float64) of uint8 `images`, the bins by hand."""
  def cdf(t):
    return 1. / (1. + np.exp(-t))
  k = images.astype(np.float64)
  scale = np.exp(log_scale.astype(np.float64))
  upper = np.where(k >= 255, 1., cdf((k + 0.5 - loc) / scale))
  lower = np.where(k <= 0, 0., cdf((k - 0.5 - loc) / scale))
  return np.log(upper - lower).reshape(len(images), -1).sum(axis=1)


# The run.

@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
  """The folder of the user's module; the family is gone again afterwards."""
  folder = str(tmp_path_factory.mktemp("plugin"))
  with open(os.path.join(folder, f"{PLUGIN}.py"), "w", encoding="utf-8") as f:
    f.write(PLUGIN_SOURCE)
  sys.path.insert(0, folder)
  yield folder
  sys.path[:] = [path for path in sys.path if path != folder]
  sys.modules.pop(PLUGIN, None)
  models.unregister(FAMILY)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  folder = str(tmp_path_factory.mktemp("own_family_data"))
  write_dataset(folder, num_test=32)
  return folder


def train_flags(data_dir):
  return [f"--model_module={PLUGIN}", f"--model={FAMILY}",
          "--pixel_logistic_init_log_scale=1.5", f"--data_dir={data_dir}",
          "--data_source=npz", "--dataset=toy", "--image_shape=8,8,1",
          "--eval_datasets=constant:128", "--train_steps=4",
          "--checkpoint_every=2", "--log_every=2", "--eval_every=0",
          "--batch_size=16", "--init_batch_size=32", "--learning_rate=0.3",
          "--strategy=one_device", "--devices=/cpu:0", "--num_samples=2"]


@pytest.fixture(scope="module")
def trained(plugin, data_dir, tmp_path_factory):
  """A run of 4 steps, resumed from its flags.cfg to 6."""
  del plugin
  workdir = str(tmp_path_factory.mktemp("own_family_run") / "run")
  first = in_process.run("launch/train.py", *train_flags(data_dir),
                         f"--workdir={workdir}")
  assert first.returncode == 0, first.stderr[-3000:]
  flags_file = os.path.join(workdir, "flags.cfg")
  second = in_process.run("launch/train.py", f"--flagfile={flags_file}",
                          "--train_steps=6")
  assert second.returncode == 0, second.stderr[-3000:]
  return workdir, first.stdout, second.stdout


def read_json(*parts):
  with open(os.path.join(*parts), encoding="utf-8") as f:
    return json.load(f)


def test_train_and_resume(trained):
  workdir, first, second = trained
  model = read_json(workdir, "config.json")["config"]["model"]
  assert model == {"family": FAMILY, "module": PLUGIN, "image_shape": [8, 8, 1],
                   "init_log_scale": 1.5, "n_bits": 8, "dtype": "float32",
                   "seed": 0}
  with open(os.path.join(workdir, "flags.cfg"), encoding="utf-8") as f:
    flags_cfg = f.read().splitlines()
  assert {f"--model_module={PLUGIN}", f"--model={FAMILY}",
          "--pixel_logistic_init_log_scale=1.5"} <= set(flags_cfg)
  assert not [line for line in flags_cfg if line.startswith(
      ("--num_levels", "--pixelcnn_", "--vae_"))]
  assert "Training pixel logistics (64 pixels)" in first
  assert "Resumed from" in second and "step 6/6" in second
  # It learned: the data's pixels spread far wider than exp(1.5) = 4.5.
  init = float(first.split("Initialized the model on 32 images: ")[1].split()[0])
  assert read_json(workdir, "results.json")["bits_per_dim"]["toy/train"] < (
      init - 1.)


def test_evaluate_scores_the_models_likelihood(trained, tmp_path):
  workdir, _, _ = trained
  output_dir = str(tmp_path / "evaluation")
  model_families_test.evaluate_run(workdir, output_dir)
  assert read_json(output_dir, "results.json")["runs"][0]["family"] == FAMILY
  model = runs.load_run(workdir).model
  images = toy_images(32, seed=(0, len("test")))   # the toy test split
  expected = numpy_log_prob(images, model.loc.numpy(), model.log_scale.numpy())
  with np.load(os.path.join(output_dir, "scores.npz")) as scores:
    np.testing.assert_allclose(scores["run/toy/test/discrete_log_prob"],
                               expected, rtol=1e-5)
    assert "run/toy/test/log_prob_z" not in scores.files


def test_the_benchmark_scores_it(plugin, data_dir, tmp_path):
  del plugin
  workdir = str(tmp_path / "benchmark")
  result = in_process.run(
      "launch/ood_benchmark.py", f"--model_module={PLUGIN}",
      f"--model={FAMILY}", "--pixel_logistic_init_log_scale=3",
      f"--workdir={workdir}", f"--data_dir={data_dir}",
      "--pairs=toy->constant:128,toy->uniform_random", "--num_seeds=2",
      "--image_size=8", "--train_steps=4", "--batch_size=16",
      "--learning_rate=0.3", "--warmup_steps=0", "--validation_size=16",
      "--num_examples=16", "--batch_sizes=4", "--num_bootstrap=20",
      "--eval_batch_size=32")
  assert result.returncode == 0, result.stderr[-3000:]
  family = read_json(workdir, "results.json")["families"][FAMILY]
  assert family["config"]["model"] == {
      "family": FAMILY, "module": PLUGIN, "image_shape": [8, 8, 1],
      "init_log_scale": 3., "n_bits": 8, "dtype": "float32", "seed": 0}
  rows = list(family["cells"]["toy -> uniform_random"])
  assert rows[:3] == ["nll", "typicality", "typicality_batch_4"]
  # Per-level rows and the latents' test need a decomposition it lacks.
  assert not [r for r in rows if r.startswith(("level_", "latent_gof"))]
  for cell in family["cells"]["toy -> uniform_random"].values():
    assert 0. <= cell["auroc_low"] <= cell["auroc"] <= cell["auroc_high"] <= 1.
  for seed in range(2):
    folder = os.path.join(workdir, "toy", f"seed_{seed}", FAMILY, "model")
    assert read_json(folder, "config.json")["config"]["model"]["module"] == (
        PLUGIN)
  with open(os.path.join(workdir, "results.md"), encoding="utf-8") as f:
    text = f.read()
  assert "- Pixel logistics: 2 seeds of pixel logistics (64 pixels)" in text
  assert "| Pixel logistics |" in text


def test_export_reopens_the_run_by_the_module_config_json_names(
    trained, plugin, tmp_path):
  """As in a fresh process: the family unregistered, its module not imported.

  launch/export.py runs from the module's folder, without --model_module:
  the run's config.json names the module, which it imports from there.
  """
  workdir, _, _ = trained
  model = runs.load_run(workdir).model
  models.unregister(FAMILY)
  del sys.modules[PLUGIN]
  sys.path.remove(plugin)
  output_dir = str(tmp_path / "export")
  result = in_process.run("launch/export.py", f"--workdir={workdir}",
                          f"--output_dir={output_dir}", "--noverify",
                          "--typicality_num_bootstrap=50", cwd=plugin)
  assert result.returncode == 0, result.stderr[-3000:]
  assert FAMILY in models.families.names() and PLUGIN in sys.modules
  images = toy_images(8, seed=7)
  scorer = tf.saved_model.load(output_dir)
  metadata = json.loads(scorer.signatures["metadata"]()["json"].numpy())
  assert metadata["run"]["family"] == FAMILY
  assert metadata["run"]["model"] == "pixel logistics (64 pixels)"
  served = scorer.signatures["log_prob"](images=tf.constant(images))
  np.testing.assert_allclose(
      served["log_prob"].numpy(),
      numpy_log_prob(images, model.loc.numpy(), model.log_scale.numpy()),
      rtol=1e-5)


# One-line errors.

def test_a_module_that_does_not_import_is_one_line(data_dir, tmp_path):
  result = in_process.run("launch/train.py", "--model_module=no_such_module",
                          *train_flags(data_dir)[1:],
                          f"--workdir={tmp_path / 'run'}")
  line = launcher_error_line(result, "launch/train.py")
  assert line.endswith(
      "--model_module=no_such_module cannot be imported (No module named "
      "'no_such_module'); run from the folder that holds it, or put it on "
      "the Python path (PYTHONPATH).")
  assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("module, message", [
    (None, "Unknown model family 'pixel_logistics'; known: glow, pixelcnn, "
           "vae, pixel_logistic. A family from outside glow_ood is registered "
           "by its own module: pass --model_module=<that module>"),
    ("gone_module", "The model family 'pixel_logistics' is registered by its "
                    "module gone_module (recorded with it), which cannot be "
                    "imported (No module named 'gone_module')"),
])
def test_a_run_of_an_unregistered_family_is_one_line(trained, tmp_path,
                                                     module, message):
  workdir = str(tmp_path / "run")
  shutil.copytree(trained[0], workdir)
  path = os.path.join(workdir, "config.json")
  payload = read_json(path)
  model = payload["config"]["model"]
  model["family"] = "pixel_logistics"
  del model["module"]
  if module:
    model["module"] = module
  with open(path, "w", encoding="utf-8") as f:
    json.dump(payload, f)
  result = in_process.run("launch/evaluate.py", f"--workdir={workdir}")
  line = launcher_error_line(result, "launch/evaluate.py")
  assert f"{path}: TrainConfig.model: {message}" in line


def test_a_model_with_the_names_of_older_versions_is_refused():
  # The names of the loss's parts were `loss_extras` and `LossTerms.extras`.
  with pytest.raises(TypeError) as raised:
    class OldPixelLogistic(PixelLogistic):  # pylint: disable=unused-variable
      loss_extras = ()
  assert str(raised.value) == (
      "OldPixelLogistic.loss_extras is called loss_part_names now (the names "
      "of loss_terms(x).parts); rename it.")
  with pytest.raises(TypeError) as raised:
    models.LossTerms(bits_per_dim=tf.zeros([2]), extras={})
  assert str(raised.value) == (
      "LossTerms(extras=...) is LossTerms(parts=...) now: the objective's "
      "per-example parts, {name: [B]}.")
  terms = models.LossTerms(tf.ones([2]), parts={"a": tf.zeros([2])})
  assert list(terms.parts) == ["a"] and terms.bits_per_dim.shape == [2]


def test_help_lists_the_familys_flags(plugin):
  del plugin
  result = in_process.run("launch/train.py", f"--model_module={PLUGIN}",
                          "--help")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "\nmodel: pixel_logistic:\n" in result.stdout
  assert "--pixel_logistic_init_log_scale: Initial log-scale" in result.stdout
