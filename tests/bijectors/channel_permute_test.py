"""Tests for `bijectors.channel_permute.ChannelPermute`."""

import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tests.bijectors import bijector_test_util as util
from bijectors import channel_permute

KINDS = {
    "reverse": lambda c: channel_permute.ChannelPermute.reverse(c),
    "shuffle": lambda c: channel_permute.ChannelPermute.shuffle(c, seed=3),
}


class ChannelPermuteTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      util.named_product(kind=KINDS, mode=util.MODES, dtype=util.DTYPES))
  def test_bijective_and_log_det(self, kind, mode, dtype):
    util.assert_bijective_and_finite(
        self, kind(6), util.normal([3, 2, 3, 6], 1, dtype), mode=mode)

  @parameterized.named_parameters(
      ("scalar", []), ("one", [1]), ("three", [3]), ("two_by_one", [2, 1]))
  def test_batch_shapes(self, batch_shape):
    values = util.assert_bijective_and_finite(
        self, KINDS["shuffle"](6), util.normal(batch_shape + [2, 3, 6], 2))
    self.assertAllEqual(values["fldj"], np.zeros(values["fldj"].shape))

  def test_reverse(self):
    x = util.normal([2, 2, 2, 5], 3)
    bijector = channel_permute.ChannelPermute.reverse(5)
    self.assertAllEqual(bijector.permutation, [4, 3, 2, 1, 0])
    self.assertAllEqual(bijector.forward(x), x[..., ::-1])

  def test_shuffle_is_fixed_by_seed(self):
    first = channel_permute.ChannelPermute.shuffle(16, seed=5)
    second = channel_permute.ChannelPermute.shuffle(16, seed=5)
    other = channel_permute.ChannelPermute.shuffle(16, seed=6)
    self.assertAllEqual(first.permutation, second.permutation)
    self.assertNotAllEqual(first.permutation, other.permutation)
    self.assertAllEqual(np.sort(first.permutation.numpy()), np.arange(16))

  def test_forward_gathers_channels(self):
    permutation = [2, 0, 3, 1]
    bijector = channel_permute.ChannelPermute(permutation)
    x = util.normal([2, 2, 2, 4], 4)
    # y[..., c] = x[..., permutation[c]].
    self.assertAllEqual(bijector.forward(x), tf.gather(x, permutation, axis=-1))
    self.assertAllEqual(bijector.inverse(tf.gather(x, permutation, axis=-1)), x)

  def test_no_trainable_variables(self):
    bijector = KINDS["shuffle"](6)
    self.assertEmpty(bijector.trainable_variables)
    self.assertLen(bijector.variables, 1)

  def test_checkpoint_restores_permutation(self):
    saved = channel_permute.ChannelPermute.shuffle(8, seed=1)
    prefix = tf.train.Checkpoint(permute=saved).save(
        os.path.join(self.get_temp_dir(), "ckpt"))
    restored = channel_permute.ChannelPermute.shuffle(8, seed=2)
    tf.train.Checkpoint(permute=restored).restore(prefix).assert_consumed()
    self.assertAllEqual(restored.permutation, saved.permutation)
    x = util.normal([1, 2, 2, 8], 5)
    self.assertAllEqual(restored.forward(x), saved.forward(tf.identity(x)))

  def test_alike_layers_do_not_share_cached_outputs(self):
    # Built alike, then one's permutation overwritten (as a checkpoint
    # restore does): TFP's cache must not return the other's output for the
    # same input tensor.
    permutation = [3, 1, 4, 0, 6, 2, 7, 5]
    first = channel_permute.ChannelPermute(permutation)
    second = channel_permute.ChannelPermute(permutation)
    second.permutation.assign(np.arange(8)[::-1])
    x = util.normal([1, 2, 2, 8], 6)
    y1 = first.forward(x)
    self.assertAllEqual(second.forward(x), x[..., ::-1])
    self.assertNotAllEqual(y1, x[..., ::-1])

  def test_log_prob_consistent(self):
    for mode in util.MODES:
      util.assert_log_prob_consistent(self, KINDS["shuffle"](6),
                                      util.normal([3, 2, 3, 6], 7), mode=mode)

  def test_bad_permutation_raises(self):
    for bad in ([0, 0, 1], [1, 2, 3], [[0, 1], [1, 0]], [0, 2]):
      with self.assertRaisesRegex(ValueError, "must be a permutation of 0..C-1",
                                  msg=str(bad)):
        channel_permute.ChannelPermute(bad)


if __name__ == "__main__":
  tf.test.main()
