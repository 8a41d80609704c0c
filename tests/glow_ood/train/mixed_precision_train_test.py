"""Training in mixed precision, and float16's dynamic loss scale.

The tiny toy run (tests/toy_data.py) trained for 10 steps in float32,
bfloat16 and float16 coupling convolutions from the same initialization:
the mixed-precision runs follow the float32 run's curve. Tolerances (measured
differences in brackets): per-step training bits/dim within 5e-3 bits/dim
of float32 [2e-4 for both], gradient norms within 2% [0.25%], final
bits/dim (results.json) within 5e-3 bits/dim [1e-4].

The loss-scale tests drive a `TrainState` and its `Trainer` directly: an overflow with a finite
loss halves the scale, is skipped and counted in `num_skipped` but not in
`consecutive_skips`; a non-finite loss is an ordinary skip; the scale
doubles after `LOSS_SCALE_PERIOD` applied steps in a row.
"""

import json

from absl import flags
import numpy as np
import pytest

from bijectors import coupling_network
from glow_ood import configs
from glow_ood import data
from glow_ood import flags as glow_flags
from glow_ood import train as train_lib
from glow_ood.train import distribution
from glow_ood.train import state as state_lib
from glow_ood.train import step as step_lib
from tests.glow_ood.train.recording import checkpoint_paths
from tests.glow_ood.train.recording import checkpoint_tensors
from tests.glow_ood.train.recording import max_difference
from tests.glow_ood.train.recording import read_events
from tests.glow_ood.train.recording import stepper
from tests.glow_ood.train.recording import tiny_config

NUM_STEPS = 10
CURVE_ATOL = 5e-3         # bits/dim, per logged step
GRAD_NORM_RTOL = 2e-2
RESULTS_ATOL = 5e-3       # bits/dim, final evaluation
PRECISIONS = ("none", "bfloat16", "float16")
LOSS_SCALE_KEY = "loss_scale/.ATTRIBUTES/VARIABLE_VALUE"


def _networks(model):
  return [m for m in model.submodules
          if isinstance(m, coupling_network.GlowCouplingNetwork)]


def test_mixed_precision_training_follows_float32(toy_dir, tmp_path, runs):
  config = tiny_config(toy_dir, train_steps=NUM_STEPS, log_every=1)
  curves, grad_norms, results, saved, events, last = {}, {}, {}, {}, {}, {}
  for precision in PRECISIONS:
    workdir = tmp_path / precision
    results[precision] = train_lib.train(
        config.replace(mixed_precision=precision), str(workdir))
    events[precision] = read_events(workdir / "train")
    steps = range(1, NUM_STEPS + 1)
    curves[precision] = np.array(
        [float(events[precision]["bits_per_dim"][s]) for s in steps])
    grad_norms[precision] = np.array(
        [float(events[precision]["grad_norm"][s]) for s in steps])
    with open(workdir / "results.json") as f:
      saved[precision] = json.load(f)
    last[precision] = checkpoint_tensors(checkpoint_paths(workdir)[-1])

  made = dict(zip(PRECISIONS, runs))
  for precision, run in made.items():
    compute = {"none": "float32"}.get(precision, precision)
    networks = _networks(run.model)
    assert len(networks) == 2
    assert all(n.compute_dtype.name == compute for n in networks), precision
    assert all(v.dtype.name in ("float32", "bool")
               for v in run.model.variables), precision
    assert all(s.applied for s in run.history), precision

  reference = curves["none"]
  # float32 learns: the toy loss falls over the 10 steps.
  assert reference[-3:].mean() < reference[0] - 0.1
  for precision in ("bfloat16", "float16"):
    curve = curves[precision]
    assert np.all(np.isfinite(curve)), precision
    np.testing.assert_allclose(curve, reference, rtol=0, atol=CURVE_ATOL,
                               err_msg=precision)
    assert curve[-3:].mean() < curve[0] - 0.1, precision
    # Step 1 is the same (zero output convolutions give exactly zero in any
    # dtype); later steps are not: the convolutions did run in low precision.
    assert curve[0] == pytest.approx(reference[0], abs=1e-6)
    assert np.max(np.abs(curve[1:] - reference[1:])) > 1e-6, precision
    # The gradients are unscaled (float16 divides by its loss scale).
    np.testing.assert_allclose(grad_norms[precision], grad_norms["none"],
                               rtol=GRAD_NORM_RTOL, err_msg=precision)
    assert saved[precision]["skipped_steps"] == 0
    assert sorted(results[precision]) == sorted(results["none"])
    for name, value in results[precision].items():
      assert np.isfinite(value), (precision, name)
      assert value == pytest.approx(results["none"][name], abs=RESULTS_ATOL)
      assert saved[precision]["bits_per_dim"][name] == pytest.approx(value)
    assert max_difference(made[precision].history[-1].weights,
                          made["none"].history[-1].weights) > 0.

  # Only float16 scales the loss: its scale is logged and checkpointed.
  assert sorted(events["float16"]["loss_scale"]) == list(range(1, 11))
  assert {float(v) for v in events["float16"]["loss_scale"].values()} == {
      state_lib.INITIAL_LOSS_SCALE}
  assert float(last["float16"][LOSS_SCALE_KEY]) == state_lib.INITIAL_LOSS_SCALE
  for precision in ("none", "bfloat16"):
    assert "loss_scale" not in events[precision]
    assert LOSS_SCALE_KEY not in last[precision]
    assert float(made[precision].loss_scale.numpy()) == 1.


def _float16_state(toy_dir, workdir, **overrides):
  config = tiny_config(toy_dir, mixed_precision="float16", **overrides)
  strategy = distribution.make_strategy(config.strategy, config.devices)
  run = train_lib.TrainState(config, str(workdir), strategy,
                             data.load_images(config.data, "train"))
  assert run.initialize_or_restore(run.find_checkpoint())
  return run, stepper(run)


def _counters(run):
  return {name: int(getattr(run, name).numpy())
          for name in ("step", "num_skipped", "consecutive_skips",
                       "loss_scale_good_steps")}


def _weights(run):
  return [v.numpy() for v in run.model.trainable_variables]


def test_float16_overflow_halves_the_loss_scale(toy_dir, tmp_path):
  run, steps = _float16_state(toy_dir, tmp_path / "run")
  assert float(run.loss_scale.numpy()) == state_lib.INITIAL_LOSS_SCALE

  # A scale so large that the scaled loss overflows float32.
  run.loss_scale.assign(3e38)
  before = _weights(run)
  metrics = steps()
  assert not bool(metrics["applied"])
  assert np.isfinite(float(metrics["loss"]))   # the loss itself is fine
  assert float(run.loss_scale.numpy()) == pytest.approx(1.5e38, rel=1e-6)
  assert _counters(run) == dict(step=1, num_skipped=1, consecutive_skips=0,
                                loss_scale_good_steps=0)
  assert int(run.optimizer.iterations.numpy()) == 0
  assert max_difference(_weights(run), before) == 0.

  # 2^40: a finite scaled loss whose float16 gradients overflow. Every skip
  # halves the scale, none counts as consecutive, until the steps apply.
  scale = 2. ** 40
  run.loss_scale.assign(scale)
  skips = 0
  while True:
    metrics = steps()
    if bool(metrics["applied"]):
      break
    skips += 1
    scale /= 2.
    assert float(run.loss_scale.numpy()) == scale
    assert int(run.consecutive_skips.numpy()) == 0
    assert skips <= 30, "the loss scale never got small enough"
  # Far above the config's max_consecutive_skips (20) had they counted.
  assert skips >= 1
  assert float(run.loss_scale.numpy()) == scale   # an applied step keeps it
  assert np.isfinite(float(metrics["grad_norm"]))
  assert _counters(run) == dict(step=2 + skips, num_skipped=1 + skips,
                                consecutive_skips=0, loss_scale_good_steps=1)
  assert max_difference(_weights(run), before) > 1e-5

  # Steps apply from here on, except that a batch with larger gradients may
  # still overflow at this edge scale: then it halves again, uncounted.
  counters = _counters(run)
  metrics = steps(4)
  applied = int(metrics["applied"])
  assert applied >= 2
  assert float(run.loss_scale.numpy()) == scale / 2. ** (4 - applied)
  after = _counters(run)
  assert after["num_skipped"] == counters["num_skipped"] + 4 - applied
  assert after["consecutive_skips"] == 0
  assert int(run.optimizer.iterations.numpy()) == 1 + applied

def test_float16_scale_grows_and_nonfinite_loss_is_an_ordinary_skip(
    toy_dir, tmp_path, monkeypatch):
  monkeypatch.setattr(step_lib, "LOSS_SCALE_PERIOD", 3)   # read when traced
  run, steps = _float16_state(toy_dir, tmp_path / "run",
                              nonfinite_loss_steps=(4,))
  initial = state_lib.INITIAL_LOSS_SCALE
  # (applied, scale, consecutive_skips, good steps) after steps 1-5.
  expected = [
      (True, initial, 0, 1), (True, initial, 0, 2),
      (True, 2 * initial, 0, 0),   # 3 applied in a row: doubled
      (False, 2 * initial, 1, 0),  # NaN loss: a real skip, scale kept
      (True, 2 * initial, 0, 1)]
  for step, want in enumerate(expected, start=1):
    metrics = steps()
    got = (bool(metrics["applied"]), float(run.loss_scale.numpy()),
           int(run.consecutive_skips.numpy()),
           int(run.loss_scale_good_steps.numpy()))
    assert got == want, f"step {step}"
  assert int(run.num_skipped.numpy()) == 1


def test_unknown_mixed_precision_is_refused():
  with pytest.raises(ValueError, match=r"mixed_precision='float8' is not one "
                     r"of .*auto, none, bfloat16, float16"):
    configs.TrainConfig(mixed_precision="float8")
  for precision in ("auto",) + PRECISIONS:
    assert configs.TrainConfig(mixed_precision=precision).mixed_precision == (
        precision)


def test_mixed_precision_flags():
  values = flags.FlagValues()
  glow_flags.define_train_flags(values)
  values(["train.py", "--mixed_precision=bfloat16", "--steps_per_call=4",
          "--recompute_couplings"])
  config = glow_flags.to_train_config(values)
  assert config.mixed_precision == "bfloat16"
  assert config.steps_per_call == 4 and config.recompute_couplings
  defaults = flags.FlagValues()
  glow_flags.define_train_flags(defaults)
  defaults(["train.py"])
  config = glow_flags.to_train_config(defaults)
  assert config.mixed_precision == "auto" and config.steps_per_call == 1
  assert not config.recompute_couplings
  bad = flags.FlagValues()
  glow_flags.define_train_flags(bad)
  with pytest.raises(flags.IllegalFlagValueError, match="mixed_precision"):
    bad(["train.py", "--mixed_precision=float8"])
