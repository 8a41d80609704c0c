"""Tests for `bijectors.actnorm.ActNorm`."""

import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tests.bijectors import bijector_test_util as util
from bijectors import actnorm

MODES = util.MODES


def _data(shape=(8, 4, 4, 3), seed=0, dtype=tf.float32):
  """Channels with different means and scales, so the init has work to do."""
  channels = shape[-1]
  scale = tf.constant(np.linspace(0.5, 3.0, channels), dtype)
  shift = tf.constant(np.linspace(-2.0, 4.0, channels), dtype)
  return util.normal(shape, seed, dtype) * scale + shift


class ActNormTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      util.named_product(mode=MODES, dtype=util.DTYPES))
  def test_bijective_and_log_det(self, mode, dtype):
    layer = actnorm.ActNorm(3, dtype=dtype)
    layer.initialize(_data(dtype=dtype))
    util.assert_bijective_and_finite(
        self, layer, _data((3, 4, 4, 3), seed=1, dtype=dtype), mode=mode)

  @parameterized.named_parameters(
      ("scalar", []), ("one", [1]), ("three", [3]), ("two_by_one", [2, 1]))
  def test_batch_shapes(self, batch_shape):
    layer = actnorm.ActNorm(3)
    layer.initialize(_data())
    x = _data(batch_shape + [4, 4, 3], seed=2)
    values = util.assert_bijective_and_finite(self, layer, x)
    self.assertEqual(values["fldj"].shape, tuple(batch_shape))
    self.assertEqual(values["ildj"].shape, tuple(batch_shape))

  def test_log_det_formula(self):
    layer = actnorm.ActNorm(3)
    layer.initialize(_data())
    fldj = layer.forward_log_det_jacobian(_data((2, 4, 4, 3)), event_ndims=3)
    # fldj = -H * W * sum_c log_scale[c], the same for every example.
    expected = -16. * tf.reduce_sum(layer.log_scale)
    self.assertAllClose(fldj, [expected, expected])

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"),
                                  ("xla", "xla"))
  def test_first_forward_initializes(self, mode):
    layer = actnorm.ActNorm(3)
    self.assertFalse(layer.initialized.numpy())
    x = _data()
    y = util.compile_fn(layer.forward, mode)(x)
    self.assertTrue(layer.initialized.numpy())
    self.assertAllClose(tf.reduce_mean(y, axis=[0, 1, 2]), tf.zeros([3]),
                        atol=1e-5)
    self.assertAllClose(tf.math.reduce_std(y, axis=[0, 1, 2]), tf.ones([3]),
                        atol=1e-4)
    self.assertAllClose(layer.loc, tf.reduce_mean(x, axis=[0, 1, 2]),
                        atol=1e-5)

  def test_explicit_initialize(self):
    layer = actnorm.ActNorm(3)
    x = _data()
    layer.initialize(x)
    self.assertTrue(layer.initialized.numpy())
    y = layer.forward(x)
    self.assertAllClose(tf.reduce_mean(y, axis=[0, 1, 2]), tf.zeros([3]),
                        atol=1e-5)
    self.assertAllClose(tf.math.reduce_std(y, axis=[0, 1, 2]), tf.ones([3]),
                        atol=1e-4)
    # `initialize` re-initializes an initialized layer.
    x2 = 2. * _data(seed=5) - 1.
    layer.initialize(x2)
    self.assertAllClose(layer.loc, tf.reduce_mean(x2, axis=[0, 1, 2]),
                        atol=1e-5)

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"))
  def test_later_forwards_do_not_reinitialize(self, mode):
    layer = actnorm.ActNorm(3)
    forward = util.compile_fn(layer.forward, mode)
    forward(_data())
    loc, log_scale = layer.loc.numpy(), layer.log_scale.numpy()
    forward(5. * _data(seed=3) + 7.)
    self.assertAllEqual(layer.loc, loc)
    self.assertAllEqual(layer.log_scale, log_scale)

  def test_inverse_does_not_initialize(self):
    layer = actnorm.ActNorm(3)
    y = _data()
    x = layer.inverse(y)
    self.assertFalse(layer.initialized.numpy())
    self.assertAllEqual(layer.loc, tf.zeros([3]))
    self.assertAllEqual(layer.log_scale, tf.zeros([3]))
    self.assertAllClose(x, y)  # identity before initialization
    layer.inverse_log_det_jacobian(tf.identity(y), event_ndims=3)
    self.assertFalse(layer.initialized.numpy())

  def test_checkpoint_round_trip_keeps_initialization(self):
    layer = actnorm.ActNorm(3)
    layer.forward(_data())
    prefix = tf.train.Checkpoint(layer=layer).save(
        os.path.join(self.get_temp_dir(), "ckpt"))

    restored = actnorm.ActNorm(3)
    tf.train.Checkpoint(layer=restored).restore(prefix).assert_consumed()
    self.assertTrue(restored.initialized.numpy())
    self.assertAllEqual(restored.loc, layer.loc)
    self.assertAllEqual(restored.log_scale, layer.log_scale)
    # Not re-initialized by the first forward on new data.
    new_data = 3. * _data(seed=4) - 2.
    y = restored.forward(new_data)
    self.assertAllEqual(restored.loc, layer.loc)
    self.assertAllEqual(restored.log_scale, layer.log_scale)
    self.assertAllClose(y, layer.forward(tf.identity(new_data)))

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"))
  def test_alike_layers_do_not_share_cached_outputs(self, mode):
    # Two layers built with the same arguments hold different variables: TFP's
    # cache, keyed by (input, bijector), must not hand one the other's output.
    first, second = actnorm.ActNorm(3), actnorm.ActNorm(3)
    first.initialize(_data(seed=20))
    second.initialize(3. * _data(seed=21) + 1.)
    x = _data(seed=22)

    def both(x):
      return (first.forward(x), second.forward(x),
              first.forward_log_det_jacobian(x, event_ndims=3),
              second.forward_log_det_jacobian(x, event_ndims=3))

    y1, y2, fldj1, fldj2 = util.compile_fn(both, mode)(x)
    self.assertAllClose(y2, second.forward(tf.identity(x)))
    self.assertNotAllClose(y1, y2)
    self.assertNotAllClose(fldj1, fldj2)

  def test_variables(self):
    layer = actnorm.ActNorm(3)
    self.assertLen(layer.trainable_variables, 2)  # loc, log_scale
    self.assertIn(layer.initialized.ref(),
                  {v.ref() for v in layer.variables})
    self.assertFalse(layer.initialized.trainable)

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"),
                                  ("xla", "xla"))
  def test_log_prob_consistent(self, mode):
    layer = actnorm.ActNorm(3)
    layer.initialize(_data())
    util.assert_log_prob_consistent(self, layer, _data((3, 4, 4, 3), seed=1),
                                    mode=mode)

  def _two_replica_strategy(self):
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
      self.skipTest("needs 2 logical CPUs (configured in tests/conftest.py)")
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])

  @parameterized.named_parameters(("eager", "eager"), ("function", "function"))
  def test_no_initialization_inside_run(self, mode):
    # Each replica sees a different half of the batch: initializing there
    # would give the replicas different values. The layer must wait for a
    # cross-replica initialization instead.
    strategy = self._two_replica_strategy()
    with strategy.scope():
      layer = actnorm.ActNorm(3)
    data = [_data(seed=10), 4. * _data(seed=11) + 3.]
    per_replica = strategy.experimental_distribute_values_from_function(
        lambda context: data[context.replica_id_in_sync_group])
    run = util.compile_fn(
        lambda v: strategy.run(layer.forward, args=(v,)), mode)
    outputs = strategy.experimental_local_results(run(per_replica))
    self.assertAllEqual(strategy.experimental_local_results(layer.initialized),
                        [False, False])
    self.assertAllClose(outputs[0], data[0])   # identity: loc 0, log_scale 0
    # Cross-replica initialization on the global batch: replicas agree.
    with strategy.scope():
      layer.forward(tf.concat(data, axis=0))
    locs = strategy.experimental_local_results(layer.loc)
    log_scales = strategy.experimental_local_results(layer.log_scale)
    self.assertAllEqual(strategy.experimental_local_results(layer.initialized),
                        [True, True])
    self.assertAllEqual(locs[0], locs[1])
    self.assertAllEqual(log_scales[0], log_scales[1])
    self.assertAllClose(locs[0], tf.reduce_mean(tf.concat(data, 0), [0, 1, 2]),
                        atol=1e-5)

  def test_train_step_after_cross_replica_init(self):
    # The documented recipe: initialize on one global batch in cross-replica
    # context, then train with `tf.function(strategy.run(...))`.
    strategy = self._two_replica_strategy()
    with strategy.scope():
      layer = actnorm.ActNorm(3)
    data = [_data(seed=10), 4. * _data(seed=11) + 3.]
    layer.initialize(tf.concat(data, axis=0))
    per_replica = strategy.experimental_distribute_values_from_function(
        lambda context: data[context.replica_id_in_sync_group])

    def replica_step(x):
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(layer.forward(x)))
      grads = tape.gradient(loss, layer.trainable_variables)
      for grad, variable in zip(grads, layer.trainable_variables):
        variable.assign_sub(0.1 * grad)  # ONLY_FIRST_REPLICA aggregation
      return loss

    losses = tf.function(lambda v: strategy.run(replica_step, args=(v,)))(
        per_replica)
    for loss in strategy.experimental_local_results(losses):
      util.assert_all_finite(self, loss, "loss")
    locs = strategy.experimental_local_results(layer.loc)
    self.assertAllEqual(locs[0], locs[1])


if __name__ == "__main__":
  tf.test.main()
