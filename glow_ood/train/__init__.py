"""Training Glow: `train(TrainConfig, workdir)`, resumable, under a `tf.distribute` strategy.

Modules, one concern each: `step` (the state under the strategy, ActNorm's
init, the distributed step), `loop` (`train`: intervals, checkpoints,
evaluation, config.json), `summaries` (TensorBoard scalars, evaluations,
samples), `optimizers` (Adamax, Adam), `ema` (Polyak averaging),
`distribution` (strategies by name), `precision` (`mixed_precision="auto"`
resolved against the hardware), `stopping` (wall budget, plateau), `clock`
(training time over a run's life), `record` (evaluations.json,
training.json), `warm_start` (`init_from`), `folder_lock` (the chief holds
its workdir: one writer per run folder, `glow_ood.run_lock`), `preemption`
(SIGTERM / SIGINT: checkpoint at the next step boundary, then stop),
`failed_writes` (a full or read-only disk: one line, and what a rerun
resumes from), `lost_workers` (a dead or hung worker of a cluster, named), `faults` (tests'
fault injection: a worker that signals itself at a step).
"""

from glow_ood.train import distribution
from glow_ood.train import optimizers
from glow_ood.train import precision
from glow_ood.train import step
from glow_ood.train import summaries
from glow_ood.train.loop import ConfigurationError
from glow_ood.train.loop import TrainingDivergedError
from glow_ood.train.loop import TrainingPreemptedError
from glow_ood.train.loop import WorkerLostError
from glow_ood.train.loop import train
from glow_ood.train.step import TrainState
from glow_ood.train.step import learning_rate_at
