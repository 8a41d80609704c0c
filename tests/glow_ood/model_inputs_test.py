"""Tests of `glow_ood.model_inputs`: what is refused, with which fix, and what passes.

No model is built: the checks need only a `GlowConfig` (8x8x3 images, D = 192).
The Glow's own use of them (which method checks what, no op in a traced step)
is tested in `model_test.py` and `tests/catalogue/api_test.py`.
"""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

import glow_ood
from glow_ood import model_inputs

IMAGE_SHAPE = (8, 8, 3)


def config(**overrides):
  values = dict(image_shape=IMAGE_SHAPE, num_levels=2, num_steps_per_level=1,
                hidden_width=8)
  values.update(overrides)
  return glow_ood.GlowConfig(**values)


def dequantized(batch_shape=(2,), seed=0):
  rng = np.random.default_rng(seed)
  return rng.uniform(-0.5, 0.5, tuple(batch_shape) + IMAGE_SHAPE).astype(
      np.float32)


class FloatImagesTest(tf.test.TestCase, parameterized.TestCase):

  def test_accepted_images_are_returned_unchanged_in_the_model_dtype(self):
    x = dequantized()
    for given in (x, tf.constant(x), x.astype(np.float64), x.tolist(), x[0]):
      out = model_inputs.float_images(given, config(), "f", False)
      self.assertEqual(out.dtype, tf.float32)
      self.assertAllEqual(out, np.asarray(given, np.float32))
    out = model_inputs.float_images(x, config(dtype="float64"), "f", True)
    self.assertEqual(out.dtype, tf.float64)

  @parameterized.named_parameters(
      ("uint8", lambda x: np.zeros(x.shape, np.uint8),
       r"^f takes dequantized float images in \[-0.5, 0.5\] but got uint8 x; "
       r"dequantize uint8 images with model\.preprocess\(images\) first"),
      ("float64_tensor", lambda x: tf.constant(x, tf.float64),
       r"^f: x is a float64 Tensor but the model is float32; cast it with "
       r"tf\.cast\(x, tf\.float32\) or build the model with "
       r"dtype='float64' in its config\.$"))
  def test_other_dtypes_raise_type_error(self, make, message):
    with self.assertRaisesRegex(TypeError, message):
      model_inputs.float_images(make(dequantized()), config(), "f", False)

  @parameterized.named_parameters(
      ("missing_channel_axis_rgb", [2, 8, 8],
       r"the channel axis is missing \(the model takes 3 channels\)"),
      ("channels_first", [2, 3, 8, 8],
       r"these look channels-first \[B, C, H, W\]; transpose them with "
       r"tf\.transpose\(x, \[0, 2, 3, 1\]\)"),
      ("size", [2, 16, 16, 3],
       r"resize, pad or crop them to 8x8 .* "
       r"image_shape=\(16, 16, 3\) in its config"),
      ("channels", [2, 8, 8, 1],
       r"the model takes 3 channels: convert .* "
       r"image_shape=\(8, 8, 1\) in its config"),
      ("flat", [2, 192], r"reshape them to \[\.\.\., 8, 8, 3\]"))
  def test_other_shapes_raise_value_error_with_the_fix(self, shape, hint):
    with self.assertRaisesRegex(
        ValueError,
        r"^f takes images \[\.\.\., 8, 8, 3\] \(the model's image_shape\) but "
        rf"got x of shape \[{', '.join(map(str, shape))}\]; {hint}"):
      model_inputs.float_images(tf.zeros(shape), config(), "f", False)

  def test_missing_gray_channel_axis_names_tf_newaxis(self):
    with self.assertRaisesRegex(ValueError, r"add it with x\[\.\.\., tf\.newaxis\]"):
      model_inputs.float_images(tf.zeros([2, 8, 8]), config(image_shape=(8, 8, 1)),
                                "f", False)

  def test_unknown_dimensions_under_tf_function_ask_for_a_signature(self):
    for spec, shape in ((tf.TensorSpec([None, 8, None, 3]), r"\[\?, 8, \?, 3\]"),
                        (tf.TensorSpec(None), "<unknown rank>")):
      fn = tf.function(lambda x: model_inputs.float_images(x, config(), "f", False),
                       input_signature=[spec], autograph=False)
      with self.assertRaisesRegex(
          ValueError, rf"got x of shape {shape}; give tf\.function an "
          r"input_signature .* tf\.TensorSpec\(\[None, 8, 8, 3\]\)"):
        fn.get_concrete_function()

  @parameterized.named_parameters(
      ("raw_pixels", 0., 255., r"\[0, 255\]; they look like raw pixels 0\.\.255"),
      ("wide", -3., 1., r"\[-3, 1\]; dequantize uint8 images"))
  def test_known_values_far_outside_the_cube_raise(self, low, high, needle):
    x = np.full((1,) + IMAGE_SHAPE, low, np.float32)
    x[0, 0, 0, 0] = high
    message = r"^f takes dequantized images in \[-0.5, 0.5\] but got values in "
    with self.assertRaisesRegex(ValueError, message + needle):
      model_inputs.float_images(x, config(), "f", False)
    # A constant of a traced function is known too.
    fn = tf.function(
        lambda: model_inputs.float_images(tf.constant(x), config(), "f", False),
        autograph=False)
    with self.assertRaisesRegex(ValueError, message + needle):
      fn()

  @parameterized.named_parameters(
      ("unit", 0., 1., r"scaled to \[0, 1\]: subtract 0\.5"),
      ("symmetric", -1., 1., r"scaled to \[-1, 1\]: divide them by 2"))
  def test_strict_bound_under_validate_args(self, low, high, hint):
    x = np.full((1,) + IMAGE_SHAPE, low, np.float32)
    x[0, 0, 0, 0] = high
    # Within [-2, 2]: accepted by default, refused with validate_args.
    self.assertAllEqual(model_inputs.float_images(x, config(), "f", False), x)
    with self.assertRaisesRegex(ValueError, hint):
      model_inputs.float_images(x, config(), "f", True)

  def test_graph_inputs_are_read_only_under_validate_args(self):
    spec = tf.TensorSpec([None] + list(IMAGE_SHAPE), tf.float32)
    x = dequantized()
    for validate_args in (False, True):
      fn = tf.function(
          lambda x, v=validate_args: model_inputs.float_images(x, config(), "f", v),
          input_signature=[spec], autograph=False)
      graph_def = fn.get_concrete_function().graph.as_graph_def()
      ops = {node.op for node in graph_def.node} | {
          node.op for f in graph_def.library.function for node in f.node_def}
      self.assertEqual("Assert" in ops, validate_args, ops)
      self.assertAllEqual(fn(x), x)
      if validate_args:
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                    r"f takes dequantized images in "
                                    r"\[-0.5, 0.5\]; x has values outside it"):
          fn(x + 1.)
      else:  # Not read: even raw pixels pass a traced call.
        self.assertAllEqual(fn(x * 510.), x * 510.)

  def test_empty_inputs_have_no_range(self):
    x = np.zeros((0,) + IMAGE_SHAPE, np.float32)
    self.assertEqual(model_inputs.float_images(x, config(), "f", True).shape,
                     (0,) + IMAGE_SHAPE)


class Uint8ImagesTest(tf.test.TestCase):

  def test_uint8_images_of_the_model_shape_pass(self):
    images = np.arange(2 * 8 * 8 * 3, dtype=np.int64).reshape(
        (2,) + IMAGE_SHAPE).astype(np.uint8)
    for given in (images, tf.constant(images), images[0]):
      out = model_inputs.uint8_images(given, config(), "f")
      self.assertEqual(out.dtype, tf.uint8)
      self.assertAllEqual(out, given)

  def test_other_dtypes_and_shapes_raise(self):
    with self.assertRaisesRegex(TypeError, r"^f takes uint8 images .* uint16"):
      model_inputs.uint8_images(np.zeros((2,) + IMAGE_SHAPE, np.uint16),
                                config(), "f")
    with self.assertRaisesRegex(
        ValueError, r"^f takes images \[\.\.\., 8, 8, 3\] .* but got images of "
        r"shape \[2, 3, 8, 8\]; .* tf\.transpose\(images, \[0, 2, 3, 1\]\)"):
      model_inputs.uint8_images(np.zeros([2, 3, 8, 8], np.uint8), config(), "f")


class FlatLatentsTest(tf.test.TestCase):

  def test_flat_latents_pass_in_the_model_dtype(self):
    z = np.zeros([2, 192])
    out = model_inputs.flat_latents(z, config(), "f")
    self.assertEqual(out.dtype, tf.float32)
    self.assertEqual(out.shape, [2, 192])

  def test_images_scalars_and_other_sizes_raise(self):
    prefix = r"^f takes flat latents \[\.\.\., 192\] \(D = H\*W\*C\) but got z of shape "
    for z, rest in ((tf.zeros((2,) + IMAGE_SHAPE),
                     r"\[2, 8, 8, 3\]; these look like images: encode them"),
                    (tf.zeros([2, 10]), r"\[2, 10\]; pass latents from model\.encode"),
                    (tf.constant(0.), r"\[\]; pass latents")):
      with self.assertRaisesRegex(ValueError, prefix + rest):
        model_inputs.flat_latents(z, config(), "f")
    with self.assertRaisesRegex(TypeError, "got int32 z"):
      model_inputs.flat_latents(tf.zeros([2, 192], tf.int32), config(), "f")


class Uint8ImageBatchTest(tf.test.TestCase):

  def test_a_batch_passes_as_numpy(self):
    images = np.zeros((3,) + IMAGE_SHAPE, np.uint8)
    out = model_inputs.uint8_image_batch(tf.constant(images), config(), "f")
    self.assertIsInstance(out, np.ndarray)
    self.assertAllEqual(out, images)

  def test_other_dtypes_and_shapes_raise(self):
    with self.assertRaisesRegex(TypeError, r"^f takes uint8 images .*float32"):
      model_inputs.uint8_image_batch(np.zeros((1,) + IMAGE_SHAPE, np.float32),
                                     config(), "f")
    prefix = (r"^f takes uint8 images \[N, 8, 8, 3\] \(the model's image shape\) "
              r"but got shape ")
    with self.assertRaisesRegex(ValueError, prefix + r"\[8, 8, 3\]; add the batch axis"):
      model_inputs.uint8_image_batch(np.zeros(IMAGE_SHAPE, np.uint8), config(), "f")
    with self.assertRaisesRegex(ValueError, prefix + r"\[1, 2, 8, 8, 3\]; conform them"):
      model_inputs.uint8_image_batch(np.zeros((1, 2) + IMAGE_SHAPE, np.uint8),
                                     config(), "f")


if __name__ == "__main__":
  tf.test.main()
