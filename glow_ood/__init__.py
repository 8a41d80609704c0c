"""glow-ood: Glow in TF2 / TFP, for "Do Deep Generative Models Know What They Don't Know?".

Packages, from the bottom up: `configs` (frozen dataclasses, no TensorFlow),
`data`, `models` (`Glow`, `PixelCNN`, `VAE` behind one interface:
`build_model(config)`), `train` (`train(TrainConfig, workdir)`), `runs`
(`load_run(workdir)`), `likelihood_terms`, `metrics`, `scores`, `analysis`,
`plots`, `experiments` (the programs behind `launch/`) and `flags` (the only
place flags are defined; the library never reads them).
"""

from glow_ood import environment as _environment

_environment.check_versions()  # before TensorFlow is imported

# pylint: disable=g-import-not-at-top,wrong-import-position
from glow_ood import configs
from glow_ood import models
from glow_ood import preprocessing
from glow_ood.configs import GlowConfig
from glow_ood.configs import TrainConfig
from glow_ood.models.glow import Glow
