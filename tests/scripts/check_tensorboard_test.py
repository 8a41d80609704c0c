"""scripts/check_tensorboard.py: TensorBoard's HTTP API lists the runs, their hparams and overlays.

Starts a real `tensorboard` (about 5-10 s) on two run folders written without
training (tests/glow_ood/train/tensorboard_runs.py: the trainer's own writers),
in a folder of runs as `tensorboard --logdir=runs` sees it.
"""

from glow_ood.train import hparams
from scripts import check_tensorboard
from tests.glow_ood.train.recording import tiny_config
from tests.glow_ood.train.tensorboard_runs import write_fake_run


def test_hparams_dashboard_lists_the_runs_and_train_and_eval_overlay(tmp_path):
  config = tiny_config(tmp_path)
  write_fake_run(str(tmp_path / "a"), config, bits_per_dim=(8., 7.))
  write_fake_run(str(tmp_path / "b"), config.replace(learning_rate=1e-3),
                 bits_per_dim=(9., 6.5), sets=("toy/test", "mnist/test"))
  (tmp_path / "not_a_run").mkdir()
  boards = check_tensorboard.dashboards(str(tmp_path))
  assert check_tensorboard.problems(str(tmp_path), boards) == []

  tags = boards["scalar_tags"]
  # One tag, several runs: TensorBoard draws them in one chart.
  assert {run for run, names in tags.items() if "bits_per_dim" in names} == {
      "a/train", "a/eval_sets/toy/test", "b/train", "b/eval_sets/toy/test",
      "b/eval_sets/mnist/test"}
  infos = {i["name"]: i for i in boards["experiment"]["hparamInfos"]}
  assert set(infos) == set(hparams.flatten(config))
  assert infos["learning_rate"]["differs"] and infos["model.family"][
      "domainDiscrete"] == ["glow"]
  groups = {s["name"]: g for g in boards["session_groups"]
            for s in g["sessions"]}
  assert sorted(groups) == ["a", "b"]
  assert groups["b"]["hparams"]["learning_rate"] == 1e-3
  assert groups["a"]["hparams"]["model.family"] == "glow"
  values = {(m["name"]["group"], m["name"]["tag"]): m["value"]
            for m in groups["b"]["metricValues"]}
  assert values[("train", "bits_per_dim")] == 6.5   # the last step's
  assert values[("eval_sets/mnist/test", "bits_per_dim")] == 2.0


def test_problems_names_a_run_tensorboard_does_not_show(tmp_path):
  (tmp_path / "lost").mkdir()
  (tmp_path / "lost" / "config.json").write_text("{}")
  boards = dict(runs=[], scalar_tags={}, experiment={}, session_groups=[])
  found = check_tensorboard.problems(str(tmp_path), boards)
  assert any("lost: no HParams session" in p for p in found), found
  assert any("model.family" in p for p in found), found
