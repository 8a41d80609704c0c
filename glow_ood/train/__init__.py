"""Training Glow: `train(TrainConfig, workdir)`, resumable, under a `tf.distribute` strategy.

Modules, one concern each: `start` (every check before the first write,
config.json), `state` (the state under the strategy: built, ActNorm's init
or a warm start, restored, saved), `step` (the compiled distributed step),
`inputs` (the per-replica input, keyed by step), `loop` (`train`: a loop
over interval actions: log, checkpoint, evaluate, stop), `summaries` (TensorBoard scalars, evaluations,
samples), `optimizers` (Adamax, Adam), `distribution` (strategies by name), `precision` (`mixed_precision="auto"`
resolved against the hardware), `stopping` (wall budget, plateau), `clock`
(training time over a run's life), `record` (evaluations.json,
training.json), `folder_lock` (the chief holds
its workdir: one writer per run folder, `glow_ood.runs.lock`), `preemption`
(SIGTERM / SIGINT: checkpoint at the next step boundary, then stop),
`failed_writes` (a full or read-only disk: one line, and what a rerun
resumes from), `lost_workers` (a dead or hung worker of a cluster, named), `faults` (tests'
fault injection: a worker that signals itself at a step). The EMA of the
weights is `glow_ood.models.ema`; a warm start (`init_from`) and the run
folder's files are `glow_ood.runs`.
"""

from glow_ood.train import distribution
from glow_ood.train import inputs
from glow_ood.train import optimizers
from glow_ood.train import precision
from glow_ood.train import start
from glow_ood.train import state
from glow_ood.train import step
from glow_ood.train import summaries
from glow_ood.train.loop import TrainingDivergedError
from glow_ood.train.loop import TrainingPreemptedError
from glow_ood.train.loop import WorkerLostError
from glow_ood.train.loop import train
from glow_ood.train.start import ConfigurationError
from glow_ood.train.state import TrainState
from glow_ood.train.step import Trainer
from glow_ood.train.step import learning_rate_at
