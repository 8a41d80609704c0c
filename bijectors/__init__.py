"""Glow bijectors for TensorFlow Probability (NHWC image events).

Every bijector's `forward` is the normalizing direction (data -> latent), as
in openai/glow; use `tfb.Invert(bijector)` inside `tfd.TransformedDistribution`
to get a density over data. None of them imports `glow_ood`.
"""

import os

# Keras-3 layers inside a tf.Module are invisible to `trainable_variables`;
# TFP builds its networks with tf_keras. Must run before TensorFlow is imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# pylint: disable=g-import-not-at-top,wrong-import-position
from bijectors.actnorm import ActNorm
from bijectors.affine_coupling import AffineCoupling
from bijectors.channel_affine import ChannelAffine
from bijectors.channel_permute import ChannelPermute
from bijectors.coupling_network import GlowCouplingNetwork
from bijectors.coupling_network import ZeroInitConv2d
from bijectors.fused_bijector import FusedBijector
from bijectors.glow_flow import build_glow_flow
from bijectors.invertible_conv1x1 import InvertibleConv1x1
from bijectors.multiscale_flow import LOG_DET_KINDS
from bijectors.multiscale_flow import MultiScaleFlow
from bijectors.split_prior import SplitPrior
from bijectors.squeeze import Squeeze

__all__ = [
    "ActNorm", "AffineCoupling", "ChannelAffine", "ChannelPermute",
    "FusedBijector", "GlowCouplingNetwork", "InvertibleConv1x1",
    "LOG_DET_KINDS", "MultiScaleFlow", "SplitPrior", "Squeeze",
    "ZeroInitConv2d", "build_glow_flow",
]
