"""The PixelCNN++ family: TFP's `tfd.PixelCNN` behind `density_model`.

PixelCNN++ (Salimans et al. 2017) factorizes the probability of an image of
`n_bins = 2**n_bits` levels per pixel, `k` in `{0, .., n_bins - 1}^D` with
`D = H * W * C`, in raster order (rows, then columns, then channels):

    P(k) = prod_{i = 1..H*W} P(k_i | k_{<i}),
    P(k_i | k_{<i}) = sum_m pi_m  prod_c  L(k_ic; mu_mc(k_i,<c), s_mc),

a mixture of `num_logistic_mix` discretized logistics per pixel `i`, one
component `m` shared by its channels, with the channel locations linear in
the channels before them (`mu_mc = a_mc + sum_{j<c} b_mcj t(k_ij)`, `t` the
pixel rescaled to [-1, 1]). `L(k; mu, s) = F(k + 1/2) - F(k - 1/2)` for a
logistic CDF `F`, the edge bins `0` and `n_bins - 1` taking the tails, so the
`n_bins` values of a pixel sum to one. `pi`, `a`, `b` and `s` come from gated
ResNet stacks over the image whose convolution kernels are masked so that
pixel `i` sees only `k_{<i}`. The likelihood is therefore exact and discrete:
no dequantization, no bin volume, and

    bits/dim = -log2 P(k) / D = -log P(k) / (D log 2).

Two corrections to TFP 0.25 (found while testing; see `PixelCNN`):

* TFP masks its kernels only as Keras `kernel_constraint`s, which Keras
  optimizers apply after each update and nothing applies at construction: a
  fresh `tfd.PixelCNN` is not causal (its probabilities over all images sum
  to about 1.3 for a tiny model), and neither is one trained by an optimizer
  that ignores constraints (`glow_ood.train.optimizers`). Here every masked
  convolution applies its mask in the forward pass, and the masked kernel
  entries are zeroed at construction.
* TFP's sampler feeds the network its unrounded continuous draws (and
  conditions a pixel's channels on them), so its samples do not follow the
  distribution `log_prob` scores (badly so for few bits). `PixelCNN.sample`
  draws exactly from `P`.

#### References
[1]: Salimans, Karpathy, Chen & Kingma. PixelCNN++: Improving the PixelCNN
     with Discretized Logistic Mixture Likelihood and Other Modifications.
     ICLR 2017. https://arxiv.org/abs/1701.05517
[2]: Salimans & Kingma. Weight Normalization. NeurIPS 2016.
     https://arxiv.org/abs/1602.07868
"""

import math

import numpy as np
import tensorflow.compat.v2 as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.layers import weight_norm

from glow_ood import model_inputs
from glow_ood import preprocessing
from glow_ood.configs.pixelcnn import PixelCNNConfig
from glow_ood.models import density_model

tfd = tfp.distributions

__all__ = ["PixelCNN"]


class PixelCNN(density_model.DensityModel):
  """PixelCNN++ over uint8 images `[..., H, W, C]`, exact discrete likelihood.

  `distribution` is the `tfd.PixelCNN` (its `network` the tf_keras gated
  ResNet) over pixel values `0 .. 2**n_bits - 1`; uint8 images (raw 8-bit
  pixels, the trainer's `training_input`) are reduced to their `n_bits` bins
  `k = pixel // 2**(8 - n_bits)` as `preprocessing.dequantize` does. See the
  module docstring for the maths. Draw samples with `sample`, not
  `distribution.sample` (TFP's sampler, which does not follow `P`).

  #### Causal masks

  Every masked convolution applies its mask in its forward pass (not only
  as TFP's Keras constraint), so the model is a normalized distribution
  after any update, by any optimizer, and its masked kernel entries get zero
  gradients.

  #### Weight norm and its data-dependent init

  With `use_weight_norm`, every convolution and dense layer is TFP's
  `WeightNorm`: `w = g * v / ||v||`. Each layer has a boolean variable
  `initialized`; the first forward pass of a layer whose flag is `False` sets
  `g` and the bias from that pass's own inputs (`use_data_init`: unit
  variance, zero mean of the pre-activations; otherwise `g = ||v||`) and
  sets the flag. `data_init(images)` clears every flag and makes that pass
  on one batch (dropout off). Run it once, eagerly, in cross-replica context
  on one global batch (inside `strategy.scope()`, not in `strategy.run`):
  then every replica holds the same values. Afterwards the flags are `True`,
  so the traced training step never re-initializes (the init branch is in its
  graph but not taken); the flags are variables of the model, hence
  checkpointed, so a restored model does not re-initialize either. A model
  evaluated before `data_init` initializes itself from the first batch it
  sees, as Glow's ActNorm does; inside `strategy.run` that raises
  `RuntimeError` instead (each replica would initialize from its own shard).

  #### Seeding

  The initial weights are a function of `config.seed` only: after TFP builds
  the network (whose unseeded Keras initializers draw from Python's global
  `random`), every kernel is drawn again from its layer's own initializer
  with a seed derived from `config.seed` (biases start at 0 and `g` at 1).
  No global seed is set. Dropout (training only) is unseeded.

  Args:
    config: `PixelCNNConfig`.
    name: Python `str`. Default value: `"pixelcnn"`.

  Raises:
    TypeError: `config` is not a `PixelCNNConfig`.
  """

  training_input = "uint8"
  loss_part_names = ()

  def __init__(self, config, name="pixelcnn"):
    super().__init__(name=name)
    if not isinstance(config, PixelCNNConfig):
      raise TypeError(
          f"PixelCNN needs a PixelCNNConfig; got {type(config).__name__}.")
    self._config = config
    self._dtype = tf.as_dtype(config.dtype)
    self._high = 2 ** config.n_bits - 1
    with self.name_scope:
      self.distribution = tfd.PixelCNN(
          image_shape=tuple(config.image_shape),
          num_resnet=config.num_resnet,
          num_hierarchies=config.num_hierarchies,
          num_filters=config.num_filters,
          num_logistic_mix=config.num_logistic_mix,
          receptive_field_dims=tuple(config.receptive_field),
          dropout_p=config.dropout_p,
          resnet_activation=config.activation,
          use_weight_norm=config.use_weight_norm,
          use_data_init=config.use_data_init,
          high=self._high,
          low=0,
          dtype=self._dtype)
    kernels = _kernels(self.distribution.network)
    _draw_kernels(kernels, config.seed)
    _mask_kernels(kernels)

  # -- The density_model interface ---------------------------------------------

  @property
  def config(self):
    return self._config

  @property
  def num_dims(self):
    """`D = H * W * C`."""
    return self._config.num_dims

  @property
  def weight_norm_layers(self):
    """The network's `WeightNorm` layers (none without `use_weight_norm`)."""
    return [layer for layer in self.distribution.network._network.layers  # pylint: disable=protected-access
            if isinstance(layer, weight_norm.WeightNorm)]

  @property
  def is_initialized(self):
    """Python `bool`: every weight-norm layer is initialized (`True` if none).

    Read eagerly (`tf.init_scope`), so it also answers while a function is
    being traced.
    """
    with tf.init_scope():
      return all(bool(layer.initialized.numpy())
                 for layer in self.weight_norm_layers)

  def loss_terms(self, images):
    """`density_model.LossTerms` of a training batch of uint8 images `[..., H, W, C]`.

    bits/dim `-log P(k) / (D log 2)` per example (`[...]`), the exact
    likelihood with dropout on; no parts.
    """
    log_prob = self._log_prob(images, True, "PixelCNN.loss_terms")
    return density_model.LossTerms(bits_per_dim=self._bits(log_prob),
                                   parts={})

  def discrete_log_prob(self, images):
    """`density_model.Estimate` of log P(k) (nats) of uint8 images `[..., H, W, C]`.

    Exact (`stderr=None`), dropout off: `log_prob` is `[...]`.
    """
    return density_model.Estimate(
        self._log_prob(images, False, "PixelCNN.discrete_log_prob"))

  def bits_per_dim(self, images):
    """`-log P(k) / (D log 2)` of uint8 images `[..., H, W, C]` -> `[...]` (dropout off)."""
    return self._bits(self._log_prob(images, False, "PixelCNN.bits_per_dim"))

  def per_pixel_log_prob(self, images):
    """`log P(k_i | k_<i)` of each pixel (its channels together), nats `[..., H, W]`.

    The terms of `P(k)`'s factorization (module docstring), dropout off:
    they sum to `discrete_log_prob(images).log_prob`. TFP's
    `PixelCNN.log_prob` computes them and returns only their sum; this is
    its computation (the network, the channels' linear dependence, the
    mixture of discretized logistics) without the sum.
    """
    images = self._check_images(images, "PixelCNN.per_pixel_log_prob")
    batch_shape = tf.shape(images)[:-3]
    h, w, c = self._config.image_shape
    bins = tf.reshape(self._bins(images), [-1, h, w, c])
    scaled = 2. * bins / self._high - 1.    # TFP's network input, low = 0
    params = self.distribution.network(scaled, training=False)
    if c == 1:
      component_logits, locs, scales = params
    else:
      component_logits, locs, scales, coeffs = params
      loc_tensors = tf.split(locs, c, axis=-1)
      coef_tensors = tf.split(coeffs, c * (c - 1) // 2, axis=-1)
      channels = tf.split(scaled, c, axis=-1)
      count = 0
      for i in range(c):
        channels[i] = channels[i][..., tf.newaxis, :]
        for j in range(i):
          loc_tensors[i] += channels[j] * coef_tensors[count]
          count += 1
      locs = tf.concat(loc_tensors, axis=-1)
    mixture = self.distribution._make_mixture_dist(  # pylint: disable=protected-access
        component_logits, locs, scales)
    per_pixel = mixture.distribution.log_prob(bins)   # [B, H, W]
    return tf.reshape(per_pixel, tf.concat([batch_shape, [h, w]], axis=0))

  def summary_statistics(self, images):
    """Per-example statistics of uint8 images `[..., H, W, C]` besides log P.

    The "statistics" capability (`density_model`), for DoSE: over the `H W`
    per-pixel negative log-likelihoods `-per_pixel_log_prob(images)` (nats)
    of each image, their standard deviation `pixel_nll_std` and their 10%,
    50% and 90% quantiles `pixel_nll_q10`, `pixel_nll_q50`, `pixel_nll_q90`
    (linear interpolation), each `[...]`. Their mean is `-log P / (H W)`,
    already `discrete_log_prob`, so it is not repeated.
    """
    nll = -self.per_pixel_log_prob(images)
    h, w, _ = self._config.image_shape
    flat = tf.reshape(nll, tf.concat([tf.shape(nll)[:-2], [h * w]], axis=0))
    quantiles = tfp.stats.percentile(flat, [10., 50., 90.], axis=-1,
                                     interpolation="linear")
    return {"pixel_nll_std": tf.math.reduce_std(flat, axis=-1),
            "pixel_nll_q10": quantiles[0], "pixel_nll_q50": quantiles[1],
            "pixel_nll_q90": quantiles[2]}

  def data_init(self, images):
    """(Re-)runs the weight norm's data-dependent init on uint8 images `[B, H, W, C]`.

    Clears every layer's `initialized` flag and evaluates the batch (dropout
    off), which initializes each layer from its inputs in that pass; returns
    the batch's bits/dim after the init, `[B]`. Without `use_data_init` the
    pass sets `g = ||v||`, without `use_weight_norm` it only evaluates. Call
    once, in cross-replica context, with one global batch (see the class
    docstring).

    Raises:
      RuntimeError: called in a replica context (inside `strategy.run`).
    """
    if _in_replica_context():
      raise RuntimeError(
          "PixelCNN.data_init was called inside strategy.run: each replica "
          "would initialize the weight norm from its own shard. Call it once, "
          "eagerly, in cross-replica context (inside strategy.scope()) with "
          "one global batch.")
    images = self._check_images(images, "PixelCNN.data_init")
    for layer in self.weight_norm_layers:
      layer.initialized.assign(False)
    return self._bits(self._log_prob_of_bins(self._bins(images), False))

  def sample(self, num_samples, seed=None):
    """`num_samples` images `[n, H, W, C]` in [-0.5, 0.5), drawn exactly from P.

    Pixels are drawn one at a time in raster order, one network pass each
    (`H * W` passes, dropout off: 1024 for 32x32 images, slow on CPU): a component `m ~ Categorical(pi)`, then
    each channel `k_c = clip(round(y), 0, n_bins - 1)` with
    `y ~ Logistic(mu_mc(k_<c), s_mc)` in pixel units, the earlier channels
    and pixels entering as the drawn bins (as `log_prob` conditions on them).
    Each pixel is returned as its bin centre `(k + 1/2) / 2**n_bits - 1/2`,
    so `preprocessing.to_uint8(x, n_bits)` gives back `k`'s 8-bit pixels.

    Args:
      num_samples: Python `int >= 0`.
      seed: stateless seed, an `int` or `[2]` ints. Default value: `None`,
        a fresh one.

    Raises:
      RuntimeError: the weight norm is not initialized yet (`data_init`).
    """
    num_samples = density_model.sample_count(num_samples, "PixelCNN.sample")
    if not self.is_initialized:
      raise RuntimeError(
          "PixelCNN.sample before the weight norm is initialized: call "
          "model.data_init(images) (or restore a checkpoint) first.")
    shape = [num_samples, *self._config.image_shape]
    if num_samples == 0:
      return tf.zeros(shape, self._dtype)
    bins = self._sample_bins(num_samples, density_model.stateless_seed(seed, "PixelCNN.sample"))
    return (tf.cast(bins, self._dtype) + 0.5) / (self._high + 1) - 0.5

  # -- Internals ---------------------------------------------------------------

  def _check_images(self, images, where):
    """uint8 `[..., H, W, C]` as a `Tensor`; `TypeError` / `ValueError` otherwise."""
    return model_inputs.discrete_uint8_images(
        images, self._config, where,
        "the PixelCNN's training_input; it models the pixels exactly, without "
        "dequantization")

  def _bins(self, images):
    """uint8 images -> their bins `k` as floats of the model's dtype."""
    return tf.cast(preprocessing.to_bins(images, self._config.n_bits),
                   self._dtype)

  def _log_prob(self, images, training, where):
    images = self._check_images(images, where)
    if _in_replica_context() and not self.is_initialized:
      raise RuntimeError(
          f"{where} inside strategy.run before the weight norm is "
          "initialized: each replica would initialize it from its own shard. "
          "Call model.data_init(images) once in cross-replica context (inside "
          "strategy.scope(), eagerly, one global batch) before the first step.")
    return self._log_prob_of_bins(self._bins(images), training)

  def _log_prob_of_bins(self, bins, training):
    """log P(k) (nats) `[...]` of bins `k` `[..., H, W, C]`."""
    return self.distribution.log_prob(bins, training=training)

  def _bits(self, log_prob):
    return -log_prob / (self.num_dims * math.log(2.))

  @tf.function
  def _sample_bins(self, num_samples, seed):
    """int32 bins `[n, H, W, C]` drawn pixel by pixel (see `sample`)."""
    h, w, c = self._config.image_shape
    high = tf.constant(self._high, self._dtype)
    # The network's input: the drawn bins rescaled to [-1, 1]; the pixels not
    # drawn yet are 0 (the masks hide them).
    scaled = tf.zeros([num_samples, h, w, c], self._dtype)
    for index in tf.range(h * w):
      row, col = index // w, index % w
      params = self.distribution.network(scaled, training=False)
      params = [p[:, row, col] for p in params]   # [n, K], [n, K, C], ...
      seeds = tf.random.experimental.stateless_split(
          tf.random.experimental.stateless_fold_in(seed, index), c + 1)
      component = tf.random.stateless_categorical(
          params[0], 1, seed=seeds[0], dtype=tf.int32)[:, 0]       # [n]
      locs, scales = (tf.gather(p, component, axis=1, batch_dims=1)
                      for p in params[1:3])                       # [n, C]
      coeffs = (tf.gather(params[3], component, axis=1, batch_dims=1)
                if c > 1 else None)                   # [n, C (C - 1) / 2]
      channels = []
      for channel in range(c):
        loc = locs[:, channel]
        for j, previous in enumerate(channels):
          loc += previous * coeffs[:, channel * (channel - 1) // 2 + j]
        k = _discretized_logistic_sample(
            0.5 * high * (loc + 1.), 0.5 * high * scales[:, channel], high,
            seeds[channel + 1])
        channels.append(2. * k / high - 1.)
      pixel = tf.one_hot(index, h * w, dtype=self._dtype)
      pixel = tf.reshape(pixel, [1, h, w, 1])
      scaled = scaled * (1. - pixel) + (
          tf.stack(channels, axis=-1)[:, tf.newaxis, tf.newaxis, :] * pixel)
    return tf.cast(tf.round((scaled + 1.) * high / 2.), tf.int32)


def _in_replica_context():
  """`True` inside `strategy.run` of a (non-default) `tf.distribute` strategy."""
  return (tf.distribute.has_strategy()
          and not tf.distribute.in_cross_replica_context())


def _kernels(network):
  """`(layer, kernel variable, wrapper)` of each layer of `network` with a kernel.

  In build order. For a `WeightNorm` layer: its inner layer (whose
  initializer and mask apply), its direction `v` and the wrapper itself;
  `wrapper` is `None` for an unwrapped layer.
  """
  kernels = []
  for layer in network._network.layers:  # pylint: disable=protected-access
    if isinstance(layer, weight_norm.WeightNorm):
      kernels.append((layer.layer, layer.v, layer))
    elif hasattr(layer, "kernel_initializer"):
      kernels.append((layer, layer.kernel, None))
  return kernels


def _draw_kernels(kernels, seed):
  """Redraws each kernel from its layer's own initializer, seeded from `seed`."""
  seeds = np.random.SeedSequence(seed % 2 ** 64).generate_state(
      len(kernels), dtype=np.uint32) % 2 ** 31
  for (layer, kernel, _), kernel_seed in zip(kernels, seeds):
    initializer = layer.kernel_initializer
    seeded = type(initializer).from_config(
        dict(initializer.get_config(), seed=int(kernel_seed)))
    kernel.assign(seeded(kernel.shape, dtype=kernel.dtype))


def _mask_kernels(kernels):
  """Makes every masked convolution causal whatever is written to its kernel.

  TFP's masks are the layers' Keras `kernel_constraint`s (`kernel * mask`):
  the masked entries are zeroed now, and the layer's `call` convolves with
  `constraint(kernel)`, so those entries get no gradient and any value an
  optimizer writes there is ignored. `WeightNorm.call` is a `tf.function`
  that TFP traced while building the network (with the unmasked layer) and
  would reuse for any batch size, so each wrapper gets a fresh, untraced
  `tf.function` of the same Python code.
  """
  for layer, kernel, wrapper in kernels:
    constraint = layer.kernel_constraint
    if constraint is None:
      continue
    kernel.assign(constraint(kernel))
    _set_untracked(layer, "call", _masked_call(layer, constraint))
    if wrapper is not None:
      _set_untracked(wrapper, "call", tf.function(
          weight_norm.WeightNorm.call.python_function.__get__(wrapper),
          # One trace for every batch size, as TFP's first (symbolic) trace.
          input_signature=[tf.TensorSpec(wrapper.input_spec.shape,
                                         wrapper.dtype)]))


def _set_untracked(layer, name, value):
  """`layer.<name> = value`, past Keras' and tf.Module's attribute tracking."""
  object.__setattr__(layer, name, value)


def _masked_call(layer, constraint):
  """`layer.call` with `layer.kernel` replaced by `constraint(layer.kernel)`."""
  unmasked_call = layer.call

  @tf.autograph.experimental.do_not_convert
  def call(inputs, *args, **kwargs):
    kernel = layer.kernel   # a variable, or the weight-normed `Tensor`
    # The swap is undone at once, so Keras' tracking need not see it.
    _set_untracked(layer, "kernel", constraint(kernel))
    try:
      return unmasked_call(inputs, *args, **kwargs)
    finally:
      _set_untracked(layer, "kernel", kernel)

  return call


def _discretized_logistic_sample(loc, scale, high, seed):
  """Bins `clip(round(loc + scale * logit(u)), 0, high)`, `u ~ U(0, 1)`, of `loc`'s shape.

  Exactly the `tfd.QuantizedDistribution` of TFP's `log_prob`: bin `k`
  holds the logistic's mass in `(k - 1/2, k + 1/2]`, the edges the tails.
  """
  tiny = tf.constant(1e-6 if loc.dtype == tf.float32 else 1e-12, loc.dtype)
  u = tf.random.stateless_uniform(tf.shape(loc), seed=seed, minval=tiny,
                                  maxval=1. - tiny, dtype=loc.dtype)
  y = loc + scale * (tf.math.log(u) - tf.math.log1p(-u))
  return tf.clip_by_value(tf.round(y), 0., high)
