"""Tests of `benchmarks.flops`: convolution shapes and FLOPs worked out by hand, and the real model's."""

import collections

import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import bijectors
from benchmarks import flops


def test_one_convolution_costs_two_flops_per_weight_per_output_pixel():
  # 2 * H * W * k * k * C_in * C_out: the conv of the measured peak.
  assert flops.shape_flops((16, 16, 3, 512, 512)) == 1_207_959_552
  assert flops.shape_flops((4, 4, 1, 4, 4)) == 2 * 16 * 1 * 4 * 4 == 512
  assert flops.shape_flops((2, 2, 3, 4, 8)) == 2 * 4 * 9 * 4 * 8 == 2304


# An 8x8x1 image, 2 levels of 1 step, width 4, worked out by hand:
# level 0 squeezes to 4x4x4: coupling 2 -> 4 -> 4 -> 2 * 2 = 4 channels, the
# learned prior of the kept 2 channels gives a mean and a scale for the other
# 2 (2 -> 4); level 1 squeezes the kept 2 to 2x2x8: coupling 4 -> 4 -> 4 ->
# 2 * 4 = 8, no split after the last level.
TINY = dict(image_shape=(8, 8, 1), num_levels=2, num_steps=1, width=4)
TINY_SHAPES = {(4, 4, 3, 2, 4): 2,     # first coupling conv + split prior
               (4, 4, 1, 4, 4): 1, (4, 4, 3, 4, 4): 1,
               (2, 2, 3, 4, 4): 1, (2, 2, 1, 4, 4): 1, (2, 2, 3, 4, 8): 1}
# 2 * 2304 + 512 + 4608 + 1152 + 128 + 2304
TINY_FLOPS = 13_312


def test_the_shapes_of_a_tiny_glow():
  assert flops.conv_shapes(**TINY, split_learned=True) == TINY_SHAPES
  assert flops.conv_flops(**TINY, split_learned=True) == TINY_FLOPS


def test_a_standard_split_prior_has_no_conv_and_additive_couplings_half_an_output():
  # Without the learned prior: one (4, 4, 3, 2, 4) fewer, 2304 FLOPs.
  assert flops.conv_flops(**TINY, split_learned=False) == TINY_FLOPS - 2304
  # Additive: the last conv outputs shifts only, 2 (level 0) and 4 (level 1)
  # channels: 4608 -> 2304 and 2304 -> 1152.
  shapes = flops.conv_shapes(**TINY, split_learned=True, additive=True)
  assert shapes[(4, 4, 3, 4, 2)] == 1 and shapes[(2, 2, 3, 4, 4)] == 2
  assert flops.conv_flops(**TINY, split_learned=True, additive=True) == (
      TINY_FLOPS - 2304 - 1152)


def test_coupling_flops_grow_with_the_steps_and_the_prior_does_not():
  three = dict(TINY, num_steps=3)
  assert flops.conv_flops(**three, split_learned=True) == (
      3 * (TINY_FLOPS - 2304) + 2304)


def test_the_paper_config():
  # CIFAR-10, 3 levels x 32 steps, width 512, per step (by hand):
  #   16x16x12: 2*256*9*6*512 + 2*256*512*512 + 2*256*9*512*12 = 176,685,056
  #    8x8x24:  2*64*9*12*512 + 2*64*512*512 + 2*64*9*512*24  =  54,788,096
  #    4x4x48:  2*16*9*24*512 + 2*16*512*512 + 2*16*9*512*48  =  19,005,440
  # plus two learned priors of 2*256*9*6*12 = 2*64*9*12*24 = 331,776 each.
  assert flops.conv_flops((32, 32, 3), 3, 32, 512, split_learned=True) == (
      32 * (176_685_056 + 54_788_096 + 19_005_440) + 2 * 331_776)


@pytest.mark.parametrize("coupling_scale,split_prior", [
    ("sigmoid", "learned"), ("additive", "learned"), ("exp", "standard")])
def test_the_shapes_are_the_convolutions_the_model_runs(coupling_scale,
                                                       split_prior):
  """Every Conv2D of a real flow's traced log-prob, by (h, w, k, c_in, c_out)."""
  flow = bijectors.build_glow_flow(
      (8, 8, 1), 2, 1, hidden_width=4, coupling_scale=coupling_scale,
      split_prior_type=split_prior, learn_top=False, seed=0, dtype=tf.float32)
  dist = tfp.distributions.TransformedDistribution(
      tfp.distributions.Sample(tfp.distributions.Normal(0., 1.),
                               [flow.latent_size]), tfp.bijectors.Invert(flow))
  x = tf.random.stateless_uniform([2, 8, 8, 1], [1, 2], -.5, .5)
  dist.log_prob(x)   # ActNorm's init
  graph = tf.function(dist.log_prob).get_concrete_function(x).graph
  counts = collections.Counter()

  def visit(g):
    for op in g.get_operations():
      if op.type == "Conv2D":
        images, kernel = op.inputs[0].shape, op.inputs[1].shape
        counts[(images[1], images[2], kernel[0], kernel[2], kernel[3])] += 1
    for function in g._functions.values():  # pylint: disable=protected-access
      visit(function.graph)
  visit(graph)
  assert dict(counts) == flops.conv_shapes(
      (8, 8, 1), 2, 1, 4, split_learned=split_prior == "learned",
      additive=coupling_scale == "additive")
