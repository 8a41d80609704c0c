"""Tests of `glow_ood.scores.per_example_gradients` on tiny models of the three families.

The one-example-at-a-time gradients are checked against a second route, the
rows of the Jacobian of the batch's log-likelihoods (each example's
gradient through the graph of the whole batch): they agree only if an example's log-likelihood and gradient do not
depend on its batch (no data-dependent init re-running, no dropout, the
VAE's draws keyed by the image).
"""

import numpy as np
import pytest
import tensorflow.compat.v2 as tf

import glow_ood
from glow_ood.configs.pixelcnn import PixelCNNConfig
from glow_ood.configs.vae import VAEConfig
from glow_ood.models import build_model
from glow_ood.models import density_model
from glow_ood.scores import per_example_gradients
from tests.glow_ood.scores import gaussian_family
from tests.toy_data import tiny_glow_config
from tests.toy_data import toy_images

FAMILIES = ("glow", "pixelcnn", "vae")


def tiny_model(family):
  images = toy_images(16, seed=0)
  if family == "glow":
    model = glow_ood.Glow(tiny_glow_config())
    model.initialize(model.preprocess(images))
    # Glow's zero-initialized coupling outputs would leave most gradients 0.
    for variable in model.trainable_variables:
      variable.assign_add(0.05 * tf.random.stateless_normal(
          variable.shape, seed=[1, len(variable.name)]))
  elif family == "pixelcnn":
    model = build_model(PixelCNNConfig(
        image_shape=(8, 8, 1), num_resnet=1, num_hierarchies=1, num_filters=4,
        num_logistic_mix=2, seed=0))
    model.data_init(images)
  else:
    model = build_model(VAEConfig(image_shape=(8, 8, 1), widths=(4, 8),
                                  latent_dim=3, seed=0))
  return model


@pytest.fixture(scope="module", params=FAMILIES)
def model(request):
  return tiny_model(request.param)


def test_per_example_gradients_match_the_batch_jacobian(model):
  images = toy_images(5, seed=1)
  gradients = per_example_gradients.PerExampleGradients(model, num_samples=2)
  weights = [np.full(v.shape, 0.5 + k) for k, v in
             enumerate(gradients.variables)]
  result = gradients.run(images, weights=weights, accumulate=True)
  with tf.GradientTape(persistent=True) as tape:
    log_prob = density_model.differentiable_log_prob(
        model, images, num_samples=2)
    rows = [log_prob[i] for i in range(5)]
  # The Jacobian's rows: each example's gradient through the batch's graph.
  rows = [tape.gradient(row, gradients.variables,
                        unconnected_gradients=tf.UnconnectedGradients.ZERO)
          for row in rows]
  squares = [np.square(np.stack([row[k].numpy() for row in rows]).astype(
      np.float64)) for k in range(len(gradients.variables))]  # [5, *shape]
  expected_norms = np.stack([s.reshape(5, -1).sum(axis=1) for s in squares],
                            axis=1)
  np.testing.assert_allclose(result.log_prob, log_prob.numpy(), rtol=1e-5)
  np.testing.assert_allclose(result.squared_norms, expected_norms, rtol=2e-3,
                             atol=1e-6 * expected_norms.max())
  np.testing.assert_allclose(
      result.weighted, sum((s * w).reshape(5, -1).sum(axis=1)
                           for s, w in zip(squares, weights)), rtol=2e-3)
  for total, square in zip(result.sum_of_squares, squares):
    np.testing.assert_allclose(total, square.sum(axis=0), rtol=2e-3,
                               atol=1e-6 * expected_norms.max())
  # Per layer: the sums of its variables' squared norms.
  layers = gradients.layer_squared_norms(result.squared_norms)
  assert layers.shape == (5, len(gradients.layers))
  np.testing.assert_allclose(layers.sum(axis=1),
                             result.squared_norms.sum(axis=1))
  assert result.seconds_per_example > 0.


def test_model_weights_are_not_changed(model):
  before = [v.numpy().copy() for v in model.variables]
  per_example_gradients.PerExampleGradients(model).run(toy_images(3, seed=2),
                                                       accumulate=True)
  for old, new in zip(before, model.variables):
    np.testing.assert_array_equal(old, new.numpy())


@pytest.mark.parametrize("family, first, last", [
    ("glow", "glow/level1_step1_actnorm", "glow/top_prior"),
    ("vae", "vae/encoder_conv_0", "vae/decoder_output"),
])
def test_layers_are_in_forward_order(family, first, last):
  gradients = per_example_gradients.PerExampleGradients(tiny_model(family))
  assert gradients.layers[0] == first and gradients.layers[-1] == last
  assert gradients.unread_variables == []
  # Every trainable variable is in exactly one layer.
  model_names = sorted(v.name for v in gradients._model.trainable_variables)
  assert sorted(v.name for v in gradients.variables) == model_names


def test_variable_selection():
  model = tiny_model("vae")
  last_two = per_example_gradients.PerExampleGradients(model, variables=2)
  assert last_two.layers == ("vae/decoder_conv_transpose_1",
                             "vae/decoder_output")
  assert last_two.num_parameters == sum(
      v.shape.num_elements() for v in model.trainable_variables
      if "decoder_conv_transpose_1" in v.name or "decoder_output" in v.name)
  kernels = per_example_gradients.PerExampleGradients(
      model, variables="decoder.*kernel")
  assert all("decoder" in v.name and "kernel" in v.name
             for v in kernels.variables)
  assert len(kernels.layers) == 4
  with pytest.raises(ValueError, match="the model has 7"):
    per_example_gradients.PerExampleGradients(model, variables=8)
  with pytest.raises(ValueError, match="matches none"):
    per_example_gradients.PerExampleGradients(model, variables="prior")


def test_unread_variables_are_left_out():
  model = gaussian_family.GaussianModel()
  model.unused = tf.Variable(tf.zeros([3]), name="unused")
  gradients = per_example_gradients.PerExampleGradients(model)
  assert gradients.layers == ("loc", "log_scale")
  assert [v.name for v in gradients.unread_variables] == ["unused:0"]


def test_an_uninitialized_model_is_refused():
  with pytest.raises(ValueError, match="initialized"):
    per_example_gradients.PerExampleGradients(glow_ood.Glow(tiny_glow_config()))


def test_bad_inputs():
  gradients = per_example_gradients.PerExampleGradients(tiny_model("vae"))
  with pytest.raises(TypeError, match="uint8"):
    gradients.run(np.zeros([2, 8, 8, 1], np.float32))
  with pytest.raises(ValueError, match="one array per selected variable"):
    gradients.run(toy_images(2, seed=3), weights=[np.ones(3)])
