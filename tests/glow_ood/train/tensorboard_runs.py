"""Run folders with TensorBoard events, written without training, and event readers.

`write_fake_run` writes what `glow_ood.train.train` writes for TensorBoard
(config.json, the hparams and config text, train/ scalars, evaluations into
eval/ and eval_sets/) with the trainer's own functions and made-up numbers, in
milliseconds; the tests of the dashboards and of `write_experiment` use it.
"""

import os
import types

import numpy as np
import tensorflow as tf

from glow_ood.runs import folder as run_folder
from glow_ood.train import hparams
from glow_ood.train import summaries


def write_fake_run(workdir, config, bits_per_dim=(8., 7.), sets=("toy/test",)):
  """A run folder whose training logged `bits_per_dim[i]` at step i + 1 and evaluated at the end."""
  os.makedirs(workdir, exist_ok=True)
  run_folder.write_config(workdir, config)
  writers = summaries.RunWriters(workdir)
  hparams.write_run_config(writers.root, config, 0)
  for step, value in enumerate(bits_per_dim, 1):
    summaries.write_scalars(writers.train, step, {
        "bits_per_dim": value, "learning_rate": config.learning_rate})
  step = len(bits_per_dim)
  summaries.evaluate(
      types.SimpleNamespace(ema=None),
      lambda images: np.full([len(images)], float(images[0, 0, 0, 0]) / 10),
      {name: np.full([2, 8, 8, 1], 10 * (i + 1), np.uint8)
       for i, name in enumerate(sets)},
      writers, step)
  writers.flush()


def read_events(directory, recursive=False):
  """`{run: {tag: (metadata, {step: numpy value})}}` of `directory`'s event files.

  `run` is the folder relative to `directory` (`"."` for its own files);
  sub-folders are read only if `recursive`.
  """
  runs = {}
  for root, _, files in os.walk(str(directory)):
    if not recursive and root != str(directory):
      continue
    for name in sorted(files):
      if "tfevents" not in name:
        continue
      tags = runs.setdefault(os.path.relpath(root, str(directory)), {})
      for event in tf.compat.v1.train.summary_iterator(os.path.join(root, name)):
        for value in event.summary.value:
          metadata, values = tags.setdefault(value.tag, (value.metadata, {}))
          values[event.step] = tf.make_ndarray(value.tensor)
  return runs
