"""Tests of `glow_ood.experiments.two_moons` (Appendix C): data, the vector RealNVP, bounds, the experiment."""

import json
import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from glow_ood import configs
from glow_ood.plots import limiting_bounds
from glow_ood.experiments.two_moons import data
from glow_ood.experiments.two_moons import experiment
from glow_ood.experiments.two_moons import realnvp

LOG_2PI = np.log(2. * np.pi)


def randomize_output_layers(flow, stddev, seed):
  """Non-zero output layers, so that the flow is not the identity."""
  for i, variable in enumerate(flow.trainable_variables):
    if "output" in variable.name:
      variable.assign(tf.random.stateless_normal(
          variable.shape, seed=[seed, i], stddev=stddev))


def autodiff_log_det(flow, x):
  """`log|det df/dx|` per row of `x` `[N, D]`, by batch_jacobian + slogdet."""
  with tf.GradientTape() as tape:
    tape.watch(x)
    z = realnvp.from_events(flow.forward(realnvp.to_events(x)))
  return tf.linalg.slogdet(tape.batch_jacobian(z, x))[1]


def tiny_config(**overrides):
  values = dict(dims=(2, 4), scales=("exp", "sigmoid"), num_examples=64,
                num_eval_examples=48, num_couplings=2, hidden_width=8,
                train_steps=25, batch_size=32, learning_rate=1e-2)
  values.update(overrides)
  return configs.TwoMoonsConfig(**values)


class DataTest(tf.test.TestCase):

  def test_moons_lie_on_two_half_circles_without_noise(self):
    x = data.make_moons(101, noise=0., seed=3, standardize=False)
    upper, lower = x[:51], x[51:]
    self.assertAllClose(np.hypot(upper[:, 0], upper[:, 1]), np.ones(51),
                        atol=1e-6)
    self.assertAllGreaterEqual(upper[:, 1], 0.)
    self.assertAllClose(np.hypot(1. - lower[:, 0], 0.5 - lower[:, 1]),
                        np.ones(50), atol=1e-6)
    self.assertAllLessEqual(lower[:, 1], 0.5 + 1e-6)

  def test_noise_is_radial_spread_and_data_are_standardized(self):
    raw = data.make_moons(20000, noise=0.05, seed=0, standardize=False)
    radius = np.hypot(raw[:10000, 0], raw[:10000, 1])
    self.assertAllClose(np.std(radius), 0.05, rtol=0.05)
    x = data.make_moons(500, noise=0.1, seed=1)
    self.assertEqual(x.shape, (500, 2))
    self.assertEqual(x.dtype, np.float32)
    self.assertAllClose(x.mean(axis=0), [0., 0.], atol=1e-5)
    self.assertAllClose(x.std(axis=0), [1., 1.], atol=1e-5)
    self.assertAllEqual(x, data.make_moons(500, noise=0.1, seed=1))
    self.assertNotAllClose(x, data.make_moons(500, noise=0.1, seed=2))

  def test_copies_are_exact_tiles(self):
    x = data.make_moons(7, seed=0)
    y = data.copy_to_dims(x, 6)
    self.assertEqual(y.shape, (7, 6))
    for j in range(6):
      self.assertAllEqual(y[:, j], x[:, j % 2])
    self.assertAllEqual(data.copy_to_dims(x, 2), x)

  def test_jitter_is_independent_noise_on_the_copies_only(self):
    x = data.make_moons(4000, seed=0)
    y = data.copy_to_dims(x, 8, jitter=0.1, seed=5)
    self.assertAllEqual(y[:, :2], x)
    residual = y[:, 2:] - np.tile(x, [1, 3])
    self.assertAllClose(residual.std(axis=0), 0.1 * np.ones(6), rtol=0.05)
    correlation = np.corrcoef(residual.T)[np.triu_indices(6, 1)]
    self.assertAllLess(np.abs(correlation), 0.06)

  def test_bad_arguments(self):
    x = data.make_moons(4)
    with self.assertRaisesRegex(ValueError, "even integer >= 2.*got 5"):
      data.copy_to_dims(x, 5)
    with self.assertRaisesRegex(ValueError, "even integer >= 2.*got 0"):
      data.copy_to_dims(x, 0)
    with self.assertRaisesRegex(ValueError, r"\[N, 2\]"):
      data.copy_to_dims(np.zeros([4, 3]), 6)
    with self.assertRaisesRegex(ValueError, "jitter"):
      data.copy_to_dims(x, 4, jitter=-1.)
    with self.assertRaisesRegex(ValueError, "noise"):
      data.make_moons(4, noise=-0.1)
    with self.assertRaisesRegex(ValueError, "num_examples must be >= 2"):
      data.make_moons(1)


class RealNVPTest(tf.test.TestCase, parameterized.TestCase):

  def test_trainable_variables_are_tracked(self):
    flow = realnvp.build_realnvp(6, "exp", num_couplings=3, hidden_width=8,
                                 num_hidden_layers=2)
    # Per coupling: 2 hidden (kernel, bias) + output (kernel, bias).
    self.assertLen(flow.trainable_variables, 3 * 6)

  @parameterized.named_parameters(("exp", "exp"), ("sigmoid", "sigmoid"))
  def test_initial_flow_is_identity_up_to_known_scale(self, scale):
    num_couplings, num_dims = 3, 6
    flow = realnvp.build_realnvp(num_dims, scale, num_couplings=num_couplings,
                                 hidden_width=8)
    x = tf.constant(data.make_copied_moons(10, num_dims, jitter=0.3))
    _, log_det = realnvp.log_likelihood_terms(flow, x)
    # Zero output layers: s = 0, t = 0. Each coupling scales D/2 dims by
    # exp(0) = 1 or sigmoid(0 + 2).
    per_dim = 0. if scale == "exp" else np.log(1. / (1. + np.exp(-2.)))
    self.assertAllClose(log_det,
                        np.full(10, num_couplings * num_dims / 2 * per_dim))
    if scale == "exp":  # the identity (the reversals cancel, K - 1 = 2)
      self.assertAllClose(realnvp.from_events(flow.forward(
          realnvp.to_events(x))), x)
    # Jacobian: diagonal, 1 (exp) or sigmoid(2)^k (k = 1 or 2 couplings
    # scaled each dim, K = 3): spectral norm 1 or sigmoid(2).
    self.assertAllClose(realnvp.jacobian_spectral_norms(flow, x.numpy()),
                        np.full(10, np.exp(per_dim)), atol=1e-6)

  def test_initial_nll_on_standardized_data_is_known(self):
    # Identity flow, data with mean(x_j^2) = 1: E[-log p(x)] = D/2 (1 + log 2 pi).
    x = tf.constant(data.make_copied_moons(300, 10))
    flow = realnvp.build_realnvp(10, "exp", num_couplings=2, hidden_width=8)
    log_prob_z, log_det = realnvp.log_likelihood_terms(flow, x)
    self.assertAllClose(-tf.reduce_mean(log_prob_z + log_det),
                        5. * (1. + LOG_2PI), rtol=1e-5)

  @parameterized.named_parameters(("exp", "exp"), ("sigmoid", "sigmoid"))
  def test_round_trip_and_log_det_match_autodiff(self, scale):
    flow = realnvp.build_realnvp(8, scale, num_couplings=3, hidden_width=16,
                                 seed=4)
    randomize_output_layers(flow, stddev=0.3, seed=1)
    x = tf.constant(data.make_copied_moons(16, 8, jitter=0.2, seed=2))
    events = realnvp.to_events(x)
    z = flow.forward(events)
    self.assertNotAllClose(z, events)
    self.assertAllClose(flow.inverse(tf.identity(z)), events, atol=1e-4)
    _, log_det = realnvp.log_likelihood_terms(flow, x)
    self.assertAllClose(log_det, autodiff_log_det(flow, x), rtol=1e-4,
                        atol=1e-3)
    self.assertAllClose(
        flow.inverse_log_det_jacobian(tf.identity(z), event_ndims=3),
        -log_det, rtol=1e-4, atol=1e-3)

  def test_log_prob_z_is_the_standard_normal_and_below_its_mode(self):
    flow = realnvp.build_realnvp(6, "exp", num_couplings=2, hidden_width=8)
    randomize_output_layers(flow, stddev=0.5, seed=3)
    x = tf.random.stateless_normal([50, 6], seed=[0, 1], stddev=2.)
    log_prob_z, _ = realnvp.log_likelihood_terms(flow, x)
    z = realnvp.from_events(flow.forward(realnvp.to_events(x)))
    expected = np.sum(-0.5 * z.numpy()**2 - 0.5 * LOG_2PI, axis=-1)
    self.assertAllClose(log_prob_z, expected, rtol=1e-5)
    self.assertAllLessEqual(log_prob_z, experiment.log_prob_z_bound(6))

  def test_sigmoid_log_det_is_never_positive(self):
    for seed in range(3):
      flow = realnvp.build_realnvp(10, "sigmoid", num_couplings=4,
                                   hidden_width=16, seed=seed)
      randomize_output_layers(flow, stddev=3., seed=seed)  # s far from 0
      x = tf.random.stateless_normal([200, 10], seed=[seed, 7], stddev=3.)
      _, log_det = realnvp.log_likelihood_terms(flow, x)
      self.assertAllLessEqual(log_det, 0.)
      self.assertGreater(np.ptp(log_det.numpy()), 0.1)  # not a constant

  def test_exp_log_scales_are_bounded_by_max_log_scale(self):
    flow = realnvp.build_realnvp(8, "exp", num_couplings=3, hidden_width=16,
                                 max_log_scale=0.5)
    randomize_output_layers(flow, stddev=100., seed=0)
    x = tf.random.stateless_normal([100, 8], seed=[1, 1], stddev=3.)
    _, log_det = realnvp.log_likelihood_terms(flow, x)
    # |s| < 0.5 on each of D/2 = 4 dims of each of the 3 couplings.
    self.assertAllLess(tf.abs(log_det), 3 * 4 * 0.5)
    self.assertTrue(np.all(np.isfinite(log_det.numpy())))
    # The network itself: log-scale channels (odd) saturate at the bound,
    # shift channels (even) are untouched.
    net = realnvp.CouplingMLP(4, 8, hidden_width=16, max_log_scale=0.5)
    net.output_kernel.assign(100. * tf.ones([16, 8]))
    h = net(x[:, tf.newaxis, tf.newaxis, :4])
    self.assertEqual(h.shape, (100, 1, 1, 8))
    self.assertAllLessEqual(tf.abs(h[..., 1::2]), 0.5)  # tanh rounds to 1
    self.assertAllClose(tf.reduce_max(h[..., 1::2]), 0.5)
    self.assertGreater(tf.reduce_max(h[..., 0::2]), 10.)

  @parameterized.named_parameters(("exp", "exp"), ("sigmoid", "sigmoid"))
  def test_spectral_norms_bound_the_log_det(self, scale):
    flow = realnvp.build_realnvp(6, scale, num_couplings=3, hidden_width=16,
                                 seed=9)
    randomize_output_layers(flow, stddev=0.4, seed=2)
    x = data.make_copied_moons(40, 6, jitter=0.5)
    norms = realnvp.jacobian_spectral_norms(flow, x, batch_size=16)
    self.assertEqual(norms.shape, (40,))
    with tf.GradientTape() as tape:
      xt = tf.constant(x)
      tape.watch(xt)
      z = realnvp.from_events(flow.forward(realnvp.to_events(xt)))
    jacobians = tape.batch_jacobian(z, xt).numpy()
    self.assertAllClose(norms, np.linalg.norm(jacobians, ord=2, axis=(1, 2)),
                        rtol=1e-4)
    _, log_det = realnvp.log_likelihood_terms(flow, xt)
    self.assertAllLessEqual(log_det.numpy() - 6 * np.log(norms), 1e-4)

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "Unknown coupling scale 'tanh'"):
      realnvp.build_realnvp(4, "tanh")
    with self.assertRaisesRegex(ValueError, "num_couplings"):
      realnvp.build_realnvp(4, "exp", num_couplings=0)
    with self.assertRaisesRegex(ValueError, "max_log_scale"):
      realnvp.CouplingMLP(2, 4, max_log_scale=0.)


class BoundsAndConfigTest(tf.test.TestCase, parameterized.TestCase):

  def test_bounds_by_hand(self):
    self.assertAllClose(experiment.log_prob_z_bound(10), -5. * LOG_2PI)
    self.assertAllClose(experiment.log_det_bound(10, "exp", np.e), 10.)
    self.assertAllClose(experiment.log_det_bound(10, "exp", 1.), 0.)
    self.assertEqual(experiment.log_det_bound(100, "sigmoid", 50.), 0.)
    with self.assertRaisesRegex(ValueError, "additive"):
      experiment.log_det_bound(2, "additive", 1.)

  @parameterized.named_parameters(
      ("odd_dim", dict(dims=(2, 5)), r"even integers >= 2.*\[5\]"),
      ("empty_dims", dict(dims=()), "dims is empty"),
      ("duplicate_dims", dict(dims=(2, 2)), "duplicates"),
      ("bad_scale", dict(scales=("exp", "affine")), r"scales='affine' is not one of.*sigmoid"),
      ("no_scale", dict(scales=()), "scales is empty"),
      ("zero_steps", dict(train_steps=0), "train_steps must be >= 1"),
      ("zero_batch", dict(batch_size=0), "batch_size must be >= 1"),
      ("learning_rate", dict(learning_rate=0.), "learning_rate must be > 0"),
      ("jitter", dict(jitter=-0.1), "jitter"),
      ("max_log_scale", dict(max_log_scale=-1.), "max_log_scale"),
      ("max_grad_norm", dict(max_grad_norm=0.), "max_grad_norm must be > 0"),
  )
  def test_bad_config(self, overrides, message):
    with self.assertRaisesRegex(ValueError, message):
      configs.TwoMoonsConfig(**overrides)

  def test_config_is_frozen_and_normalized(self):
    config = configs.TwoMoonsConfig(dims=[4, 2], scales=["sigmoid"])
    self.assertEqual(config.dims, (4, 2))
    self.assertEqual(config.scales, ("sigmoid",))
    with self.assertRaises(AttributeError):
      config.train_steps = 3


class ExperimentTest(tf.test.TestCase):

  def test_tiny_experiment_end_to_end_resumes_and_plots(self):
    path = os.path.join(self.get_temp_dir(), "run", "results.json")
    lines = []
    config = tiny_config()
    results = experiment.run(config, output_path=path, progress=lines.append)
    self.assertEqual(results["num_trained_cells"], 4)
    self.assertEqual([(c["scale"], c["num_dims"]) for c in results["cells"]],
                     [("exp", 2), ("exp", 4), ("sigmoid", 2), ("sigmoid", 4)])
    self.assertLen(lines, 4)
    self.assertIn("[4/4] sigmoid D=4   trained", lines[3])
    json.dumps(results)  # serializable
    for cell in results["cells"]:
      d = cell["num_dims"]
      self.assertAllClose(cell["log_prob_z_bound"], -d / 2 * LOG_2PI)
      self.assertLessEqual(cell["mean_log_prob_z"], cell["log_prob_z_bound"])
      self.assertLessEqual(cell["mean_log_det"], cell["log_det_bound"] + 1e-4)
      if cell["scale"] == "exp":
        self.assertAllClose(cell["log_det_bound"], d * np.log(cell["lipschitz"]))
      else:
        self.assertEqual(cell["log_det_bound"], 0.)
      self.assertAllClose(cell["final_nll"],
                          -(cell["mean_log_prob_z"] + cell["mean_log_det"]))
      # Training improved on the known NLL of the initial flow: every dim
      # scaled once (K = 2) by a = 1 (exp) or sigmoid(2), data with
      # mean(x_j^2) = 1: D/2 (log 2 pi + a^2) - D log a.
      a = 1. if cell["scale"] == "exp" else 1. / (1. + np.exp(-2.))
      initial = d / 2 * (LOG_2PI + a**2) - d * np.log(a)
      self.assertLess(cell["final_train_nll"], initial)
      self.assertEqual(cell["train_steps"], 25)
    with open(path, encoding="utf-8") as f:
      saved = json.load(f)
    self.assertEqual(saved["cells"], results["cells"])
    self.assertEqual(saved["config"]["dims"], [2, 4])

    # Resume: nothing retrained; a new dim trains only its two cells.
    lines.clear()
    again = experiment.run(config, output_path=path, progress=lines.append)
    self.assertEqual(again["num_trained_cells"], 0)
    self.assertEqual(again["cells"], results["cells"])
    self.assertTrue(all("resumed from" in line for line in lines))
    wider = experiment.run(tiny_config(dims=(2, 4, 6)), output_path=path)
    self.assertEqual(wider["num_trained_cells"], 2)
    self.assertLen(wider["cells"], 6)
    with self.assertRaisesRegex(ValueError, "hidden_width=8 in the file, 16"):
      experiment.run(tiny_config(hidden_width=16), output_path=path)

    written = limiting_bounds.plot_limiting_bounds(
        wider, os.path.join(self.get_temp_dir(), "figs", "bounds.png"))
    self.assertEqual([os.path.basename(p) for p in written],
                     ["bounds.png", "bounds.pdf"])
    for written_path in written:
      self.assertGreater(os.path.getsize(written_path), 1000)
    with open(written[0], "rb") as f:
      self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

  def test_plot_rejects_results_without_cells(self):
    with self.assertRaisesRegex(ValueError, "no 'cells'"):
      limiting_bounds.plot_limiting_bounds({"cells": []}, "never_written")
    with self.assertRaisesRegex(ValueError, "lacks"):
      limiting_bounds.plot_limiting_bounds(
          {"cells": [{"scale": "exp", "num_dims": 2}]}, "never_written")


if __name__ == "__main__":
  tf.test.main()
