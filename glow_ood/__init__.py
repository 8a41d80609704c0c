"""glow-ood: Glow in TF2 / TFP, for "Do Deep Generative Models Know What They Don't Know?"."""

from glow_ood import environment as _environment

_environment.check_versions()  # before TensorFlow is imported

# pylint: disable=g-import-not-at-top,wrong-import-position
from glow_ood import config
from glow_ood import model
from glow_ood import preprocessing
from glow_ood.config import GlowConfig
from glow_ood.model import Glow
