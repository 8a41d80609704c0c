"""bfloat16 training tracks float32 closely enough to catch a gradient bug.

A Glow wider than the tiny ones (2 levels x 2 steps, width 32, 16x16x3 toy
images, batch 16) trains `WARM_UP_STEPS` float32 steps, so that the
zero-initialized output convolutions pass gradients to every variable; its
checkpoint is then restored twice, as a float32 and as a bfloat16
`TrainState` (same weights, optimizer state and batch position), and each
trains `NUM_STEPS` more steps on the same batches.

Tolerances, against what was measured (on an AMD EPYC with AVX512_BF16:
oneDNN's native bfloat16, its AVX-512 emulation with
ONEDNN_MAX_CPU_ISA=AVX512_CORE, and Eigen's kernels with
TF_ENABLE_ONEDNN_OPTS=0; 4 model / data seeds):
  * per-step training loss within `LOSS_ATOL` = 2.5e-4 bits/dim of float32
    [largest difference over the 10 steps: 4e-5 to 8e-5; float32 itself
    learns 2.5e-2 bits/dim per step here];
  * cosine similarity of each variable's gradient with float32's at the
    restored state >= `GRADIENT_COSINE` = 0.9 [lowest 0.966-0.986, always a
    level-1 output convolution's bias, whose gradient sums the output
    gradient over every pixel, where bfloat16 rounding partly cancels;
    every other variable >= 0.997].
Bugs planted in the bfloat16 path of `bijectors/coupling_network.py` on a
copy of the repository all fail it: the log-scale half of the network's
output cast back to float32 outside the gradient (cosine 0.78, losses off by
3e-2 bits/dim at step 10), the folded ActNorm scale without its gradient
(cosine -0.37, losses off by 3.3e-4), the folded ActNorm bias cast outside
the gradient (no gradient for `loc`).
"""

import numpy as np
import pytest
import tensorflow as tf

from bijectors import coupling_network
from glow_ood import configs
from glow_ood import preprocessing
from glow_ood import train as train_lib
from glow_ood.train import distribution
from tests.glow_ood.train.recording import ONE_CPU
from tests.glow_ood.train.recording import stepper
from tests.toy_data import toy_images

IMAGE_SHAPE = (16, 16, 3)
WARM_UP_STEPS = 5
NUM_STEPS = 10
LOSS_ATOL = 2.5e-4         # bits/dim, every step
GRADIENT_COSINE = 0.9      # every variable


def _config(mixed_precision):
  return configs.TrainConfig(
      model=configs.GlowConfig(image_shape=IMAGE_SHAPE, num_levels=2,
                               num_steps_per_level=2, hidden_width=32, seed=3),
      batch_size=16, init_batch_size=64, learning_rate=1e-3,
      strategy="one_device", devices=ONE_CPU, seed=5,
      mixed_precision=mixed_precision)


def _state(mixed_precision, workdir, images):
  config = _config(mixed_precision)
  strategy = distribution.make_strategy(config.strategy, config.devices)
  return train_lib.TrainState(config, workdir, strategy, images)


def _gradients(model, x):
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(model.loss_terms(x).bits_per_dim)
  return tape.gradient(loss, model.trainable_variables)


def _cosine(a, b):
  a, b = (np.asarray(v, np.float64).ravel() for v in (a, b))
  norms = np.linalg.norm(a) * np.linalg.norm(b)
  return float(a @ b / norms) if norms else 0.


def test_bfloat16_training_tracks_float32(tmp_path):
  images = toy_images(256, seed=0, shape=IMAGE_SHAPE)
  workdir = str(tmp_path / "run")
  warm = _state("none", workdir, images)
  assert warm.initialize_or_restore(warm.find_checkpoint())
  assert int(stepper(warm)(WARM_UP_STEPS)["applied"]) == WARM_UP_STEPS
  warm.save(WARM_UP_STEPS)

  states = {}
  for name in ("none", "bfloat16"):
    states[name] = _state(name, workdir, images)
    assert not states[name].initialize_or_restore(
        states[name].find_checkpoint())
    assert int(states[name].step.numpy()) == WARM_UP_STEPS
  reference, low = states["none"], states["bfloat16"]
  networks = [m for m in low.model.submodules
              if isinstance(m, coupling_network.GlowCouplingNetwork)]
  assert len(networks) == 4
  assert {n.compute_dtype for n in networks} == {tf.bfloat16}
  assert {v.dtype for v in low.model.trainable_variables} == {tf.float32}

  # The gradients at the restored state, on one batch.
  x = preprocessing.dequantize(images[:16], 8, "uniform", seed=[1, 2])
  expected = _gradients(reference.model, x)
  actual = _gradients(low.model, x)
  variables = reference.model.trainable_variables
  assert len(variables) == 53
  cosines = {}
  for variable, want, got in zip(variables, expected, actual):
    assert got is not None, f"no bfloat16 gradient for {variable.name}"
    assert np.linalg.norm(want.numpy()) > 0., variable.name
    cosines[variable.name] = _cosine(got, want)
  worst = sorted(cosines.items(), key=lambda item: item[1])[:3]
  assert worst[0][1] >= GRADIENT_COSINE, worst
  # Rounded in bfloat16: not float32's gradients.
  assert worst[0][1] < 1. - 1e-6, worst

  steps = {name: stepper(state) for name, state in states.items()}
  losses = {name: np.array([float(steps[name]()["loss"])
                            for _ in range(NUM_STEPS)])
            for name in states}
  assert np.all(np.isfinite(losses["bfloat16"]))
  # float32 learns over these steps (by far more than the tolerance).
  assert losses["none"][-3:].mean() < losses["none"][:3].mean() - 0.1
  difference = np.abs(losses["bfloat16"] - losses["none"])
  assert np.max(difference) <= LOSS_ATOL, difference
  assert np.max(difference) > 1e-6, "the bfloat16 run computed in float32"
  assert int(low.num_skipped.numpy()) == 0
