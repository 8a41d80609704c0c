"""Tests of `glow_ood.configs.GlowConfig` and its presets."""

import dataclasses

from absl.testing import parameterized
import tensorflow as tf

from glow_ood import configs as config_lib


class GlowConfigTest(tf.test.TestCase, parameterized.TestCase):

  def test_presets_match_the_papers(self):
    nalisnick = config_lib.GlowConfig.from_preset("nalisnick2019")
    self.assertEqual((nalisnick.num_levels, nalisnick.num_steps_per_level,
                      nalisnick.hidden_width), (3, 8, 512))
    kingma = config_lib.GlowConfig.from_preset("kingma2018")
    self.assertEqual((kingma.num_levels, kingma.num_steps_per_level,
                      kingma.hidden_width), (3, 32, 512))
    # openai/glow's code, which both papers ran, pads with an edge channel.
    self.assertTrue(nalisnick.coupling_edge_padding)
    self.assertTrue(kingma.coupling_edge_padding)
    self.assertFalse(config_lib.GlowConfig().coupling_edge_padding)
    for name in config_lib.PRESETS:
      config_lib.GlowConfig.from_preset(name)  # valid

  def test_is_frozen_and_replace_validates(self):
    config = config_lib.GlowConfig()
    with self.assertRaises(dataclasses.FrozenInstanceError):
      config.num_levels = 2
    self.assertEqual(config.replace(num_levels=2).num_levels, 2)
    self.assertEqual(config.num_dims, 32 * 32 * 3)
    with self.assertRaisesRegex(ValueError, "coupling_scale"):
      config.replace(coupling_scale="affine")

  @parameterized.named_parameters(
      ("scale", dict(coupling_scale="affine"), r"coupling_scale='affine' is not one of"),
      ("permutation", dict(permutation="invconv"), "permutation"),
      ("prior", dict(split_prior="gaussian"), "split_prior"),
      ("dtype", dict(dtype="float16"), "dtype"),
      ("bits", dict(n_bits=0), "n_bits"),
      ("levels", dict(num_levels=0), "num_levels"),
      ("shape", dict(image_shape=(28, 28, 1)), r"divisible by 8.*28x28 -> 32x32"),
      ("rank", dict(image_shape=(32, 32)), r"\(H, W, C\)"))
  def test_bad_values_fail_with_the_fix(self, changes, message):
    with self.assertRaisesRegex(ValueError, message):
      config_lib.GlowConfig(**changes)

  def test_unknown_preset(self):
    with self.assertRaisesRegex(ValueError, "choose one of"):
      config_lib.GlowConfig.from_preset("glow")


if __name__ == "__main__":
  tf.test.main()
