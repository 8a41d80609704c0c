"""Tests of `glow_ood.train.optimizers` (Adamax, Adam) and `glow_ood.models.ema`.

The optimizers are checked step by step against a direct numpy transcription
of their documented update rules on a small quadratic, whose gradient is known
in closed form.
"""

import numpy as np
import pytest
import tensorflow as tf

from glow_ood.models import ema as ema_lib
from glow_ood.train import optimizers

# f(w) = 0.5 * sum(a * (w - c)**2): gradient a * (w - c), different scales per
# coordinate so that Adam's per-coordinate normalization matters.
A = np.array([[0.5, 2.0], [10.0, 0.1]], np.float32)
C = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
B_A = np.array([4.0, 0.02, 1.0], np.float32)
B_C = np.array([-1.0, 2.0, 0.0], np.float32)
W0 = np.array([[0.0, 0.5], [-1.0, 1.0]], np.float32)
B0 = np.array([0.3, -0.3, 5.0], np.float32)


def _grads(values):
  w, b = values
  return [A * (w - C), B_A * (b - B_C)]


def _adamax_reference(params, steps, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
  """Kingma & Ba (2015), Algorithm 2, with `eps` added to `u` as in Keras."""
  params = [p.astype(np.float64) for p in params]
  m = [np.zeros_like(p) for p in params]
  u = [np.zeros_like(p) for p in params]
  history = []
  for t in range(1, steps + 1):
    grads = _grads(params)
    m = [beta_1 * m_i + (1 - beta_1) * g for m_i, g in zip(m, grads)]
    u = [np.maximum(beta_2 * u_i, np.abs(g)) for u_i, g in zip(u, grads)]
    params = [p - lr / (1 - beta_1 ** t) * m_i / (u_i + eps)
              for p, m_i, u_i in zip(params, m, u)]
    history.append((params, m, u))
  return history


def _adam_reference(params, steps, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
  """Kingma & Ba (2015), Algorithm 1 (epsilon added to sqrt(v_hat))."""
  params = [p.astype(np.float64) for p in params]
  m = [np.zeros_like(p) for p in params]
  v = [np.zeros_like(p) for p in params]
  history = []
  for t in range(1, steps + 1):
    grads = _grads(params)
    m = [beta_1 * m_i + (1 - beta_1) * g for m_i, g in zip(m, grads)]
    v = [beta_2 * v_i + (1 - beta_2) * g ** 2 for v_i, g in zip(v, grads)]
    m_hat = [m_i / (1 - beta_1 ** t) for m_i in m]
    v_hat = [v_i / (1 - beta_2 ** t) for v_i in v]
    params = [p - lr * mh / (np.sqrt(vh) + eps)
              for p, mh, vh in zip(params, m_hat, v_hat)]
    history.append((params, m, v))
  return history


REFERENCES = {"adamax": _adamax_reference, "adam": _adam_reference}


def _variables():
  return [tf.Variable(W0), tf.Variable(B0)]


def _step(optimizer, variables, learning_rate):
  grads = _grads([tf.convert_to_tensor(v) for v in variables])
  optimizer.assign(*optimizer.updates(grads, learning_rate))


@pytest.mark.parametrize("name", optimizers.OPTIMIZERS)
@pytest.mark.parametrize("eager", [True, False], ids=["eager", "function"])
def test_matches_numpy_update_rule_on_a_quadratic(name, eager):
  lr, steps = 0.05, 6
  variables = _variables()
  optimizer = optimizers.make_optimizer(name, variables)
  step = _step if eager else tf.function(_step)
  expected = REFERENCES[name]([W0, B0], steps, lr)
  for t, (params, m, second) in enumerate(expected, start=1):
    step(optimizer, variables, tf.constant(lr))
    assert int(optimizer.iterations.numpy()) == t
    # float32 against float64: `1 - beta_2**t` alone is off by ~1e-4 relative.
    for actual, wanted in zip(variables, params):
      np.testing.assert_allclose(actual.numpy(), wanted, rtol=1e-5, atol=1e-5)
    for actual, wanted in zip(optimizer.first_moments, m):
      np.testing.assert_allclose(actual.numpy(), wanted, rtol=1e-5, atol=1e-7)
    for actual, wanted in zip(optimizer.second_moments, second):
      np.testing.assert_allclose(actual.numpy(), wanted, rtol=1e-4, atol=1e-9)
  # The reference (and so the optimizer) actually moved towards the minimum.
  start = 0.5 * np.sum(A * (W0 - C) ** 2) + 0.5 * np.sum(B_A * (B0 - B_C) ** 2)
  w, b = (v.numpy() for v in variables)
  end = 0.5 * np.sum(A * (w - C) ** 2) + 0.5 * np.sum(B_A * (b - B_C) ** 2)
  assert end < start


def test_adamax_differs_from_adam():
  """The two rules are not the same (guards against a copy-paste of one)."""
  adamax = _adamax_reference([W0, B0], 3, 0.05)[-1][0]
  adam = _adam_reference([W0, B0], 3, 0.05)[-1][0]
  assert not np.allclose(adamax[0], adam[0], atol=1e-4)
  results = {}
  for name in optimizers.OPTIMIZERS:
    variables = _variables()
    optimizer = optimizers.make_optimizer(name, variables)
    for _ in range(3):
      _step(optimizer, variables, 0.05)
    results[name] = variables[0].numpy()
  assert not np.allclose(results["adamax"], results["adam"], atol=1e-4)


@pytest.mark.parametrize("name", optimizers.OPTIMIZERS)
def test_updates_change_nothing_until_assign(name):
  variables = _variables()
  optimizer = optimizers.make_optimizer(name, variables)
  grads = [tf.constant(g) for g in _grads([W0, B0])]
  new_vars, new_m, new_v = optimizer.updates(grads, 0.1)
  # Nothing written yet: variables, slots and the count are untouched.
  np.testing.assert_array_equal(variables[0].numpy(), W0)
  np.testing.assert_array_equal(variables[1].numpy(), B0)
  for slot in optimizer.first_moments + optimizer.second_moments:
    np.testing.assert_array_equal(slot.numpy(), np.zeros(slot.shape))
  assert int(optimizer.iterations.numpy()) == 0
  assert not np.allclose(new_vars[0].numpy(), W0)
  # Computing the update again gives the same values (it is a pure function).
  again = optimizer.updates(grads, 0.1)
  for first, second in zip(new_vars + new_m + new_v, sum(again, [])):
    np.testing.assert_array_equal(first.numpy(), second.numpy())
  optimizer.assign(new_vars, new_m, new_v)
  for variable, value in zip(variables, new_vars):
    np.testing.assert_array_equal(variable.numpy(), value.numpy())
  for slot, value in zip(optimizer.first_moments + optimizer.second_moments,
                         new_m + new_v):
    np.testing.assert_array_equal(slot.numpy(), value.numpy())
  assert int(optimizer.iterations.numpy()) == 1


def test_learning_rate_is_a_runtime_value_and_scales_the_step():
  """Under one traced function, a different learning rate gives a different step."""
  deltas = []
  for lr in (0.01, 0.02):
    variables = _variables()
    optimizer = optimizers.Adamax(variables)
    tf.function(_step)(optimizer, variables, tf.constant(lr))
    deltas.append(variables[0].numpy() - W0)
  # Adamax's first step is -lr * sign(g) (up to eps): linear in lr.
  np.testing.assert_allclose(deltas[1], 2 * deltas[0], rtol=1e-4)
  np.testing.assert_allclose(np.abs(deltas[0]), 0.01, rtol=1e-3)


def test_float64_variables():
  variables = [tf.Variable(W0.astype(np.float64))]
  optimizer = optimizers.Adam(variables)
  grad = tf.constant(A.astype(np.float64) * (W0 - C))
  optimizer.assign(*optimizer.updates([grad], tf.constant(0.1, tf.float32)))
  assert variables[0].dtype == tf.float64
  assert optimizer.first_moments[0].dtype == tf.float64
  # The first Adam step is lr * g / (|g| + eps'): about -0.1 * sign(g).
  np.testing.assert_allclose(variables[0].numpy() - W0,
                             -0.1 * np.sign(A * (W0 - C)), rtol=1e-5)


def test_bad_arguments():
  variables = _variables()
  optimizer = optimizers.Adamax(variables)
  with pytest.raises(ValueError, match="1 gradients for 2 variables"):
    optimizer.updates([tf.zeros([2, 2])], 0.1)
  with pytest.raises(ValueError, match=r"Unknown optimizer 'sgd'.*adamax"):
    optimizers.make_optimizer("sgd", variables)


def test_optimizer_state_is_checkpointed(tmp_path):
  variables = _variables()
  optimizer = optimizers.Adam(variables)
  for _ in range(2):
    _step(optimizer, variables, 0.05)
  path = tf.train.Checkpoint(optimizer=optimizer).save(str(tmp_path / "ckpt"))
  fresh_variables = _variables()
  fresh = optimizers.Adam(fresh_variables)
  tf.train.Checkpoint(optimizer=fresh).restore(path).assert_consumed()
  assert int(fresh.iterations.numpy()) == 2
  for restored, saved in zip(fresh.first_moments + fresh.second_moments,
                             optimizer.first_moments + optimizer.second_moments):
    np.testing.assert_array_equal(restored.numpy(), saved.numpy())


# Exponential moving average.

def test_ema_reset_update_and_averaged_weights():
  w = tf.Variable([1.0, 2.0])
  b = tf.Variable(3.0)
  ema = ema_lib.ExponentialMovingAverage([w, b], decay=0.75)
  np.testing.assert_array_equal(ema.shadows[0].numpy(), [1.0, 2.0])  # copies
  w.assign([5.0, 6.0])
  b.assign(7.0)
  ema.update()
  expected_w = 0.75 * np.array([1.0, 2.0]) + 0.25 * np.array([5.0, 6.0])
  expected_b = 0.75 * 3.0 + 0.25 * 7.0
  np.testing.assert_allclose(ema.shadows[0].numpy(), expected_w)
  np.testing.assert_allclose(ema.shadows[1].numpy(), expected_b)
  ema.update()  # twice: the shadow keeps moving towards the variable
  expected_w = 0.75 * expected_w + 0.25 * np.array([5.0, 6.0])
  np.testing.assert_allclose(ema.shadows[0].numpy(), expected_w)
  # The variables are untouched by `update`.
  np.testing.assert_array_equal(w.numpy(), [5.0, 6.0])
  with ema.averaged_weights():
    np.testing.assert_allclose(w.numpy(), expected_w)
    np.testing.assert_allclose(b.numpy(), 0.75 * expected_b + 0.25 * 7.0)
  np.testing.assert_array_equal(w.numpy(), [5.0, 6.0])
  np.testing.assert_array_equal(b.numpy(), 7.0)
  ema.reset()
  np.testing.assert_array_equal(ema.shadows[0].numpy(), [5.0, 6.0])
  np.testing.assert_array_equal(ema.shadows[1].numpy(), 7.0)


def test_ema_restores_the_weights_when_the_block_raises():
  w = tf.Variable([1.0])
  ema = ema_lib.ExponentialMovingAverage([w], decay=0.5)
  w.assign([3.0])
  with pytest.raises(RuntimeError, match="boom"):
    with ema.averaged_weights():
      np.testing.assert_array_equal(w.numpy(), [1.0])
      raise RuntimeError("boom")
  np.testing.assert_array_equal(w.numpy(), [3.0])


def test_ema_update_in_a_function_and_checkpoint(tmp_path):
  w = tf.Variable([2.0, -2.0])
  ema = ema_lib.ExponentialMovingAverage([w], decay=0.9)

  @tf.function
  def step():
    w.assign_add([1.0, 1.0])
    ema.update()

  for _ in range(3):
    step()
  shadow = np.array([2.0, -2.0])
  for value in (3.0, 4.0, 5.0):
    shadow = 0.9 * shadow + 0.1 * (np.array([value, value - 4.0]))
  np.testing.assert_allclose(ema.shadows[0].numpy(), shadow, rtol=1e-6)
  path = tf.train.Checkpoint(ema=ema).save(str(tmp_path / "ckpt"))
  fresh = ema_lib.ExponentialMovingAverage([tf.Variable([0.0, 0.0])], 0.9)
  tf.train.Checkpoint(ema=fresh).restore(path).assert_consumed()
  np.testing.assert_allclose(fresh.shadows[0].numpy(), shadow, rtol=1e-6)


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, 1.5])
def test_ema_rejects_bad_decay(decay):
  with pytest.raises(ValueError, match=r"decay must be in \(0, 1\)"):
    ema_lib.ExponentialMovingAverage([tf.Variable(1.0)], decay)
