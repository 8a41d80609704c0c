r"""Scores trained Glows: the paper's bits/dim tables, OOD metrics and figures.

  python launch/evaluate.py --workdir=runs/fashion_mnist_glow_cpu

  # an ensemble: one --workdir per member
  python launch/evaluate.py --workdir=runs/ens/member_0 \
      --workdir=runs/ens/member_1 --workdir=runs/ens/member_2

Any run folder with a config.json opens, whether launch/train.py or
glow_ood.train.train made it. Writes results.json, results.md, scores.npz and
figures/ (PNG + PDF) to --output_dir (default <workdir>/evaluation, or
<parent>/ensemble_evaluation for several workdirs) and prints results.md. The
in-distribution train and test splits are always scored; --datasets adds
others (default: the run's eval_datasets plus constant and uniform random
images). Progress bars go to stderr. See glow_ood/experiments/evaluate.py for
what each table and figure is. --tensorboard also writes the numbers and
log p(x) histograms per set as TensorBoard summaries into <workdir>/evaluate/
(--summaries_dir elsewhere; glow_ood/experiments/evaluation_summaries.py).

One writer per run folder (glow_ood/runs/lock.py): writing into a run folder
(the default --output_dir) holds it, so a training run there refuses this
program and the other way round; an --output_dir outside the run folder
scores a run while it trains. A scored dataset whose files differ from those
the run recorded when it trained gets a warning line (the numbers are then
not those of the training data).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from launch import bootstrap  # pylint: disable=g-bad-import-order

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags
import numpy as np

from glow_ood import data
from glow_ood import fileio
from glow_ood import flags as glow_flags
from glow_ood import runs
from glow_ood.experiments import evaluate
from glow_ood.experiments import evaluation_summaries
from glow_ood.runs import folder as run_folder
from glow_ood.runs import lock as run_lock

FLAGS = flags.FLAGS
bootstrap.import_model_modules(__file__)   # its families get their flags
glow_flags.define_evaluate_flags()


def default_output_dir(workdirs):
  if len(workdirs) == 1:
    return os.path.join(workdirs[0], "evaluation")
  parents = {os.path.dirname(os.path.normpath(w)) for w in workdirs}
  parent = parents.pop() if len(parents) == 1 else os.path.commonpath(workdirs)
  return os.path.join(parent or ".", "ensemble_evaluation")


def summaries_folders(members):
  """`{run name (or "ensemble"): folder}` of --tensorboard / --summaries_dir, or `{}`."""
  if FLAGS.summaries_dir is None:
    return (evaluation_summaries.default_folders(members) if FLAGS.tensorboard
            else {})
  if len(members) == 1:
    return {members[0].name: FLAGS.summaries_dir}
  return {name: os.path.join(FLAGS.summaries_dir, name)
          for name in [m.name for m in members] + ["ensemble"]}


def check_datasets(members, config):
  """Every dataset to score exists and its files are sound, before any scoring."""
  data_config = config.run_data(members[0].config.data)
  data.check_datasets(data_config, [data_config.dataset],
                      splits=("train", "test"),
                      what=f"the run's dataset ({members[0].workdir})")
  names = ",".join(config.datasets)
  data.check_datasets(
      data_config, config.datasets,
      what=(f"--datasets={names}" if FLAGS["datasets"].present else
            f"--datasets (default: the run's eval_datasets and special "
            f"inputs, {names})"))


def data_warnings(members, config):
  """A warning line per scored dataset whose data differ from what a run
  recorded when it trained (`glow_ood.data.fingerprints`)."""
  lines = []
  for member in members:
    payload = fileio.read_json(
        os.path.join(member.workdir, run_folder.CONFIG_FILE), "run config")
    lines += data.fingerprints.evaluation_warnings(
        payload, config.run_data(member.config.data), config.datasets,
        member.workdir)
  return lines


def locked_folders(workdirs, written):
  """The folders to hold while writing `written`: the run folder among
  `workdirs` that holds a written folder (one writer per run folder: a
  training run there refuses this program, and the other way round), else
  the written folder itself."""
  held = []
  for folder in map(os.path.abspath, written):
    runs_holding = [w for w in map(os.path.abspath, workdirs)
                    if os.path.commonpath([folder, w]) == w]
    held.append(runs_holding[0] if runs_holding else folder)
  return held


def main(argv):
  del argv
  workdirs = FLAGS.workdir
  output_dir = FLAGS.output_dir or default_output_dir(workdirs)
  fileio.check_writable(output_dir, "--output_dir")
  members = [runs.load_run(w, step=FLAGS.step, use_ema=FLAGS.use_ema)
             for w in workdirs]
  config = glow_flags.to_evaluation_config(FLAGS, members[0].config)
  check_datasets(members, config)
  folders = summaries_folders(members)
  for folder in folders.values():
    fileio.check_writable(folder, "--summaries_dir")
  for line in data_warnings(members, config):
    print(line, flush=True)
  with run_lock.hold_all(
      locked_folders(workdirs, [output_dir, *folders.values()]),
      fix="pass an --output_dir (and --summaries_dir) outside that folder "
      "to score the run meanwhile"):
    results = evaluate.evaluate(members, config, output_dir)
    if folders:
      with np.load(os.path.join(output_dir, "scores.npz")) as scores:
        evaluation_summaries.write(results, scores, folders)
  with open(os.path.join(output_dir, "results.md"), encoding="utf-8") as f:
    print(f.read())
  print(f"Written to {output_dir}/ (results.json, results.md, scores.npz, "
        "figures/).")
  if folders:
    print("TensorBoard summaries in " + ", ".join(sorted(folders.values()))
          + ".")


def console_main():
  """The console script `glow-ood-evaluate` (setup.py), from any folder."""
  bootstrap.run(main, __file__, required=["workdir"])


if __name__ == "__main__":
  console_main()
