"""Tests of `glow_ood.train.stopping`: the wall budget and the plateau rule.

The rules are checked on constructed histories and clocks, then through
`train` on the tiny toy run (tests/toy_data.py): the budget on a clock that
reads one minute per step of the run in progress (no waiting), the plateau
rule with a threshold every comparison fails (100 bits/dim), so that *when*
it fires shows which evaluations it compared.
"""

import json
import os

from absl import flags
import pytest

from glow_ood import flags as glow_flags
from glow_ood import train as train_lib
from glow_ood.train import record
from glow_ood.train import stopping
from tests.glow_ood.train.recording import WALL_TIME_KEY
from tests.glow_ood.train.recording import checkpoint_paths
from tests.glow_ood.train.recording import checkpoint_tensors
from tests.glow_ood.train.recording import read_events
from tests.glow_ood.train.recording import tiny_config


class Seconds:
  """A `RunClock` stand-in that reads `value` seconds."""

  def __init__(self, value):
    self.value = value

  def seconds(self):
    return self.value


def _history(values):
  """An `EvaluationHistory` with `toy/test` bits/dim `values[step]`."""
  return record.EvaluationHistory(entries=[
      {"step": s, "bits_per_dim": {"toy/test": v, "other/test": 1.}}
      for s, v in values.items()])


def _rules(toy_dir, history=None, seconds=0., agree=None, **overrides):
  return stopping.StopRules(tiny_config(toy_dir, **overrides),
                            Seconds(seconds), history or _history({}),
                            agree=agree)


def test_the_plateau_rule_on_a_constructed_history(toy_dir):
  # Evaluations every 100 steps (none at step 0), window 200, threshold 0.05.
  history = _history({100: 5.0, 200: 4.0, 300: 3.99, 400: 3.98, 500: 3.5})
  rules = _rules(toy_dir, history, train_steps=1000, eval_every=100,
                 plateau_window_steps=200, plateau_min_improvement=0.05)
  # Not before the window, and not without an evaluation at s - 200 (step 0
  # is never evaluated), although the threshold would stop any comparison
  # made at 200.
  assert rules.check(100) is None and rules.check(200) is None
  assert rules.check(150) is None   # no evaluation step
  stop = rules.check(300)    # 5.0 -> 3.99: improved by 1.01
  assert stop is None
  stop = rules.check(400)    # 4.0 -> 3.98: improved by 0.02 < 0.05
  assert stop == stopping.Stop("plateau", 400, (
      "Stopped at step 400 of 1000: the plateau rule: toy/test went from "
      "4.0000 bits/dim at step 200 to 3.9800, an improvement of 0.0200 < "
      "plateau_min_improvement=0.05 over plateau_window_steps=200. Re-running "
      "with a smaller --plateau_min_improvement (0 = off) continues from step "
      "400."))
  assert rules.check(500) is None    # 3.99 -> 3.5
  # Getting worse is no improvement either.
  worse = _rules(toy_dir, _history({100: 3.0, 200: 3.2}), train_steps=1000,
                 eval_every=100, plateau_window_steps=100,
                 plateau_min_improvement=0.05).check(200)
  assert worse.reason == "plateau" and "an improvement of -0.2000" in worse.message
  # Off by default.
  assert _rules(toy_dir, history, eval_every=100).check(400) is None


def test_the_wall_budget(toy_dir):
  assert _rules(toy_dir, seconds=59.9, max_train_minutes=1.).check(7) is None
  assert _rules(toy_dir, seconds=59.9).check(7) is None   # no budget
  stop = _rules(toy_dir, seconds=61.5, train_steps=10,
                max_train_minutes=1.).check(7, start=True)
  assert stop == stopping.Stop("wall_budget", 7, (
      "Stopped at step 7 of 10: the wall budget max_train_minutes=1 is used "
      "up (1.02 minutes of training over the run's life). Re-running with a "
      "larger --max_train_minutes (0 = no budget) continues from step 7."))


def test_the_workers_of_a_cluster_stop_together(toy_dir):
  calls = []

  def agree(code):   # another worker reached its budget (code 1)
    calls.append(code)
    return max(code, 1)

  rules = _rules(toy_dir, _history({100: 3.0, 200: 3.0}), seconds=0.,
                 agree=agree, eval_every=100, plateau_window_steps=100,
                 plateau_min_improvement=0.01)
  assert rules.check(150) is None and calls == []   # no rule can fire here
  assert rules.check(200).reason == "plateau" and calls == [2]
  budget = _rules(toy_dir, agree=agree, max_train_minutes=1.).check(3)
  assert budget.reason == "wall_budget" and calls == [2, 0]
  assert "on another worker of the cluster" in budget.message


@pytest.mark.parametrize("changes, match", [
    (dict(eval_every=300), r"plateau_window_steps=1000 steps apart, which "
     r"needs eval_every > 0 dividing it; got eval_every=300\. Set eval_every "
     r"to a divisor of plateau_window_steps \(e\.g\. 1000\)"),
    (dict(eval_every=0), r"needs eval_every > 0 dividing it; got eval_every=0"),
    (dict(eval_every=100, plateau_min_improvement=0.), r"must be > 0"),
])
def test_the_plateau_rule_needs_evaluations_inside_its_window(toy_dir, changes,
                                                              match):
  with pytest.raises(ValueError, match=match):
    tiny_config(toy_dir, **dict(dict(plateau_min_improvement=0.01), **changes))


def test_the_options_are_flags():
  values = flags.FlagValues()
  glow_flags.define_train_flags(values)
  values(["train", "--max_train_minutes=30", "--plateau_min_improvement=0.01",
          "--plateau_window_steps=2000", "--eval_every=500",
          "--init_from=runs/cifar10_glow_cpu"])
  config = glow_flags.to_train_config(values)
  assert (config.max_train_minutes, config.plateau_min_improvement,
          config.plateau_window_steps, config.init_from) == (
              30., 0.01, 2000, "runs/cifar10_glow_cpu")
  defaults = flags.FlagValues()
  glow_flags.define_train_flags(defaults)
  defaults(["train", "--max_train_minutes=0", "--plateau_min_improvement=0"])
  config = glow_flags.to_train_config(defaults)
  assert config.max_train_minutes is None
  assert config.plateau_min_improvement is None and config.init_from is None


def _read(workdir, name):
  with open(os.path.join(workdir, name)) as f:
    return json.load(f)


def test_the_budget_stops_the_run_and_a_resume_continues_its_count(
    toy_dir, tmp_path, runs, capsys):
  workdir = str(tmp_path / "run")
  config = tiny_config(toy_dir, train_steps=10, max_train_minutes=3.,
                       num_samples=0, log_every=2)
  clock = lambda: 60. * int(runs[-1].step.numpy())   # a minute per step

  results = train_lib.train(config, workdir, clock=clock)
  assert ("Stopped at step 3 of 10: the wall budget max_train_minutes=3 is "
          "used up (3.00 minutes of training over the run's life). "
          "Re-running with a larger --max_train_minutes (0 = no budget) "
          "continues from step 3.") in capsys.readouterr().out
  assert [s.step for s in runs[0].history] == [1, 2, 3]
  # A checkpoint of step 3 holding the count, then the final evaluation.
  assert checkpoint_paths(workdir)[-1].endswith("ckpt-3")
  tensors = checkpoint_tensors(checkpoint_paths(workdir)[-1])
  assert tensors[WALL_TIME_KEY] == 180.
  assert sorted(results) == ["toy/test", "toy/train"]
  assert _read(workdir, "results.json")["bits_per_dim"] == results
  training = _read(workdir, "training.json")
  assert (training["step"], training["stop_reason"],
          training["train_seconds"]) == (3, "wall_budget", 180.)

  # With 5 minutes, the resumed run goes on from the 3 counted: it stops at
  # step 5 (from zero it would stop at step 8).
  more = config.replace(max_train_minutes=5.)
  train_lib.train(more, workdir, clock=clock)
  assert [s.step for s in runs[1].history] == [4, 5]
  assert "Stopped at step 5 of 10: the wall budget" in capsys.readouterr().out
  assert _read(workdir, "training.json")["train_seconds"] == 300.
  # Progress lines every 2 steps, and one at each stop in between.
  assert sorted(read_events(os.path.join(workdir, "train"))[
      "bits_per_dim"]) == [2, 3, 4, 5]


def test_the_plateau_rule_compares_with_the_evaluations_of_earlier_processes(
    toy_dir, tmp_path, runs, capsys):
  workdir = str(tmp_path / "run")
  # Every comparison fails a 100 bits/dim threshold: the run stops at the
  # first step s whose s - 2 was evaluated.
  config = tiny_config(toy_dir, train_steps=1, eval_every=1, num_samples=0,
                       plateau_min_improvement=100., plateau_window_steps=2)
  train_lib.train(config, workdir)   # its final evaluation is at step 1
  assert [e["step"] for e in _read(workdir, "evaluations.json")[
      "evaluations"]] == [1]
  capsys.readouterr()

  longer = config.replace(train_steps=6)
  results = train_lib.train(longer, workdir)
  # Step 2 has no evaluation at step 0 to compare with; step 3 compares with
  # step 1's, made by the first process (else it would stop at step 4).
  assert [s.step for s in runs[1].history] == [2, 3]
  history = {e["step"]: e["bits_per_dim"]["toy/test"]
             for e in _read(workdir, "evaluations.json")["evaluations"]}
  assert sorted(history) == [1, 2, 3]
  message = (
      f"Stopped at step 3 of 6: the plateau rule: toy/test went from "
      f"{history[1]:.4f} bits/dim at step 1 to {history[3]:.4f}, an "
      f"improvement of {history[1] - history[3]:.4f} < "
      "plateau_min_improvement=100 over plateau_window_steps=2. Re-running "
      "with a smaller --plateau_min_improvement (0 = off) continues from "
      "step 3.")
  assert message in capsys.readouterr().out
  training = _read(workdir, "training.json")
  assert (training["step"], training["stop_reason"], training["message"]) == (
      3, "plateau", message)
  # The final evaluation is the periodic one of the same state.
  assert results["toy/test"] == history[3]
  assert training["final_bits_per_dim"] == results
  assert checkpoint_paths(workdir)[-1].endswith("ckpt-3")

  # Relaunched unchanged, it stops at once (the rule holds on the restored
  # state) and only evaluates, as a finished run does.
  again = train_lib.train(longer, workdir)
  assert runs[2].history == []
  assert message in capsys.readouterr().out
  assert again == pytest.approx(results, rel=1e-6)
