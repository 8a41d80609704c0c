"""The gradient scores on a tiny Glow trained on a Gaussian blob (end-to-end, slow tier).

A 2-level, 1-step, width-8 Glow (`toy_data.tiny_glow_config`) is trained 400
steps on 8x8x1 images of a smooth Gaussian field (`blob_images`: pixel
`128 + 25 e`, `e` a spatially correlated N(0, 1) field). Images from the same
field must get the stated false-positive rate; images brighter by two
standard deviations (50 pixel values) or of 1.5 times the contrast must be
detected. (One standard deviation is not: this underfitted Glow, about 5.9
bits/dim, ranks such images at AUROC about 0.7 with either score.)
"""

import itertools

import numpy as np
import pytest
import tensorflow.compat.v2 as tf
import tf_keras

import glow_ood
from glow_ood import metrics
from glow_ood import preprocessing
from glow_ood import scores
from tests.toy_data import tiny_glow_config

pytestmark = pytest.mark.slow


def blob_images(num, seed, shift=0., scale=1.):
  """uint8 `[num, 8, 8, 1]`: `128 + 25 (scale e + shift)`, e a smooth unit field."""
  rng = np.random.default_rng(seed)
  noise = rng.normal(size=(num, 10, 10))
  # A 3x3 box average of white noise, renormalized to unit variance.
  field = sum(noise[:, i:i + 8, j:j + 8] for i in range(3) for j in range(3))
  field /= 3.
  pixels = 128. + 25. * (scale * field + shift)
  return np.clip(np.round(pixels), 0, 255).astype(np.uint8)[..., np.newaxis]


@pytest.fixture(scope="module")
def model():
  glow = glow_ood.Glow(tiny_glow_config())
  train = blob_images(4096, seed=0)
  glow.initialize(glow.preprocess(train[:512]))
  optimizer = tf_keras.optimizers.Adam(3e-3)

  @tf.function
  def train_step(images):
    x = preprocessing.dequantize(images, 8, "uniform")
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(glow.loss_terms(x).bits_per_dim)
    gradients = tape.gradient(loss, glow.trainable_variables)
    optimizer.apply_gradients(zip(gradients, glow.trainable_variables))
    return loss

  for start in itertools.islice(itertools.cycle(range(0, 4096, 64)), 400):
    train_step(tf.constant(train[start:start + 64]))
  return glow


@pytest.mark.parametrize("score_name", ["gradient_score_test",
                                        "gradient_norms"])
def test_a_trained_glow_detects_shifted_and_scaled_blobs(model, score_name):
  score = scores.make_score(score_name, model=model).fit(
      scores.Features(images=blob_images(2000, seed=1)))
  test = scores.Features(images=blob_images(1000, seed=2))
  in_scores = score(test)
  # About 1 - alpha = 5% of new in-distribution images flagged (binomial sd
  # 0.007, plus the threshold's own error from 1000-2000 held-out values).
  assert 0.02 <= np.mean(score.is_ood(test)) <= 0.09
  for shift, scale in ((2., 1.), (0., 1.5)):
    out = scores.Features(images=blob_images(500, seed=3, shift=shift,
                                             scale=scale))
    assert metrics.auroc(in_scores, score(out)) > 0.9, (shift, scale)
