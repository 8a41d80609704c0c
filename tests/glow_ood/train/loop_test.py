"""Tests of `glow_ood.train.loop.train`: outputs, learning, resume, bad inputs.

Most tests train a tiny Glow (tests/toy_data.py: 8x8x1, 2 levels of 1 step,
width 8) for a few steps on small synthetic `.npz` files written to
`tmp_path`; one learns on the real NotMNIST from GLOW_OOD_DATA_DIR (default
../shared/data), skipped when it is absent (failed under CI=true:
tests/shared_data.py). The `runs` fixture records every
state of a run (tests/glow_ood/train/recording.py).
"""

import json
import logging
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from bijectors import coupling_network
import glow_ood
from glow_ood import data
from glow_ood import likelihood_terms
from glow_ood import train as train_lib
from glow_ood.configs import TrainConfig
from glow_ood.runs import folder as run_folder
from tests.toy_data import write_dataset
from tests.glow_ood.train.recording import DATA_DIR
from tests.glow_ood.train.recording import ONE_CPU
from tests.glow_ood.train.recording import TWO_CPUS
from tests.glow_ood.train.recording import assert_all_close
from tests.glow_ood.train.recording import assert_finite_checkpoint
from tests.glow_ood.train.recording import checkpoint_paths
from tests.glow_ood.train.recording import expected_bits_per_dim
from tests.glow_ood.train.recording import max_difference
from tests.glow_ood.train.recording import needs_notmnist
from tests.glow_ood.train.recording import needs_two_cpus
from tests.glow_ood.train.recording import read_events
from tests.glow_ood.train.recording import resolved
from tests.glow_ood.train.recording import tiny_config


def test_smoke_run_writes_checkpoints_summaries_and_results(toy_dir, tmp_path,
                                                            runs):
  write_dataset(str(toy_dir), name="other", seed=1)
  config = tiny_config(toy_dir, train_steps=4, eval_every=2,
                       checkpoint_every=2, ema_decay=0.9,
                       eval_datasets=("other", "constant:128"))
  workdir = tmp_path / "run"
  results = train_lib.train(config, str(workdir))

  sets = ("toy/train", "toy/test", "other/test", "constant:128/test")
  assert sorted(results) == sorted(sets)
  for name in sets:
    assert np.isfinite(results[name]) and 0. < results[name] < 16., name
  # A constant image is far from the toy images: the model says so.
  assert results["constant:128/test"] != pytest.approx(results["toy/test"],
                                                       abs=0.1)

  with open(workdir / "results.json") as f:
    saved = json.load(f)
  assert saved["step"] == 4 and saved["skipped_steps"] == 0
  assert saved["bits_per_dim"] == pytest.approx(results)

  paths = checkpoint_paths(workdir)
  assert [int(p.rsplit("-", 1)[1]) for p in paths] == [2, 4]
  tensors = assert_finite_checkpoint(paths[-1])
  assert tensors["step/.ATTRIBUTES/VARIABLE_VALUE"] == 4
  assert tensors["optimizer/iterations/.ATTRIBUTES/VARIABLE_VALUE"] == 4
  assert any(key.startswith("ema/") for key in tensors)

  train_events = read_events(workdir / "train")
  for tag in ("bits_per_dim", "log_prob_z", "log_det", "learning_rate",
              "grad_norm", "images_per_second", "skipped_steps"):
    assert sorted(train_events.get(tag, {})) == [1, 2, 3, 4], tag
  for step in (1, 2, 3, 4):
    scalars = {tag: float(values[step]) for tag, values in train_events.items()}
    assert scalars["bits_per_dim"] == pytest.approx(
        expected_bits_per_dim(scalars["log_prob_z"], scalars["log_det"]),
        abs=1e-3)
    assert scalars["learning_rate"] == pytest.approx(3e-3)
    assert scalars["grad_norm"] > 0. and scalars["images_per_second"] > 0.
    assert scalars["skipped_steps"] == 0.
  # The logged loss is the loss of the step (log_every=1).
  history = runs[0].history
  np.testing.assert_allclose(
      [float(train_events["bits_per_dim"][s]) for s in (1, 2, 3, 4)],
      [state.loss for state in history], rtol=1e-5)

  eval_events = read_events(workdir / "eval")
  for name in sets:
    values = eval_events[f"bits_per_dim/{name}"]
    assert sorted(values) == [2, 4], name
    assert float(values[4]) == pytest.approx(results[name], rel=1e-6)
  samples = eval_events["samples/temperature_1"]
  assert sorted(samples) == [2, 4]
  width, height, png = samples[4]
  image = tf.io.decode_png(png).numpy()
  # 4 samples of 8x8x1 in a 2x2 grid.
  assert (int(width), int(height)) == (16, 16)
  assert image.shape == (16, 16, 1) and image.dtype == np.uint8


def test_evaluation_uses_the_averaged_weights(toy_dir, tmp_path, runs):
  config = tiny_config(toy_dir, train_steps=3, ema_decay=0.5,
                       learning_rate=1e-2)
  results = train_lib.train(config, str(tmp_path / "run"))
  run = runs[0]
  final = run.history[-1]
  # The run ends with the raw weights in place, not the averages.
  assert_all_close([v.numpy() for v in run.model.trainable_variables],
                   final.weights, rtol=0, atol=0)
  assert max_difference(final.ema, final.weights) > 1e-4
  evaluator = likelihood_terms.BitsPerDimEvaluator(run.model, 32)
  images = data.load_images(config.data, "test")
  # In float32, as the run evaluates under any mixed_precision.
  with coupling_network.full_precision():
    raw = float(np.mean(evaluator(images)))
    with run.ema.averaged_weights():
      averaged = float(np.mean(evaluator(images)))
  assert results["toy/test"] == pytest.approx(averaged, rel=1e-6)
  assert averaged != pytest.approx(raw, rel=1e-6)


@pytest.mark.slow
@needs_notmnist
def test_loss_falls_on_real_notmnist(tmp_path, capsys):
  config = TrainConfig(
      model=glow_ood.GlowConfig(image_shape=(32, 32, 1), num_levels=2,
                                num_steps_per_level=1, hidden_width=16),
      data=data.DataConfig(dataset="notmnist", data_dir=DATA_DIR,
                           source="npz", pad_to=32, shuffle_buffer=2048),
      batch_size=32, init_batch_size=256, eval_batch_size=256,
      eval_num_examples=512, train_steps=50, learning_rate=3e-3,
      log_every=1, eval_every=0, checkpoint_every=1000,
      sample_temperatures=(1.0,), num_samples=4, strategy="one_device",
      devices=ONE_CPU)
  workdir = tmp_path / "run"
  results = train_lib.train(config, str(workdir))
  init = re.search(r"Initialized ActNorm on 256 images: ([\d.]+) bits/dim",
                   capsys.readouterr().out)
  assert init, "no initialization line printed"
  bpd = read_events(workdir / "train")["bits_per_dim"]
  assert sorted(bpd) == list(range(1, 51))
  first = np.mean([float(bpd[s]) for s in range(1, 6)])
  last = np.mean([float(bpd[s]) for s in range(46, 51)])
  # About 8.6 -> 7.8 bits/dim; a broken update or data path gives ~0.
  assert first - last > 0.4, (first, last)
  # Held-out images improved too (not just the training batches), from the
  # initial model's level.
  assert results["notmnist/test"] < float(init.group(1)) - 0.5
  assert results["notmnist/test"] < first - 0.3
  assert abs(results["notmnist/test"] - results["notmnist/train"]) < 0.1


def test_resume_continues_exactly_like_an_uninterrupted_run(toy_dir, tmp_path,
                                                            runs, capsys):
  # Warm-up makes the learning rate depend on the step; a shuffled, repeated
  # stream (64 images, batches of 8) makes the batches depend on it.
  config = tiny_config(toy_dir, warmup_steps=5, ema_decay=0.8,
                       learning_rate=1e-2)
  k, m = 3, 3
  resumed_dir, full_dir = tmp_path / "resumed", tmp_path / "full"
  train_lib.train(config.replace(train_steps=k), str(resumed_dir))
  assert "Resumed" not in capsys.readouterr().out
  results = train_lib.train(config.replace(train_steps=k + m),
                            str(resumed_dir))
  output = capsys.readouterr().out
  assert re.search(rf"Resumed from \S+ckpt-{k} at step {k}\.", output), output
  assert "Initialized ActNorm" not in output
  full_results = train_lib.train(config.replace(train_steps=k + m),
                                 str(full_dir))
  first, second, full = runs

  # The restored state is exactly the state the first run ended with.
  restored, saved = second.initial, first.history[-1]
  assert restored.step == saved.step == k
  assert restored.iterations == saved.iterations == k
  for name in ("model", "first_moments", "second_moments", "ema"):
    for a, b in zip(getattr(restored, name), getattr(saved, name)):
      np.testing.assert_array_equal(a, b, err_msg=name)
  assert [s.step for s in second.history] == list(range(k + 1, k + m + 1))

  # Then it goes on exactly as a run that was never stopped.
  np.testing.assert_allclose([s.loss for s in second.history],
                             [s.loss for s in full.history[k:]], rtol=1e-6)
  assert_all_close(second.history[-1].arrays(), full.history[-1].arrays(),
                   rtol=1e-5, atol=1e-6)
  assert full.history[-1].iterations == second.history[-1].iterations == k + m
  assert results == pytest.approx(full_results, rel=1e-6)
  # ... which is a real check: the last m steps moved the weights much more
  # than the tolerance, and restarting the data stream would change the loss.
  assert max_difference(second.history[-1].weights, saved.weights) > 1e-3
  assert not np.allclose([s.loss for s in second.history],
                         [s.loss for s in first.history[:m]], rtol=1e-4)
  # The schedule continued: warm-up learning rates of steps k+1..k+m.
  learning_rates = read_events(resumed_dir / "train")["learning_rate"]
  for step in range(1, k + m + 1):
    assert float(learning_rates[step]) == pytest.approx(
        1e-2 * min(1., step / 5)), step
  steps = [int(p.rsplit("-", 1)[1]) for p in checkpoint_paths(resumed_dir)]
  assert steps == [k, k + m]
  with open(resumed_dir / "results.json") as f:
    assert json.load(f)["step"] == k + m


def test_rerunning_a_finished_run_only_evaluates(toy_dir, tmp_path, runs,
                                                 capsys):
  config = tiny_config(toy_dir, train_steps=2)
  workdir = str(tmp_path / "run")
  first = train_lib.train(config, workdir)
  again = train_lib.train(config, workdir)
  assert "Resumed from" in capsys.readouterr().out
  assert runs[1].history == []
  assert again == pytest.approx(first, rel=1e-6)


def test_config_json_describes_the_run_and_guards_its_resume(toy_dir, tmp_path):
  workdir = tmp_path / "run"
  config = tiny_config(toy_dir, train_steps=2)
  assert config.mixed_precision == "auto"
  train_lib.train(config, str(workdir))
  # The folder records what ran: the precision auto resolved to.
  ran = resolved(config)
  assert ran.mixed_precision in ("none", "bfloat16")
  assert run_folder.read_config(str(workdir), TrainConfig) == ran
  # A longer run resumes, and the folder then describes the longer run.
  longer = ran.replace(train_steps=3, eval_datasets=("constant:0",))
  train_lib.train(longer, str(workdir))
  assert run_folder.read_config(str(workdir), TrainConfig) == longer
  # Another model or other data are refused, naming what changed; the run's
  # config.json and checkpoints stay as they were.
  for changed, message in (
      (longer.replace(model=longer.model.replace(hidden_width=16)),
       r"model.hidden_width=8 in the file, 16 now"),
      (longer.replace(data=longer.data.replace(seed=1)),
       r"data.seed=0 in the file, 1 now"),
      (longer.replace(batch_size=4), r"batch_size=8 in the file, 4 now")):
    with pytest.raises(train_lib.ConfigurationError, match=message):
      train_lib.train(changed, str(workdir))
    assert run_folder.read_config(str(workdir), TrainConfig) == longer
  assert [int(p.rsplit("-", 1)[1]) for p in checkpoint_paths(workdir)] == [2, 3]


def test_a_run_from_before_the_split_fields_resumes_and_keeps_its_splits(
    toy_dir, tmp_path):
  workdir = tmp_path / "run"
  config = tiny_config(toy_dir, train_steps=2)
  train_lib.train(config, str(workdir))
  # Its config.json as written before DataConfig had train_split/test_split.
  path = workdir / run_folder.CONFIG_FILE
  payload = json.loads(path.read_text())
  for name in ("train_split", "test_split"):
    del payload["config"]["data"][name]
  path.write_text(json.dumps(payload))
  longer = config.replace(train_steps=3)
  train_lib.train(longer, str(workdir))
  resumed = run_folder.read_config(str(workdir), TrainConfig)
  assert resumed.train_steps == 3 and resumed.data == longer.data
  sliced = longer.replace(data=longer.data.replace(train_split="train[:32]"))
  with pytest.raises(train_lib.ConfigurationError,
                     match=r"data.train_split='train' in the file, "
                           r"'train\[:32\]' now"):
    train_lib.train(sliced.replace(train_steps=4), str(workdir))


def test_trains_on_a_slice_and_evaluates_on_the_held_out_rest(
    toy_dir, tmp_path, capsys, caplog):
  config = tiny_config(toy_dir, train_steps=1, data=tiny_config(
      toy_dir).data.replace(train_split="test[:12]", test_split="test[12:]"))
  with caplog.at_level(logging.INFO, logger="absl"):
    results = train_lib.train(config, str(tmp_path / "run"))
  assert "on toy (12, 8, 8, 1)" in capsys.readouterr().out
  assert "Dataset 'toy' split 'test[12:]': 4 images" in caplog.text
  assert sorted(results) == ["toy/test", "toy/train"]


def _assert_fails_before_training(config, workdir, match, cause=None):
  """`train` raises one `ConfigurationError` and writes nothing."""
  with pytest.raises(train_lib.ConfigurationError, match=match) as info:
    train_lib.train(config, str(workdir))
  assert not os.path.exists(str(workdir)), os.listdir(str(workdir))
  if cause is not None:
    assert isinstance(info.value.__cause__, cause), repr(info.value.__cause__)
  return str(info.value)


def test_unknown_dataset(toy_dir, tmp_path):
  config = tiny_config(toy_dir).replace(data=data.DataConfig(
      dataset="no_such_images", data_dir=str(toy_dir),
      tfds_data_dir=str(tmp_path / "tfds")))
  path = os.path.join(str(toy_dir), "no_such_images_train.npz")
  message = _assert_fails_before_training(
      config, tmp_path / "run", re.escape(path), data.DatasetNotFoundError)
  assert "tensorflow_datasets" in message
  # An unknown evaluation set fails as early.
  _assert_fails_before_training(
      tiny_config(toy_dir, eval_datasets=("no_such_images",)),
      tmp_path / "run2",
      re.escape(os.path.join(str(toy_dir), "no_such_images_test.npz")),
      data.DatasetNotFoundError)


def test_missing_data_dir(tmp_path):
  missing = tmp_path / "not_there"
  _assert_fails_before_training(
      tiny_config(missing), tmp_path / "run",
      re.escape(os.path.join(str(missing), "toy_train.npz")),
      data.DatasetNotFoundError)


@needs_two_cpus
def test_batch_not_divisible_by_the_replicas(toy_dir, tmp_path):
  config = tiny_config(toy_dir, batch_size=3, strategy="mirrored",
                       devices=TWO_CPUS)
  _assert_fails_before_training(
      config, tmp_path / "run",
      r"batch_size=3 \(global\) is not divisible by the 2 replicas")


def test_wrong_image_shape_for_the_model(tmp_path):
  write_dataset(str(tmp_path), shape=(28, 28, 1))
  config = tiny_config(tmp_path).replace(model=glow_ood.GlowConfig(
      image_shape=(32, 32, 1), num_levels=2, num_steps_per_level=1,
      hidden_width=8))
  _assert_fails_before_training(
      config, tmp_path / "run",
      r"'toy' has images of shape \(28, 28, 1\) but the model expects "
      r"\(32, 32, 1\).*pad_to")
  # With pad_to=32 the same data is accepted (and trains).
  padded = config.replace(data=config.data.replace(pad_to=32), train_steps=1)
  results = train_lib.train(padded, str(tmp_path / "padded"))
  assert all(np.isfinite(v) for v in results.values())


def test_wrong_image_shape_of_an_evaluation_set(toy_dir, tmp_path):
  write_dataset(str(toy_dir), name="rgb", shape=(8, 8, 3))
  _assert_fails_before_training(
      tiny_config(toy_dir, eval_datasets=("rgb",)), tmp_path / "run",
      r"rgb/test of shape \(8, 8, 3\) cannot be conformed to \(8, 8, 1\)")


def test_devices_for_multi_worker_fail_before_training(toy_dir, tmp_path):
  config = tiny_config(toy_dir, strategy="multi_worker_mirrored",
                       devices=ONE_CPU)
  _assert_fails_before_training(config, tmp_path / "run",
                                r"leave --devices empty")


def test_n_bits_mismatch(toy_dir):
  with pytest.raises(ValueError, match=r"data.n_bits=5 differs from "
                                       r"model.n_bits=8"):
    tiny_config(toy_dir).replace(
        data=data.DataConfig(dataset="toy", data_dir=str(toy_dir), n_bits=5))


@pytest.mark.parametrize("changes, error, match", [
    (dict(optimizer="sgd"), ValueError, r"optimizer='sgd' is not one of"),
    (dict(strategy="tpu"), ValueError, r"strategy='tpu' is not one of"),
    (dict(batch_size=0), ValueError, r"batch_size must be >= 1"),
    (dict(learning_rate=0.), ValueError, r"learning_rate must be > 0"),
    (dict(ema_decay=1.), ValueError, r"ema_decay must be in \(0, 1\)"),
    (dict(grad_clip_norm=-1.), ValueError, r"grad_clip_norm must be > 0"),
    (dict(warmup_steps=-1), ValueError, r"warmup_steps must be >= 0"),
    (dict(eval_num_examples=0), ValueError, r"eval_num_examples must be >= 1"),
    (dict(model={"num_levels": 2}), TypeError,
     r"model must be one of GlowConfig, PixelCNNConfig, VAEConfig; got dict"),
    (dict(data="toy"), TypeError, r"data must be a DataConfig"),
    # A str is not a tuple of names (tuple("mnist") would be its letters).
    (dict(eval_datasets="mnist"), TypeError,
     r"eval_datasets must be a sequence, not a str"),
    (dict(devices="/cpu:0"), TypeError, r"devices must be a sequence"),
], ids=lambda value: "-".join(value) if isinstance(value, dict) else None)
def test_bad_train_config(toy_dir, changes, error, match):
  with pytest.raises(error, match=match):
    tiny_config(toy_dir, **changes)


def test_bad_enum_values_in_the_model_and_data_configs(toy_dir):
  with pytest.raises(ValueError, match=r"coupling_scale='affine' is not one"):
    glow_ood.GlowConfig(coupling_scale="affine")
  with pytest.raises(ValueError, match=r"source='disk' is not one of"):
    data.DataConfig(dataset="toy", source="disk")
