"""A run's config in TensorBoard: HParams-dashboard hyper-parameters and the config.json text.

    write_run_config(writer, config, step)   # <workdir>/: hparams + text "config"
    write_experiment("runs")                 # runs/: the dashboard's columns

`flatten(config)` turns a `TrainConfig` into scalar hyper-parameters with
dotted names, as config.json nests them (`model.family`, `model.hidden_width`,
`data.dataset`, `learning_rate`, ...): numbers, bools and strings as they are,
tuples as their comma-separated flag form (`"32,32,3"`, `""` when empty),
`None` as `"None"`.

`write_run_config` writes them into the run folder itself (TensorBoard's run
`<name>` when `tensorboard --logdir` is the folder holding the runs), which
makes the run a session of the HParams dashboard whose metrics are the
scalars of its sub-runs (`train/bits_per_dim`, `eval_sets/<set>/bits_per_dim`,
... in the dashboard's "group/tag" terms; see `glow_ood.train.summaries`).
TensorBoard keeps the first metadata of a tag in a run, so a resumed run
shows the hyper-parameters of its first launch (the model and data cannot
change on resume: `TrainConfig.RESUME_FIELDS`); the text summary `config`
gets one entry per launch, at the step it started from.

A run writes no `hparams_config` (experiment) summary of its own: the
dashboard uses the first one it finds under `--logdir` for every run, so one
run's would hide the other runs' hyper-parameters (a PixelCNN's next to a
Glow's). Without one, TensorBoard infers the columns from all runs' values
and lists every scalar as a metric; `write_experiment(logdir)` declares the
union of the runs' hyper-parameters and the bits/dim metrics with their
units instead, once for a whole folder of runs.
"""

import json
import os

import tensorflow.compat.v2 as tf
from tensorboard.plugins.hparams import api as hp

from glow_ood import fileio
from glow_ood.runs import folder as run_folder
from glow_ood.configs import serialization
from glow_ood.train import summaries

__all__ = ["flatten", "write_run_config", "write_experiment", "METRICS"]

# Metrics the experiment declares: (tag, group under a run folder, description).
# The per-set groups are added from the runs' configs.
METRICS = (
    ("bits_per_dim", summaries.TRAIN_DIR,
     summaries.DESCRIPTIONS["bits_per_dim"]),
)


def _scalar(value):
  if isinstance(value, (list, tuple)):
    return ",".join(str(v) for v in value)
  if value is None:
    return "None"
  if isinstance(value, (bool, int, float, str)):
    return value
  return json.dumps(value, sort_keys=True)


def flatten(config):
  """`{dotted name: bool | int | float | str}` of a config dataclass (see the module docstring)."""
  flat = {}

  def walk(prefix, values):
    for key, value in values.items():
      name = f"{prefix}{key}"
      if isinstance(value, dict):
        walk(f"{name}.", value)
      else:
        flat[name] = _scalar(value)

  walk("", serialization.to_dict(config)["config"])
  return flat


def _config_markdown(config):
  text = json.dumps(serialization.to_dict(config), indent=2)
  # Markdown: a code block keeps the JSON's indentation.
  return "```json\n" + text + "\n```"


def write_run_config(writer, config, step, trial_id=None):
  """Writes `config`'s hyper-parameters and its config.json as text to `writer`.

  Args:
    writer: `tf.summary` writer of the run folder itself (`<workdir>/`).
    config: the run's `TrainConfig` (any serializable config works).
    step: Python `int`, the step the text summary is recorded at (where a
      launch starts).
    trial_id: the session group's name in the dashboard. Default value: the
      hash of the hyper-parameters (TensorBoard's).
  """
  with writer.as_default():
    hp.hparams(flatten(config), trial_id=trial_id)
    tf.summary.text(
        "config", _config_markdown(config), step=step,
        description="The run's config.json (glow_ood.configs.serialization) "
        "as this launch wrote it.")
  writer.flush()


def _run_configs(logdir):
  """`{run folder relative to logdir: TrainConfig}` of the runs under `logdir`."""
  found = {}
  for root, dirs, files in os.walk(logdir):
    dirs[:] = sorted(d for d in dirs if d != run_folder.CHECKPOINTS_DIR)
    if run_folder.CONFIG_FILE not in files:
      continue
    saved = fileio.read_json(os.path.join(root, run_folder.CONFIG_FILE),
                                 "run config")
    if saved.get("type") == "TrainConfig":
      found[os.path.relpath(root, logdir)] = serialization.from_dict(saved)
  return found


def _hparam(name, values):
  kinds = {type(v) for v in values}
  if kinds <= {int, float} and bool not in kinds:
    return hp.HParam(name, hp.RealInterval(float(min(values)),
                                           float(max(values))))
  return hp.HParam(name, hp.Discrete(sorted({str(v) if len(kinds) > 1 else v
                                             for v in values})))


def write_experiment(logdir):
  """Writes the HParams experiment of the runs under `logdir` into `logdir`.

  The hyper-parameters are the union of the runs' `flatten`ed configs
  (numbers as intervals, the rest as discrete values); the metrics are the
  training loss (`train/bits_per_dim`) and the bits/dim of every evaluation
  set of any run (`eval_sets/<dataset>/<split>/bits_per_dim`), all in
  bits/dim. Re-run it after adding runs: TensorBoard reads the first
  experiment summary in `logdir`, so this replaces the previous file.

  Returns:
    The run folders found (relative to `logdir`), sorted.
  """
  configs = _run_configs(logdir)
  if not configs:
    raise FileNotFoundError(
        f"No training run (a config.json of a TrainConfig) under {logdir}: "
        "pass the folder that holds the run folders.")
  values = {}
  for config in configs.values():
    for name, value in flatten(config).items():
      values.setdefault(name, []).append(value)
  sets = sorted({name for run in configs
                 for name in _evaluation_set_names(os.path.join(logdir, run))})
  metrics = [hp.Metric(tag, group=group, description=description,
                       display_name=f"{group}/{tag}")
             for tag, group, description in METRICS]
  metrics += [hp.Metric(
      "bits_per_dim", group=f"{summaries.EVAL_SETS_DIR}/{name}", display_name=f"{name} bits/dim",
      description=f"bits/dim of {name} at the bin centres (EMA weights if "
      "the run kept them), at each evaluation.") for name in sets]
  for path in tf.io.gfile.glob(os.path.join(logdir, "*.experiment.v2")):
    tf.io.gfile.remove(path)
  writer = tf.summary.create_file_writer(logdir, filename_suffix=".experiment.v2")
  with writer.as_default():
    hp.hparams_config(
        hparams=[_hparam(name, v) for name, v in sorted(values.items())],
        metrics=metrics)
  writer.close()
  return sorted(configs)


def _evaluation_set_names(workdir):
  """`"<dataset>/<split>"` of the sets with events under `<workdir>/eval_sets/`."""
  top = os.path.join(workdir, summaries.EVAL_SETS_DIR)
  return [os.path.relpath(root, top) for root, _, files in os.walk(top)
          if any("tfevents" in name for name in files)]
