"""A run folder: its files, its checkpoints, its writer, and reopening it.

    run = runs.load_run("runs/fashion_mnist_glow_cpu")   # config.json + weights

Modules, one concern each: `folder` (the layout: config.json, results.json,
training.json, evaluations.json, checkpoints/; reading and writing the
config; what may change when a run resumes), `checkpoints` (which
checkpoint loads, damaged ones set aside, failed saves discarded), `lock`
(one writer per folder: `writer.lock` with a heartbeat), `warm_start` (the
weights another run offers to `init_from`, and which weights an evaluation
reads), `load` (`load_run`: a trained model back from its folder). Files are
written atomically through `glow_ood.fileio`.
"""

from glow_ood.runs.load import Run
from glow_ood.runs.load import checkpoint_path
from glow_ood.runs.load import load_run
from glow_ood.runs.load import restore_model

__all__ = ["Run", "load_run", "checkpoint_path", "restore_model"]
