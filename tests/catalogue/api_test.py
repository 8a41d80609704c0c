"""Catalogue: the Python API refuses nonsense (dtype, value range, shape) in one line naming the fix.

Each case is `pytest.param(call, error type, needles, id=...)`: `call()` must
raise the error type with a one-line message holding every needle
(`harness.refused_api`). Models are tiny (8x8x1 Glow, 2 levels x 1 step,
width 8; 4-channel layers on 4x4 events) and built once per module.
"""

import functools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import bijectors
import glow_ood
from glow_ood import likelihood_terms
from glow_ood import preprocessing
from tests.catalogue import harness
from tests.toy_data import tiny_glow_config
from tests.toy_data import toy_images

tfb = tfp.bijectors
tfd = tfp.distributions


@functools.lru_cache(maxsize=None)
def _glow(validate_args=False):
  """A fresh (uninitialized) tiny Glow on 8x8x1 images."""
  return glow_ood.Glow(tiny_glow_config(), validate_args=validate_args)


def _images(dtype=np.uint8):
  return toy_images(2, seed=0).astype(dtype)


def _x():
  """Dequantized float32 images [2, 8, 8, 1] in [-0.5, 0.5)."""
  return preprocessing.dequantize(_images(), 8, "center")


def _events(channels):
  return tf.random.stateless_normal([2, 4, 4, channels], seed=[1, 2])


def _glow_call(method, args, validate_args=False):
  """`call()` = `_glow(validate_args).<method>(*args())`, all built lazily."""
  return lambda: getattr(_glow(validate_args), method)(*args())


CASES = [
    # -- The examples. ---------------------------------------------
    pytest.param(
        _glow_call("bits_per_dim", lambda: [_images(np.uint16) * 257]),
        TypeError, ("bits_per_dim", "uint8", "uint16", "8 bits"),
        id="bits-per-dim-uint16"),
    pytest.param(
        _glow_call("log_prob", lambda: [_images(np.float32)]),
        ValueError, ("log_prob", "[-0.5, 0.5]", "raw pixels",
                     "model.preprocess"),
        id="log-prob-raw-pixels"),
    pytest.param(
        lambda: bijectors.AffineCoupling(4, hidden_width=8).forward(
            _events(3)),
        ValueError, ("AffineCoupling", "built for 4 channels", "3 channels",
                     "AffineCoupling(3)"),
        id="affine-coupling-4-on-3-channels"),
    pytest.param(
        lambda: bijectors.InvertibleConv1x1(4).forward(_events(3)),
        ValueError, ("InvertibleConv1x1", "built for 4 channels",
                     "3 channels", "InvertibleConv1x1(3)"),
        id="conv1x1-4-on-3-channels"),
    # -- Dtypes. -----------------------------------------------------------
    pytest.param(
        _glow_call("bits_per_dim", lambda: [_images(np.int64)]),
        TypeError, ("uint8", "int64", "astype(np.uint8)"),
        id="bits-per-dim-int64"),
    pytest.param(
        _glow_call("bits_per_dim", lambda: [_x()]),
        TypeError, ("uint8", "float32", "Glow.log_prob"),
        id="bits-per-dim-dequantized-floats"),
    pytest.param(
        _glow_call("preprocess", lambda: [_images(np.float64) / 255.]),
        TypeError, ("Glow.preprocess", "uint8", "float64",
                    "tf.cast(tf.round(x * 255.), tf.uint8)"),
        id="preprocess-unit-floats"),
    pytest.param(
        _glow_call("log_prob", lambda: [_images()]),
        TypeError, ("log_prob", "got uint8", "model.preprocess(images)"),
        id="log-prob-uint8"),
    pytest.param(
        _glow_call("decompose", lambda: [tf.cast(_x(), tf.float64)]),
        TypeError, ("decompose", "float64 Tensor", "model is float32",
                    "tf.cast(x, tf.float32)"),
        id="decompose-float64-tensor"),
    pytest.param(
        lambda: preprocessing.dequantize(_images(np.uint16)),
        TypeError, ("dequantize", "uint8", "uint16"),
        id="dequantize-uint16"),
    pytest.param(
        lambda: likelihood_terms.BitsPerDimEvaluator(_glow(), 4)(
            _images(np.uint16)),
        TypeError, ("BitsPerDimEvaluator", "uint8", "uint16"),
        id="bits-per-dim-evaluator-uint16"),
    pytest.param(
        lambda: likelihood_terms.LikelihoodTermsEvaluator(_glow(), 4)(_images(np.int32)),
        TypeError, ("LikelihoodTermsEvaluator", "uint8", "int32"),
        id="model-scorer-int32"),
    # -- Value ranges. -----------------------------------------------------
    pytest.param(
        _glow_call("encode", lambda: [_x() * 256.]),
        ValueError, ("Glow.encode", "[-0.5, 0.5]"),
        id="encode-unscaled-floats"),
    pytest.param(
        _glow_call("log_prob", lambda: [_x() + 0.5], validate_args=True),
        ValueError, ("[-0.5, 0.5]", "scaled to [0, 1]", "subtract 0.5"),
        id="log-prob-unit-floats-validate-args"),
    pytest.param(
        lambda: tf.function(lambda: _glow().log_prob(
            tf.constant(_images(np.float32))), autograph=False)(),
        ValueError, ("log_prob", "raw pixels"),
        id="log-prob-raw-pixel-constant-traced"),
    # -- Shapes given to the model. ----------------------------------------
    pytest.param(
        _glow_call("log_prob", lambda: [_x()[..., 0]]),
        ValueError, ("[..., 8, 8, 1]", "[2, 8, 8]", "channel axis",
                     "tf.newaxis"),
        id="log-prob-missing-channel-axis"),
    pytest.param(
        _glow_call("log_prob", lambda: [tf.transpose(_x(), [0, 3, 1, 2])]),
        ValueError, ("[2, 1, 8, 8]", "channels-first",
                     "tf.transpose(x, [0, 2, 3, 1])"),
        id="log-prob-channels-first"),
    pytest.param(
        _glow_call("log_prob", lambda: [tf.zeros([2, 16, 16, 1])]),
        ValueError, ("[2, 16, 16, 1]", "8x8", "image_shape=(16, 16, 1)"),
        id="log-prob-image-size"),
    pytest.param(
        _glow_call("decompose", lambda: [tf.zeros([2, 8, 8, 3])]),
        ValueError, ("[2, 8, 8, 3]", "1 channel",
                     "image_shape=(8, 8, 3)"),
        id="decompose-channel-count"),
    pytest.param(
        _glow_call("bits_per_dim", lambda: [_images()[..., 0]]),
        ValueError, ("bits_per_dim", "[2, 8, 8]", "channel axis"),
        id="bits-per-dim-missing-channel-axis"),
    pytest.param(
        _glow_call("decode", lambda: [_x()]),
        ValueError, ("flat latents [..., 64]", "[2, 8, 8, 1]",
                     "model.encode"),
        id="decode-images"),
    pytest.param(
        _glow_call("decode", lambda: [tf.zeros([2, 63])]),
        ValueError, ("flat latents [..., 64]", "[2, 63]"),
        id="decode-latent-size"),
    pytest.param(
        _glow_call("sample", lambda: [-1]),
        ValueError, ("num_samples", ">= 0", "-1"),
        id="sample-negative-count"),
    pytest.param(
        lambda: likelihood_terms.LikelihoodTermsEvaluator(_glow(), 4)(_images()[0]),
        ValueError, ("LikelihoodTermsEvaluator", "[N, 8, 8, 1]", "[8, 8, 1]",
                     "batch axis"),
        id="model-scorer-single-image"),
    # -- Shapes given to the bijectors. ------------------------------------
    pytest.param(
        lambda: bijectors.ActNorm(4).forward(_events(3)),
        ValueError, ("ActNorm", "built for 4 channels", "ActNorm(3)"),
        id="actnorm-channel-count"),
    pytest.param(
        lambda: bijectors.ActNorm(4).initialize(_events(3)),
        ValueError, ("ActNorm", "built for 4 channels", "3 channels"),
        id="actnorm-initialize-channel-count"),
    pytest.param(
        lambda: bijectors.ActNorm(4).forward(tf.zeros([4, 4])),
        ValueError, ("ActNorm", "rank >= 3", "[4, 4]", "tf.newaxis"),
        id="actnorm-rank-2"),
    pytest.param(
        lambda: tfb.Invert(bijectors.AffineCoupling(4, hidden_width=8)).forward(
            _events(3)),
        ValueError, ("AffineCoupling", "got y with 3 channels"),
        id="invert-coupling-channel-count"),
    pytest.param(
        lambda: tfd.TransformedDistribution(
            tfd.Sample(tfd.Normal(0., 1.), [4, 4, 4]),
            tfb.Invert(tfb.Chain([bijectors.InvertibleConv1x1(4),
                                  bijectors.ActNorm(4)]))).log_prob(
                                      _events(3)),
        ValueError, ("built for 4 channels", "3 channels"),
        id="transformed-distribution-channel-count"),
    pytest.param(
        lambda: bijectors.ChannelPermute.reverse(4).forward(_events(3)),
        ValueError, ("ChannelPermute", "built for 4 channels",
                     "ChannelPermute.reverse(3)"),
        id="channel-permute-channel-count"),
    pytest.param(
        lambda: bijectors.SplitPrior(4).forward(_events(6)),
        ValueError, ("SplitPrior", "built for 4 channels", "SplitPrior(6)"),
        id="split-prior-channel-count"),
    pytest.param(
        lambda: bijectors.GlowCouplingNetwork(2, 4, hidden_width=8)(
            _events(3)),
        ValueError, ("GlowCouplingNetwork", "2 input channels",
                     "in_channels=3"),
        id="coupling-network-channel-count"),
    pytest.param(
        lambda: bijectors.Squeeze(2).forward(tf.zeros([2, 5, 4, 1])),
        ValueError, ("Squeeze", "divisible by 2", "5x4"),
        id="squeeze-odd-height"),
    pytest.param(
        lambda: bijectors.Squeeze(2).inverse(tf.zeros([2, 2, 2, 6])),
        ValueError, ("Unsqueeze", "divisible by 4", "[2, 2, 2, 6]"),
        id="unsqueeze-channel-count"),
    pytest.param(
        lambda: _glow().flow.forward(tf.zeros([2, 16, 16, 1])),
        ValueError, ("MultiScaleFlow", "[8, 8, 1]", "[2, 16, 16, 1]",
                     "image_shape=[16, 16, 1]"),
        id="flow-image-size"),
    pytest.param(
        lambda: _glow().flow.inverse(tf.zeros([2, 10])),
        ValueError, ("MultiScaleFlow.inverse", "flat latents [..., 64]",
                     "[2, 10]"),
        id="flow-latent-size"),
    pytest.param(
        lambda: bijectors.MultiScaleFlow(
            [8, 8, 1], [[bijectors.Squeeze(2), bijectors.ActNorm(1)]]),
        ValueError, ("level 1, bijector 2", "ActNorm", "built for 1 channel",
                     "[4, 4, 4]", "ActNorm(4)"),
        id="flow-layer-channel-count"),
    pytest.param(
        lambda: bijectors.MultiScaleFlow(
            [4, 4, 1], [[bijectors.Squeeze(2)], [bijectors.Squeeze(2)]],
            split_priors=[bijectors.SplitPrior(2)]),
        ValueError, ("split prior of level 1", "built for 2 channels",
                     "[2, 2, 4]", "SplitPrior(4)"),
        id="flow-split-prior-channel-count"),
    pytest.param(
        lambda: bijectors.build_glow_flow([6, 6, 1], 2, 1, hidden_width=8),
        ValueError, ("divisible by 4", "6x6", "fewer levels"),
        id="glow-flow-image-not-divisible"),
    pytest.param(
        lambda: bijectors.build_glow_flow([28, 28], 2, 1, hidden_width=8),
        ValueError, ("image_shape must be [H, W, C]", "[28, 28]",
                     "[28, 28, 1]"),
        id="glow-flow-image-shape-rank"),
]


@pytest.mark.parametrize("call, error_type, needles", CASES)
def test_refused(call, error_type, needles):
  harness.refused_api(call, error_type, *needles)


def test_refusals_leave_the_model_untouched():
  # A refused call runs nothing: ActNorm stays uninitialized.
  model = glow_ood.Glow(tiny_glow_config())
  for bad in (_images(np.float32), tf.zeros([2, 16, 16, 1])):
    with pytest.raises(ValueError):
      model.log_prob(bad)
  with pytest.raises(TypeError):
    model.initialize(_images())
  assert not model.is_initialized
