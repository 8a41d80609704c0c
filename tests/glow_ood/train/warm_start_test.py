"""Tests of a warm start (`TrainConfig.init_from`; `glow_ood.runs.warm_start`).

A source run (the tiny toy Glow of tests/toy_data.py, 2 steps with EMA decay
0.5, so its averaged and raw weights differ) is trained; a new run on other
data starts from it, then resumes with the source gone. The oracle for "the
source's weights" is `glow_ood.runs.load_run`, what evaluation loads by
default. The refusals need only a source's config.json.
"""

import os
import re
import shutil

import numpy as np
import pytest

from glow_ood import runs as runs_lib
from glow_ood import train as train_lib
from glow_ood.configs import TrainConfig
from glow_ood.runs import folder as run_folder
from tests.glow_ood.train.recording import assert_all_close
from tests.glow_ood.train.recording import max_difference
from tests.toy_data import tiny_glow_config
from tests.toy_data import tiny_train_config
from tests.toy_data import write_dataset


def _source_config(data_dir):
  return tiny_train_config(data_dir, train_steps=2, ema_decay=0.5,
                           learning_rate=1e-2, num_samples=0)


def _warm_config(source_config, source_dir, **overrides):
  """A run on the "other" images starting from the run in `source_dir`."""
  return source_config.replace(
      data=source_config.data.replace(dataset="other"), ema_decay=0.9,
      learning_rate=3e-3, init_from=source_dir, **overrides)


def test_a_warm_start_begins_with_the_weights_the_source_is_evaluated_with(
    toy_dir, tmp_path, runs, capsys):
  write_dataset(str(toy_dir), name="other", seed=1)
  source_config, source_dir = _source_config(toy_dir), str(tmp_path / "source")
  train_lib.train(source_config, source_dir)
  capsys.readouterr()
  workdir = str(tmp_path / "run")
  config = _warm_config(source_config, source_dir, train_steps=1)
  train_lib.train(config, workdir)
  output = capsys.readouterr().out
  path = os.path.join(source_dir, "checkpoints", "ckpt-2")
  assert (f"Initialized the model from {path} (step 2, its EMA weights); the "
          "optimizer starts afresh.") in output
  assert "Initialized ActNorm" not in output

  initial = runs[1].initial   # the new run's state at its step 0
  evaluated = runs_lib.load_run(source_dir).model
  assert_all_close(initial.model, [v.numpy() for v in evaluated.variables],
                   rtol=0, atol=0)
  # ... the averages, not the source's trained weights, which differ.
  assert max_difference(initial.weights, runs[0].history[-1].weights) > 1e-4
  # The new run's own EMA starts at those weights; the optimizer is fresh.
  assert_all_close(initial.ema, initial.weights, rtol=0, atol=0)
  assert initial.step == 0 and initial.iterations == 0
  assert not any(np.any(m) for m in initial.first_moments +
                 initial.second_moments)
  assert [s.step for s in runs[1].history] == [1]
  assert run_folder.read_config(workdir, TrainConfig).init_from == source_dir

  # Resumed, the run restores its own checkpoint; the source is not read
  # (it is gone).
  shutil.rmtree(source_dir)
  train_lib.train(config.replace(train_steps=2), workdir)
  output = capsys.readouterr().out
  assert re.search(r"Resumed from \S+ckpt-1 at step 1\.", output), output
  assert "Initialized" not in output
  assert_all_close(runs[2].initial.arrays(), runs[1].history[-1].arrays(),
                   rtol=0, atol=0)
  assert [s.step for s in runs[2].history] == [2]


def test_a_warm_start_from_another_model_or_no_run_is_refused(toy_dir,
                                                             tmp_path):
  write_dataset(str(toy_dir), name="other", seed=1)
  source_config = _source_config(toy_dir)
  source_dir = str(tmp_path / "source")
  os.makedirs(source_dir)
  run_folder.write_config(source_dir, source_config)   # no checkpoint yet
  workdir = tmp_path / "run"

  def refused(config, message):
    with pytest.raises(train_lib.ConfigurationError, match=re.escape(message)):
      train_lib.train(config, str(workdir))
    assert not workdir.exists()

  config = _warm_config(source_config, source_dir)
  refused(config.replace(model=tiny_glow_config(hidden_width=16,
                                                num_levels=1)),
          f"init_from={source_dir} holds another model "
          "(model.num_levels=2 there, 1 here; model.hidden_width=8 there, 16 "
          "here): a warm start needs the same model config; use the "
          "source's model settings (its config.json), or leave init_from "
          "unset.")
  refused(config, f"init_from={source_dir} has no checkpoint in "
          f"{os.path.join(source_dir, 'checkpoints')}: train it first, or "
          "pass a run folder that has one.")
  missing = str(tmp_path / "no_run")
  refused(config.replace(init_from=missing), f"{missing} does not exist")
