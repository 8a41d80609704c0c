"""Shared checks for the bijector tests (a helper module, not a test module).

Forward is the normalizing direction (data -> latent) for every bijector under
test. The checks follow TFP's `bijector_test_util.assert_bijective_and_finite`
(round trips both ways, `fldj(x) == -ildj(f(x))`, everything finite) and
`get_fldj_theoretical` (log-det against `log|det|` of the autodiff Jacobian:
`tape.batch_jacobian` + `tf.linalg.slogdet`),
written against public TensorFlow APIs only: TFP's own test helpers are not
in the wheel and read absl flags, which plain pytest never parses.

Execution regimes: every check takes `mode`, one of `MODES`: `"eager"`,
`"function"` (`tf.function`) or `"xla"` (`tf.function(jit_compile=True)`).
"""

import itertools

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors
tfd = tfp.distributions

MODES = ("eager", "function", "xla")
DTYPES = {"float32": tf.float32, "float64": tf.float64}


def named_product(**axes):
  """`parameterized.named_parameters` cases for the cross product of `axes`.

  Each keyword maps to a dict `{case_name: value}` or to a sequence of values
  named by `str(value)`; e.g. `named_product(mode=MODES, dtype=DTYPES)` gives
  cases named `_eager_float32`, ..., `_xla_float64`.
  """
  keys = list(axes)
  options = []
  for key in keys:
    values = axes[key]
    if isinstance(values, dict):
      options.append(list(values.items()))
    else:
      options.append([(_case_name(v), v) for v in values])
  cases = []
  for combination in itertools.product(*options):
    case = {"testcase_name": "_" + "_".join(name for name, _ in combination)}
    case.update({key: value for key, (_, value) in zip(keys, combination)})
    cases.append(case)
  return cases


def _case_name(value):
  if isinstance(value, (list, tuple)):
    return "x".join(str(v) for v in value) if value else "scalar"
  return str(value)


def compile_fn(fn, mode):
  """`fn` run eagerly, under `tf.function` or under XLA (`mode` in `MODES`)."""
  if mode == "eager":
    return fn
  if mode == "function":
    return tf.function(fn, autograph=False)
  if mode == "xla":
    return tf.function(fn, autograph=False, jit_compile=True)
  raise ValueError(f"Unknown mode {mode!r}; choose one of {MODES}.")


def tolerances(dtype):
  """`(atol for values, atol for log-dets)` of a dtype's round trips."""
  if tf.as_dtype(dtype) == tf.float64:
    return 1e-10, 1e-8
  return 1e-5, 1e-4


def normal(shape, seed, dtype=tf.float32, scale=1.0, shift=0.0):
  """A standard normal sample (times `scale`, plus `shift`), fixed by `seed`."""
  return shift + scale * tf.random.stateless_normal(
      shape, seed=[seed, 17], dtype=dtype)


def perturb_variables(module, stddev=0.1, seed=0):
  """Adds `N(0, stddev^2)` noise to every trainable variable of `module`.

  Glow's layers start at (or near) the identity: zero-initialized output
  convolutions make couplings and split priors exactly the identity. The
  noise makes every layer a non-trivial function before the maths is checked.
  Call a forward pass first if the module holds `ActNorm`s: their first
  forward overwrites `loc` and `log_scale` with data statistics.
  """
  for index, variable in enumerate(module.trainable_variables):
    variable.assign_add(tf.random.stateless_normal(
        variable.shape, seed=[seed, index], stddev=stddev,
        dtype=variable.dtype))


def autodiff_jacobian(forward_fn, x, event_ndims=3):
  """The Jacobian of `forward_fn` at `x`, events flattened.

  Flattens the last `event_ndims` axes of `x` (`batch_shape + event_shape`,
  `N` event entries) and takes `tape.batch_jacobian` of the flattened output
  (which must also have `N` entries). Keep events to a few hundred dimensions.
  Returns a `Tensor` of shape `[prod(batch_shape), N, N]`.
  """
  x = tf.convert_to_tensor(x)
  event_shape = x.shape[x.shape.rank - event_ndims:]
  flat_x = tf.reshape(x, [-1, event_shape.num_elements()])
  with tf.GradientTape() as tape:
    tape.watch(flat_x)
    y = forward_fn(tf.reshape(flat_x, [-1] + event_shape.as_list()))
    flat_y = tf.reshape(y, [tf.shape(flat_x)[0], -1])
  return tape.batch_jacobian(flat_y, flat_x)


def autodiff_log_det(forward_fn, x, event_ndims=3):
  """`log|det J|` of `forward_fn` at `x`, of shape `batch_shape` (float64).

  Run it eagerly: `tf.linalg.slogdet` has no XLA kernel. The Jacobian is
  cast to float64 before the determinant, so float32 round-off in the
  determinant itself does not count against the bijector.
  """
  x = tf.convert_to_tensor(x)
  jacobian = autodiff_jacobian(forward_fn, x, event_ndims)
  sign, log_abs_det = tf.linalg.slogdet(tf.cast(jacobian, tf.float64))
  assert np.all(sign.numpy() != 0), "singular Jacobian"
  return tf.reshape(log_abs_det, x.shape[:x.shape.rank - event_ndims])


def assert_bijective_and_finite(test, bijector, x, mode="eager",
                                event_ndims=3, inverse_event_ndims=None,
                                y=None, check_jacobian=True,
                                jacobian_rtol=1e-4, jacobian_atol=None):
  """Checks a bijector at `x` (`batch_shape + event`) in one execution regime.

  * round trips: `inverse(forward(x)) == x` and `forward(inverse(y)) == y`
    (float32: atol 1e-5), intermediates through `tf.identity` so TFP's cache
    cannot return the input;
  * `fldj(x) == -ildj(f(x))` and `ildj(y) == -fldj(f^{-1}(y))`;
  * `fldj(x) == log|det J(x)|` of the autodiff Jacobian (if `check_jacobian`;
    the Jacobian is always taken eagerly);
  * every output finite, of `x.dtype`; log-dets broadcastable to the batch
    shape.

  Args:
    test: the `tf.test.TestCase`.
    bijector: a `tfb.Bijector` whose forward maps `x`'s events to events of
      the same size.
    x: input `Tensor`.
    mode: one of `MODES`.
    event_ndims: event rank of `x` (for `fldj`).
    inverse_event_ndims: event rank of `y` (for `ildj`). Default value: the
      rank of `bijector.forward_event_shape` of the event of `x`.
    y: latent `Tensor` for the inverse round trip. Default value: a standard
      normal sample of the forward's output shape.
    check_jacobian: Python `bool`.
    jacobian_rtol: relative tolerance against the autodiff log-det.
    jacobian_atol: absolute tolerance; default 1e-3 (float32) or 1e-8.

  Returns:
    dict of the computed values (numpy), for further checks.
  """
  x = tf.convert_to_tensor(x)
  dtype = x.dtype
  batch_shape = x.shape[:x.shape.rank - event_ndims]
  out_shape = tf.TensorShape(bijector.forward_event_shape(x.shape))
  if inverse_event_ndims is None:
    inverse_event_ndims = out_shape.rank - batch_shape.rank
  if y is None:
    y = normal(out_shape, seed=99, dtype=dtype)
  atol, ldj_atol = tolerances(dtype)
  if jacobian_atol is None:
    jacobian_atol = 1e-8 if dtype == tf.float64 else 1e-3

  def compute(x, y):
    # Each direction is computed once per input; `tf.identity` makes a new
    # cache key, so the round trip really runs the other direction (and its
    # log-det comes from that pass, not from the cache entry of `x`).
    fx = bijector.forward(x)
    fx_copy = tf.identity(fx)
    iy = bijector.inverse(y)
    iy_copy = tf.identity(iy)
    return {
        "forward": fx,
        "fldj": bijector.forward_log_det_jacobian(x, event_ndims=event_ndims),
        "round_trip_x": bijector.inverse(fx_copy),
        "ildj_fx": bijector.inverse_log_det_jacobian(
            fx_copy, event_ndims=inverse_event_ndims),
        "inverse": iy,
        "ildj": bijector.inverse_log_det_jacobian(
            y, event_ndims=inverse_event_ndims),
        "round_trip_y": bijector.forward(iy_copy),
        "fldj_iy": bijector.forward_log_det_jacobian(
            iy_copy, event_ndims=event_ndims),
    }

  values = compile_fn(compute, mode)(x, tf.convert_to_tensor(y, dtype))
  if mode == "eager":
    # Log-dets asked for inputs never transformed (no cache entry).
    values["fldj_direct"] = bijector.forward_log_det_jacobian(
        tf.identity(x), event_ndims=event_ndims)
    values["ildj_direct"] = bijector.inverse_log_det_jacobian(
        tf.identity(y), event_ndims=inverse_event_ndims)
  if check_jacobian:
    # Eagerly, whatever `mode`: XLA-compiling a flow's vectorized backward
    # pass takes seconds, and `slogdet` has no XLA kernel anyway. The
    # log-det it is compared with was computed in `mode`.
    values["autodiff_fldj"] = tf.cast(
        autodiff_log_det(bijector.forward, tf.identity(x), event_ndims), dtype)
  for name, value in values.items():
    test.assertEqual(value.dtype, dtype, msg=name)
    assert_all_finite(test, value, name)
  test.assertEqual(values["forward"].shape, out_shape)
  test.assertEqual(values["inverse"].shape, x.shape)
  for name in ("fldj", "ildj", "ildj_fx", "fldj_iy", "fldj_direct",
               "ildj_direct"):
    if name not in values:
      continue
    test.assertEqual(
        tf.broadcast_static_shape(values[name].shape, batch_shape),
        batch_shape, msg=f"{name} shape {values[name].shape}")
  test.assertAllClose(values["round_trip_x"], x, atol=atol, rtol=0)
  test.assertAllClose(values["round_trip_y"], y, atol=atol, rtol=0)
  test.assertAllClose(values["fldj"], -values["ildj_fx"], atol=ldj_atol,
                      rtol=ldj_atol)
  test.assertAllClose(values["ildj"], -values["fldj_iy"], atol=ldj_atol,
                      rtol=ldj_atol)
  if mode == "eager":
    test.assertAllClose(values["fldj_direct"], values["fldj"], atol=ldj_atol,
                        rtol=ldj_atol)
    test.assertAllClose(values["ildj_direct"], values["ildj"], atol=ldj_atol,
                        rtol=ldj_atol)
  if check_jacobian:
    test.assertAllClose(
        tf.broadcast_to(values["fldj"], batch_shape), values["autodiff_fldj"],
        rtol=jacobian_rtol, atol=jacobian_atol)
  return {name: np.asarray(value) for name, value in values.items()}


def assert_log_prob_consistent(test, bijector, x, mode="eager", event_ndims=3,
                               rtol=None, atol=None):
  """Checks `log p(x)` of `bijector`'s flow under a standard normal latent.

  Computes `log N(f(x); 0, I) + fldj(x)` directly from `forward` and
  `forward_log_det_jacobian`, then the same through
    * `tfd.TransformedDistribution(tfd.Sample(Normal, latent_event),
      tfb.Invert(bijector))`,
    * `tfd.TransformedDistribution(tfd.Sample(Normal, [D]),
      tfb.Invert(tfb.Chain([tfb.Reshape([D], latent_event), bijector])))`,
    * `tfb.Invert(bijector).inverse_log_det_jacobian` (= `fldj`),
  and asserts they agree. Returns the direct log-prob (numpy).
  """
  x = tf.convert_to_tensor(x)
  dtype = x.dtype
  rank = x.shape.rank
  latent_event = tf.TensorShape(
      bijector.forward_event_shape(x.shape[rank - event_ndims:]))
  latent_ndims = latent_event.rank
  if atol is None:
    atol = 1e-8 if dtype == tf.float64 else 1e-3
  if rtol is None:
    rtol = 1e-10 if dtype == tf.float64 else 1e-5

  def compute(x):
    normal_dist = tfd.Normal(tf.zeros([], dtype), tf.ones([], dtype))
    base = tfd.Sample(normal_dist, latent_event)
    flat_base = tfd.Sample(normal_dist, [latent_event.num_elements()])
    to_flat = tfb.Reshape(event_shape_out=[latent_event.num_elements()],
                          event_shape_in=latent_event)
    direct_x = tf.identity(x)
    z = bijector.forward(direct_x)
    fldj = bijector.forward_log_det_jacobian(direct_x, event_ndims=event_ndims)
    direct = tf.reduce_sum(normal_dist.log_prob(z),
                           axis=list(range(-latent_ndims, 0))) + fldj
    transformed = tfd.TransformedDistribution(base, tfb.Invert(bijector))
    chained = tfd.TransformedDistribution(
        flat_base, tfb.Invert(tfb.Chain([to_flat, bijector])))
    return {
        "direct": direct,
        "transformed": transformed.log_prob(tf.identity(x)),
        "chained": chained.log_prob(tf.identity(x)),
        "fldj": fldj,
        "invert_ildj": tfb.Invert(bijector).inverse_log_det_jacobian(
            tf.identity(x), event_ndims=event_ndims),
    }

  values = compile_fn(compute, mode)(x)
  batch_shape = x.shape[:rank - event_ndims]
  for name, value in values.items():
    assert_all_finite(test, value, name)
    test.assertEqual(value.dtype, dtype, msg=name)
  for name in ("direct", "transformed", "chained"):
    test.assertEqual(values[name].shape, batch_shape, msg=name)
  test.assertAllClose(values["transformed"], values["direct"], rtol=rtol,
                      atol=atol)
  test.assertAllClose(values["chained"], values["direct"], rtol=rtol,
                      atol=atol)
  test.assertAllClose(values["invert_ildj"], values["fldj"], rtol=rtol,
                      atol=atol)
  return np.asarray(values["direct"])


def assert_all_finite(test, value, name=""):
  value = np.asarray(value)
  test.assertTrue(np.all(np.isfinite(value)),
                  msg=f"{name} has non-finite entries: {value}")


class CountingNetwork(tf.Module):
  """Wraps a coupling network and counts its calls in a variable.

  The counter is a `tf.Variable` incremented by the call itself, so it counts
  executions in every regime (eager, `tf.function`, XLA), not traces.
  """

  def __init__(self, network, name="counting_network"):
    super().__init__(name=name)
    self.network = network
    self.num_calls = tf.Variable(0, dtype=tf.int32, trainable=False,
                                 name="num_calls")

  def __call__(self, x):
    with tf.control_dependencies([self.num_calls.assign_add(1)]):
      return self.network(x)
