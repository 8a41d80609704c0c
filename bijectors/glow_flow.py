"""Builds Glow's multi-scale architecture (Kingma & Dhariwal 2018) from our bijectors."""

import tensorflow.compat.v2 as tf

from bijectors import actnorm
from bijectors import affine_coupling
from bijectors import channel_affine
from bijectors import channel_permute
from bijectors import invertible_conv1x1
from bijectors import multiscale_flow
from bijectors import split_prior
from bijectors import squeeze

__all__ = ["build_glow_flow", "PERMUTATIONS", "SPLIT_PRIORS"]

PERMUTATIONS = ("conv1x1_lu", "conv1x1", "reverse", "shuffle")
SPLIT_PRIORS = ("learned", "standard")


def _check_choice(name, value, choices):
  if value not in choices:
    raise ValueError(f"Unknown {name} {value!r}; choose one of {choices}.")


def _permutation(kind, num_channels, seed, dtype, name, validate_args):
  if kind == "conv1x1_lu":
    return invertible_conv1x1.InvertibleConv1x1(
        num_channels, lu_decomposed=True, seed=seed, dtype=dtype,
        validate_args=validate_args, name=name)
  if kind == "conv1x1":
    return invertible_conv1x1.InvertibleConv1x1(
        num_channels, lu_decomposed=False, seed=seed, dtype=dtype,
        validate_args=validate_args, name=name)
  if kind == "reverse":
    return channel_permute.ChannelPermute.reverse(
        num_channels, validate_args=validate_args)
  return channel_permute.ChannelPermute.shuffle(
      num_channels, seed=seed, validate_args=validate_args)


def build_glow_flow(image_shape, num_levels, num_steps_per_level,
                    hidden_width=512, coupling_scale="sigmoid",
                    permutation="conv1x1_lu", split_prior_type="learned",
                    learn_top=False, seed=0, dtype=tf.float32,
                    validate_args=False, coupling_compute_dtype=None,
                    recompute_couplings=False, coupling_edge_padding=False):
  """Returns a `MultiScaleFlow` with Glow's architecture.

  Each of the `num_levels` levels is: `Squeeze` (2x2), then
  `num_steps_per_level` steps of `ActNorm -> permutation -> AffineCoupling`
  (openai/glow's coupling network of width `hidden_width`), then (except at
  the last level) a split that factors out half the channels under a learned
  conditional Gaussian (`"learned"`, `SplitPrior`) or a standard normal
  (`"standard"`). With `learn_top`, a per-channel Gaussian with learned mean and
  scale (`ChannelAffine`) is the prior of the top latent.

  Args:
    image_shape: `[H, W, C]`; `H` and `W` divisible by `2**num_levels`.
    num_levels: Python `int`, `L >= 1`.
    num_steps_per_level: Python `int`, `K >= 1`.
    hidden_width: Python `int`, coupling network width. Default value: `512`.
    coupling_scale: `"sigmoid"` (openai/glow), `"exp"` or `"additive"`
      (constant volume). Default value: `"sigmoid"`.
    permutation: `"conv1x1_lu"`, `"conv1x1"`, `"reverse"` or `"shuffle"`.
      Default value: `"conv1x1_lu"`.
    split_prior_type: `"learned"` or `"standard"`. Default value: `"learned"`.
    learn_top: Python `bool`. Default value: `False`.
    seed: Python `int`, seeds every random initial value. Default value: `0`.
    dtype: Default value: `float32`.
    validate_args: Python `bool`, passed to every bijector: run-time
      assertions of what is not known at trace time (see
      `bijectors._checks`). Static shape mistakes are refused either way.
      Default value: `False`.
    coupling_compute_dtype: dtype the coupling networks' convolutions run in
      (mixed precision: `tf.bfloat16` or `tf.float16`); every other part of
      the flow (couplings' affine maps, log-dets, ActNorm statistics, 1x1
      convolutions and their determinants, priors) stays in `dtype`.
      Default value: `None` (`dtype`).
    recompute_couplings: Python `bool`, gradient checkpointing: the coupling
      networks' hidden activations are recomputed in the backward pass
      instead of kept (less memory, about a third more compute).
      Default value: `False`.
    coupling_edge_padding: Python `bool`, openai/glow's `edge_bias`: the
      coupling networks' 3x3 convolutions also see a pad channel that is 1
      on the border their SAME zero padding adds and 0 on the image
      (`bijectors.edge_padding`): 2 more variables per coupling, of
      `9 * (hidden_width + n_out)` weights (`n_out`: the coupling network's
      output channels). Default value: `False`.
  """
  _check_choice("coupling scale", coupling_scale, affine_coupling.SCALES)
  _check_choice("permutation", permutation, PERMUTATIONS)
  _check_choice("split prior", split_prior_type, SPLIT_PRIORS)
  if len(image_shape) != 3:
    raise ValueError(
        f"image_shape must be [H, W, C]; got {list(image_shape)}. Add the "
        "channel count, e.g. [28, 28, 1] for grayscale images.")
  height, width, channels = [int(d) for d in image_shape]
  if num_levels < 1 or num_steps_per_level < 1:
    raise ValueError(
        f"num_levels and num_steps_per_level must be >= 1; got {num_levels} "
        f"and {num_steps_per_level}.")
  factor = 2 ** num_levels
  if height % factor or width % factor:
    raise ValueError(
        f"{num_levels} levels squeeze the image {num_levels} times, so height "
        f"and width must be divisible by {factor}; got {height}x{width}. Pad "
        "the images (e.g. 28x28 -> 32x32) or use fewer levels.")
  levels, split_priors = [], []
  for level in range(num_levels):
    channels *= 4
    bijectors = [squeeze.Squeeze(2, validate_args=validate_args)]
    for step in range(num_steps_per_level):
      step_seed = seed * 1_000_003 + 2 * (level * num_steps_per_level + step)
      prefix = f"level{level + 1}_step{step + 1}_"
      bijectors += [
          actnorm.ActNorm(channels, dtype=dtype, validate_args=validate_args,
                          name=prefix + "actnorm"),
          _permutation(permutation, channels, step_seed, dtype,
                       prefix + permutation, validate_args),
          affine_coupling.AffineCoupling(
              channels, scale=coupling_scale, hidden_width=hidden_width,
              seed=step_seed + 1, dtype=dtype,
              compute_dtype=coupling_compute_dtype,
              recompute=recompute_couplings,
              edge_padding=coupling_edge_padding, validate_args=validate_args,
              name=prefix + "coupling"),
      ]
    levels.append(bijectors)
    if level < num_levels - 1:
      split_priors.append(
          split_prior.SplitPrior(channels, dtype=dtype,
                                 validate_args=validate_args,
                                 name=f"level{level + 1}_split_prior")
          if split_prior_type == "learned" else None)
      channels //= 2
  top_prior = (channel_affine.ChannelAffine(
      channels, dtype=dtype, validate_args=validate_args, name="top_prior")
               if learn_top else None)
  return multiscale_flow.MultiScaleFlow(
      image_shape, levels, split_priors=split_priors, top_prior=top_prior,
      validate_args=validate_args)
