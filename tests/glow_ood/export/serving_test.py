"""Tests of `glow_ood.export.serving` and `terms` on a tiny Glow, in this process.

The model is an initialized 8x8x1 Glow (2 levels of 1 step, width 8), not
trained: what is tested is that the serving functions compute the Python
path's numbers (`likelihood_terms.LikelihoodTermsEvaluator`, `glow_ood.scores`) and check
their inputs. Reloading without `glow_ood` and matching `launch/evaluate.py`
for every family is `tests/launch/export_test.py`'s.
"""

import json

import numpy as np
import tensorflow as tf

from glow_ood import likelihood_terms
from glow_ood import models
from glow_ood import scores as scores_lib
from glow_ood.export import serving
from tests.toy_data import tiny_glow_config
from tests.toy_data import toy_images

SHAPE = (8, 8, 1)


class ServingModuleTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model = models.build_model(tiny_glow_config())
    cls.model.data_init(cls.model.preprocess(toy_images(32, seed=1)))
    cls.images = toy_images(12, seed=2)
    cls.fit = serving.TypicalityFit(
        entropy=360., threshold=5., batch_size=1, alpha=0.99,
        num_bootstrap=10, seed=0, fitted_on={"split": "validation"})
    cls.module = serving.ServingModule(
        cls.model, typicality=cls.fit, dataset_shape=(6, 6, 1),
        metadata={"run": {"name": "tiny"}})
    cls.signatures = cls.module.signatures
    cls.expected = likelihood_terms.LikelihoodTermsEvaluator(cls.model)(cls.images)

  def serve(self, name, images=None):
    images = self.images if images is None else images
    return {k: v.numpy() for k, v in
            self.signatures[name](images=tf.constant(images)).items()}

  def test_signatures_of_a_glow(self):
    self.assertEqual(set(self.signatures), {
        "log_prob", "bits_per_dim", "decomposition", "typicality",
        "input_complexity", "serving_default", "pad_like_training",
        "metadata"})
    self.assertEqual(set(self.serve("log_prob")), {"log_prob"})
    self.assertEqual(set(self.serve("input_complexity")),
                     {"input_complexity", "png_bits"})

  def test_likelihood_is_the_python_scorers(self):
    out = self.serve("serving_default")
    self.assertEqual(out["log_prob"].dtype, np.float64)
    for key, term in (("log_prob", "discrete_log_prob"),
                      ("bits_per_dim", "bits_per_dim"),
                      ("log_prob_z", "log_prob_z"), ("log_det", "log_det"),
                      ("log_prob_z_per_level", "log_prob_z_per_level"),
                      ("log_det_per_level", "log_det_per_level")):
      self.assertAllClose(out[key], getattr(self.expected, term), rtol=0,
                          atol=1e-5, msg=key)
    for kind, values in self.expected.log_det_per_kind.items():
      self.assertAllClose(out[f"log_det_{kind}"], values, rtol=0, atol=1e-5)
    self.assertAllClose(out["per_level_likelihood"],
                        -self.expected.level_contributions, atol=1e-5)

  def test_scores_are_the_python_scores(self):
    out = self.serve("serving_default")
    features = scores_lib.Features(
        discrete_log_prob=self.expected.discrete_log_prob,
        num_dims=int(np.prod(SHAPE)), images=self.images)
    self.assertAllClose(out["typicality"],
                        np.abs(-self.expected.discrete_log_prob - 360.),
                        atol=1e-5)
    self.assertAllEqual(out["is_ood"], out["typicality"] > 5.)
    self.assertAllClose(out["batch_typicality"],
                        abs(np.mean(-self.expected.discrete_log_prob) - 360.))
    self.assertEqual(out["batch_is_ood"], out["batch_typicality"] > 5.)
    self.assertEqual(out["entropy"], 360.)
    self.assertEqual(out["threshold"], 5.)
    same = out["png_bits"] == scores_lib.compressed_bits(self.images)
    python = scores_lib.InputComplexity()(features)
    self.assertAllClose(out["input_complexity"][same], python[same],
                        atol=1e-5)

  def test_pad_like_training_pads_then_serves(self):
    raw = self.images[:, 1:7, 1:7]
    padded = np.pad(raw, ((0, 0), (1, 1), (1, 1), (0, 0)))
    self.assertAllEqual(self.serve("pad_like_training", raw)["log_prob"],
                        self.serve("serving_default", padded)["log_prob"])

  def test_wrong_shapes_fail_with_a_clear_message(self):
    for bad in (np.zeros([2, 6, 6, 1], np.uint8), np.zeros(SHAPE, np.uint8),
                np.zeros([2, 8, 8, 3], np.uint8)):
      with self.assertRaisesRegex(
          tf.errors.InvalidArgumentError,
          r"log_prob takes uint8 images \[N, 8, 8, 1\]"):
        self.serve("log_prob", bad)
    with self.assertRaisesRegex(Exception, "uint8"):
      self.signatures["log_prob"](images=tf.zeros([2, 8, 8, 1]))

  def test_metadata_describes_every_output_with_its_sign(self):
    metadata = json.loads(self.signatures["metadata"]()["json"].numpy())
    self.assertEqual(metadata["run"], {"name": "tiny"})
    described = metadata["signatures"]
    self.assertEqual(set(described), set(self.signatures) - {"metadata"})
    outputs = described["serving_default"]["outputs"]
    self.assertEqual(set(outputs), set(self.serve("serving_default")))
    for name in ("bits_per_dim", "typicality", "batch_typicality",
                 "input_complexity", "per_level_likelihood"):
      self.assertIn("Higher = more out-of-distribution", outputs[name])
    self.assertIn("[None, 6, 6, 1]",
                  described["pad_like_training"]["inputs"]["images"])

  def test_score_images_batches_give_the_same_numbers(self):
    likelihood = serving.likelihood_function(self.model)
    whole = serving.score_images(likelihood, self.images, 12)
    batched = serving.score_images(likelihood, self.images, 5)
    self.assertAllClose(whole["log_prob"], batched["log_prob"], atol=1e-4)
    self.assertAllClose(whole["log_prob"], self.expected.discrete_log_prob,
                        atol=1e-5)


class EdgePaddedGlowSavedModelTest(tf.test.TestCase):

  def test_saved_and_reloaded_scores_are_the_python_ones(self):
    # The pad channel is built from the images' height and width in the
    # graph; a batch of any size must score as in Python after reloading.
    model = models.build_model(tiny_glow_config(coupling_edge_padding=True))
    model.data_init(model.preprocess(toy_images(32, seed=1)))
    for variable in model.trainable_variables:   # move the zero convs
      variable.assign_add(0.02 * tf.ones_like(variable))
    fit = serving.TypicalityFit(
        entropy=360., threshold=5., batch_size=1, alpha=0.99,
        num_bootstrap=10, seed=0, fitted_on={"split": "validation"})
    module = serving.ServingModule(model, typicality=fit, dataset_shape=SHAPE,
                                   metadata={"run": {"name": "edge"}})
    path = self.get_temp_dir() + "/edge_padded_glow"
    tf.saved_model.save(module, path, signatures=module.signatures)
    loaded = tf.saved_model.load(path).signatures["log_prob"]
    for num in (1, 5):
      images = toy_images(num, seed=3)
      expected = likelihood_terms.LikelihoodTermsEvaluator(model)(images).discrete_log_prob
      self.assertAllClose(loaded(images=tf.constant(images))["log_prob"],
                          expected, rtol=0, atol=1e-4)


if __name__ == "__main__":
  tf.test.main()
