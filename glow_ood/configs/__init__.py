"""Frozen, validated configs: one dataclass per component, no TensorFlow, no absl.

Each field is declared once with its default, help, choices and range
(`_validation.option`); the dataclass validates itself from that, the flags
of `glow_ood.flags` are defined from it, and `serialization` writes it to a
run's `config.json` and reads it back. Each choice tuple is defined here once.
The model families are declared in `families`, the one registry of them; a
config of your own family declares its fields with `option` and calls
`validate(self)` first in `__post_init__`, as these do.
"""

from glow_ood.configs import dataset_names
from glow_ood.configs import families
from glow_ood.configs import serialization
from glow_ood.configs._validation import option
from glow_ood.configs._validation import validate
from glow_ood.configs.analyze import AnalysisConfig
from glow_ood.configs.analyze import HESSIAN_METHODS
from glow_ood.configs.data import DataConfig
from glow_ood.configs.data import SOURCES
from glow_ood.configs.data import SPLITS
from glow_ood.configs.evaluate import DEFAULT_EXTRA_DATASETS
from glow_ood.configs.evaluate import EvaluationConfig
from glow_ood.configs.export import ExportConfig
from glow_ood.configs.model import COUPLING_SCALES
from glow_ood.configs.model import DTYPES
from glow_ood.configs.model import GlowConfig
from glow_ood.configs.model import PERMUTATIONS
from glow_ood.configs.model import PRESETS
from glow_ood.configs.model import SPLIT_PRIORS
from glow_ood.configs.ood_benchmark import BenchmarkConfig
from glow_ood.configs.ood_benchmark import DEFAULT_PAIRS
from glow_ood.configs.pixelcnn import PIXELCNN_ACTIVATIONS
from glow_ood.configs.pixelcnn import PixelCNNConfig
from glow_ood.configs.serialization import from_dict
from glow_ood.configs.serialization import to_dict
from glow_ood.configs.train import MIXED_PRECISION
from glow_ood.configs.train import OPTIMIZERS
from glow_ood.configs.train import RESUME_FIELDS
from glow_ood.configs.train import STRATEGIES
from glow_ood.configs.train import TrainConfig
from glow_ood.configs.two_moons import TwoMoonsConfig
from glow_ood.configs.vae import VAE_LIKELIHOODS
from glow_ood.configs.vae import VAE_POSTERIORS
from glow_ood.configs.vae import VAEConfig
