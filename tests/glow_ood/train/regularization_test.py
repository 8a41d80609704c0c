"""Tests of `glow_ood.train.regularization` and `TrainConfig.l2_weight` in the step."""

import math

import numpy as np
import pytest
import tensorflow as tf

from glow_ood import train as train_lib
from glow_ood.train import regularization
from tests.glow_ood.train.recording import ONE_CPU
from tests.glow_ood.train.recording import TWO_CPUS
from tests.glow_ood.train.recording import needs_two_cpus
from tests.glow_ood.train.recording import tiny_config


def test_penalty_is_lambda_times_squared_norm_of_rank_2_variables():
  kernel = tf.Variable(np.arange(6., dtype=np.float32).reshape(2, 3))
  bias = tf.Variable([5., 7.])
  conv = tf.Variable(np.full([1, 1, 2, 2], 0.5, np.float32))
  assert regularization.penalized_variables([kernel, bias, conv]) == [
      kernel, conv]
  penalty = regularization.l2_penalty_bits_per_dim(
      [kernel, bias, conv], l2_weight=10., num_dims=4)
  expected = 10. * (sum(i * i for i in range(6)) + 4 * 0.25) / (
      4 * math.log(2.))
  assert float(penalty) == pytest.approx(expected, rel=1e-6)
  assert float(regularization.l2_penalty_bits_per_dim(
      [kernel], 0., 4)) == 0.
  with pytest.raises(ValueError, match="l2_weight must be >= 0"):
    regularization.l2_penalty_bits_per_dim([kernel], -1., 4)


@needs_two_cpus
def test_step_loss_holds_the_penalty_once_over_replicas(toy_dir, tmp_path,
                                                        runs):
  """Same init and batch: loss(l2) - loss(0) = the penalty of the initial weights."""
  l2_weight = 3.
  variants = {"none": dict(l2_weight=0., strategy="one_device",
                           devices=ONE_CPU),
              "two": dict(l2_weight=l2_weight, strategy="mirrored",
                          devices=TWO_CPUS)}
  base = tiny_config(toy_dir, train_steps=1)
  for name, changes in variants.items():
    train_lib.train(base.replace(**changes), str(tmp_path / name))
  made = dict(zip(variants, runs))
  none = made["none"]
  weights = [w for w in none.initial.weights if w.ndim >= 2]
  penalty = l2_weight * sum(float(np.sum(np.square(w))) for w in weights) / (
      none.model.num_dims * math.log(2.))
  assert penalty > 1e-3
  # Two replicas (each adds half) against one device without the penalty.
  np.testing.assert_allclose(made["two"].history[0].loss,
                             none.history[0].loss + penalty, rtol=1e-5)
