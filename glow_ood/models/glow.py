"""The Glow model: a density over images built from `bijectors.MultiScaleFlow`."""

from typing import Dict, NamedTuple

import tensorflow.compat.v2 as tf
import tensorflow_probability as tfp

import bijectors
from glow_ood import configs as config_lib
from glow_ood import model_inputs
from glow_ood import preprocessing
from glow_ood.models import density_model

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["Glow", "Decomposition"]


class Decomposition(NamedTuple):
  """log p(x) of each example split into the prior and the volume term (nats).

  `log_prob = log_prob_z + log_det` exactly, where (openai/glow's accounting)
  `log_prob_z` is the density of the latents under the split and top priors
  (learned ones included) and `log_det = log|det dz/dx|` holds only the flow
  bijectors' log-dets. All fields are per example; `B` is the batch shape.

  Attributes:
    log_prob: `[B]`, log p(x) of the preprocessed input (continuous density).
    log_prob_z: `[B]`, log p(z).
    log_prob_z_per_level: `[B, L]`, log p(z_l) of each level's latent.
    log_det: `[B]`, log|det dz/dx|.
    log_det_per_level: `[B, L]`.
    log_det_per_kind: dict `kind -> [B]` for `kind` in
      `bijectors.LOG_DET_KINDS` (`actnorm`, `permutation`, `coupling`, `other`).
  """
  log_prob: tf.Tensor
  log_prob_z: tf.Tensor
  log_prob_z_per_level: tf.Tensor
  log_det: tf.Tensor
  log_det_per_level: tf.Tensor
  log_det_per_kind: Dict[str, tf.Tensor]


class Glow(density_model.DensityModel):
  """Glow (Kingma & Dhariwal 2018) as a density over `[..., H, W, C]` images.

  `flow` is a `bijectors.MultiScaleFlow` mapping preprocessed images `x` in
  `[-0.5, 0.5)` to a flat latent `z` (`[..., D]`) that is standard normal under
  the model; `distribution` is the same model as a
  `tfd.TransformedDistribution(N(0, I_D), tfb.Invert(flow))`.

    log p(x) = log N(z; 0, I) + log|det dz/dx|

  with the priors' own log-dets counted in `log p(z)` (see `decompose`). For
  an additive coupling (`coupling_scale="additive"`) the volume term is the
  same for every input.

  Data-dependent initialization: the first `log_prob` (or `initialize(x)`)
  initializes every ActNorm layer from that batch; do this on a large batch
  (openai/glow: 512 images) before training, and in cross-replica context
  under a `tf.distribute` strategy.

  #### Input checks

  Every method checks what it is given with `glow_ood.model_inputs`, which
  says what is checked and what it costs (nothing in a traced training
  step): `bits_per_dim` and `preprocess` take `uint8` images
  (`model_inputs.uint8_images`); `log_prob`, `decompose`, `encode`,
  `encode_with_log_det`, `decompose_and_encode` and `initialize` take
  dequantized float images of the model's dtype
  (`model_inputs.float_images`: `TypeError` for integers
  or the other float dtype, `ValueError` for another image shape or known
  values outside `[-2, 2]`); `decode` takes flat `[..., D]` latents
  (`model_inputs.flat_latents`). With `validate_args=True` float images must
  lie in `[-0.5, 0.5]` (asserted in the graph when their values are not
  known at trace time), and the flow's bijectors get `validate_args` too.

  The density itself is defined on all of `R^D`: to evaluate it far outside
  the data cube, call `distribution.log_prob` or `flow` directly.

  Args:
    config: `GlowConfig`.
    validate_args: Python `bool`, see "Input checks". Default value: `False`.
    coupling_compute_dtype: dtype the coupling networks' convolutions run in
      (mixed precision, e.g. `"bfloat16"`; see `bijectors.build_glow_flow`).
      Default value: `None`, the model's dtype.
    recompute_couplings: Python `bool`, gradient checkpointing of the
      coupling networks. Default value: `False`.
    name: Python `str`. Default value: `"glow"`.
  """

  training_input = "dequantized"
  loss_part_names = ("log_prob_z", "log_det")

  def __init__(self, config, validate_args=False, coupling_compute_dtype=None,
               recompute_couplings=False, name="glow"):
    super().__init__(name=name)
    if not isinstance(config, config_lib.GlowConfig):
      raise TypeError(f"Glow needs a GlowConfig; got {type(config).__name__}.")
    self._config = config
    self._validate_args = bool(validate_args)
    self._dtype = tf.as_dtype(config.dtype)
    with self.name_scope:
      self.flow = bijectors.build_glow_flow(
          config.image_shape, config.num_levels, config.num_steps_per_level,
          hidden_width=config.hidden_width,
          coupling_scale=config.coupling_scale,
          permutation=config.permutation,
          split_prior_type=config.split_prior,
          learn_top=config.learn_top,
          seed=config.seed,
          dtype=self._dtype,
          validate_args=self._validate_args,
          coupling_compute_dtype=coupling_compute_dtype,
          recompute_couplings=recompute_couplings,
          coupling_edge_padding=config.coupling_edge_padding)
    self._base = tfd.Sample(
        tfd.Normal(tf.constant(0., self._dtype), tf.constant(1., self._dtype)),
        sample_shape=[self.flow.latent_size])
    self.distribution = tfd.TransformedDistribution(
        self._base, tfb.Invert(self.flow))

  @property
  def config(self):
    return self._config

  @property
  def validate_args(self):
    return self._validate_args

  @property
  def num_dims(self):
    return self._config.num_dims

  # -- Densities ---------------------------------------------------------------

  def _log_prob(self, x):
    z = self.flow.forward(x)
    return self._base.log_prob(z) + self.flow.forward_log_det_jacobian(
        x, event_ndims=3)

  def log_prob(self, x):
    """log p(x) in nats of preprocessed images `x` (`[..., H, W, C]` in [-0.5, 0.5]) -> `[...]`.

    Raises `TypeError` / `ValueError` for integer inputs, another float
    `Tensor` dtype, another image shape or values far outside [-0.5, 0.5]
    (see "Input checks" in the class docstring).
    """
    return self._log_prob(model_inputs.float_images(
        x, self._config, "Glow.log_prob", self._validate_args))

  def loss_terms(self, x):
    """`density_model.LossTerms` of a training batch of dequantized images `x`.

    bits/dim `-(log p(x) - D log 2**n_bits) / (D log 2)` per example, parts
    `log_prob_z` and `log_det` (nats, `decompose`'s terms).
    """
    terms = self.decompose(x)
    return density_model.LossTerms(
        bits_per_dim=preprocessing.bits_per_dim(
            terms.log_prob, self.num_dims, self._config.n_bits),
        parts={"log_prob_z": terms.log_prob_z, "log_det": terms.log_det})

  def discrete_log_prob(self, images):
    """`density_model.Estimate` of log P(image) (nats) of uint8 images `[..., H, W, C]`.

    The density at the bin centres times the bin volume,
    `log p(x_centre) - D n_bits log 2` (exact up to the density's variation
    within a bin; no standard error).
    """
    images = model_inputs.uint8_images(images, self._config,
                                       "Glow.discrete_log_prob")
    x = preprocessing.dequantize(images, self._config.n_bits, "center",
                                 dtype=self._dtype)
    log_bin_volume = self.num_dims * self._config.n_bits * tf.math.log(
        tf.constant(2., self._dtype))
    return density_model.Estimate(self._log_prob(x) - log_bin_volume)

  def encode_with_log_det(self, x):
    """`(z, log|det dz/dx|)` including the priors' log-dets: `[..., D]`, `[...]`."""
    x = model_inputs.float_images(
        x, self._config, "Glow.encode_with_log_det", self._validate_args)
    z = self.flow.forward(x)
    return z, self.flow.forward_log_det_jacobian(x, event_ndims=3)

  def decompose(self, x):
    """Per-example `Decomposition` of log p(x) for preprocessed images `x`.

    Checks `x` as `log_prob` does; inside `tf.function` (the training step)
    only its dtype and static shape, unless `validate_args`.
    """
    return self._decompose_and_encode(x, "Glow.decompose")[0]

  def decompose_and_encode(self, x):
    """`(decompose(x), encode(x))` from one pass of the flow.

    The latent `z` `[..., D]` is the levels' standardized latents
    `eps_l = (z_l - mu_l) / sigma_l` (each under its split or top prior),
    flattened and concatenated in level order (`flow.split_latent(z)` gives
    them back as `[..., h_l, w_l, c_l]`, sizes `flow.latent_shapes`); under
    the model it is `N(0, I_D)`.
    """
    return self._decompose_and_encode(x, "Glow.decompose_and_encode")

  def _decompose_and_encode(self, x, where):
    x = model_inputs.float_images(x, self._config, where, self._validate_args)
    z, terms = self.flow.forward_with_terms(x)
    std_normal = tfd.Normal(tf.constant(0., self._dtype),
                            tf.constant(1., self._dtype))
    log_prob_z_per_level = tf.stack(
        [tf.reduce_sum(std_normal.log_prob(z_l), axis=[-3, -2, -1])
         for z_l in terms["latents"]], axis=-1) + terms["latent_log_det"]
    log_det_per_level = tf.add_n(list(terms["log_det"].values()))
    log_prob_z = tf.reduce_sum(log_prob_z_per_level, axis=-1)
    log_det = tf.reduce_sum(log_det_per_level, axis=-1)
    return Decomposition(
        log_prob=log_prob_z + log_det,
        log_prob_z=log_prob_z,
        log_prob_z_per_level=log_prob_z_per_level,
        log_det=log_det,
        log_det_per_level=log_det_per_level,
        log_det_per_kind={kind: tf.reduce_sum(v, axis=-1)
                          for kind, v in terms["log_det"].items()}), z

  def preprocess(self, images, dequantization="center", seed=None):
    """uint8 images -> model inputs in [-0.5, 0.5) (see `preprocessing.dequantize`).

    Any other dtype than uint8 raises `TypeError` naming the conversion.
    """
    images = model_inputs.uint8_images(images, self._config, "Glow.preprocess")
    return preprocessing.dequantize(images, self._config.n_bits, dequantization,
                                    seed=seed, dtype=self._dtype)

  def bits_per_dim(self, images, dequantization="center", seed=None):
    """Bits/dim of uint8 images `[..., H, W, C]` -> `[...]`.

    `-(log p(x) - D log 2**n_bits) / (D log 2)`, `x` the dequantized images.
    `dequantization="center"` (default) is deterministic, for evaluation;
    `"uniform"` adds the training noise (an unbiased estimate of the bound).
    Only uint8 images are taken (`TypeError` otherwise, naming the
    conversion: e.g. uint16 data must be reduced to 8 bits first).
    """
    images = model_inputs.uint8_images(images, self._config, "Glow.bits_per_dim")
    x = preprocessing.dequantize(images, self._config.n_bits, dequantization,
                                 seed=seed, dtype=self._dtype)
    return preprocessing.bits_per_dim(self._log_prob(x), self.num_dims,
                                      self._config.n_bits)

  def encode(self, x):
    """Preprocessed images `[..., H, W, C]` -> standardized latents `[..., D]`."""
    return self.flow.forward(model_inputs.float_images(
        x, self._config, "Glow.encode", self._validate_args))

  def decode(self, z):
    """Latents `[..., D]` -> preprocessed images `[..., H, W, C]`."""
    z = model_inputs.flat_latents(z, self._config, "Glow.decode")
    return self.flow.inverse(z)

  def sample(self, num_samples, temperature=1.0, seed=None):
    """`num_samples` images in [-0.5, 0.5) space, latents drawn from N(0, T^2 I).

    Use `preprocessing.to_uint8` to get displayable images.
    """
    num_samples = density_model.sample_count(num_samples, "Glow.sample")
    shape = [num_samples, self.flow.latent_size]
    if seed is None:
      eps = tf.random.normal(shape, dtype=self._dtype)
    else:
      eps = tf.random.stateless_normal(shape, seed=seed, dtype=self._dtype)
    return self.flow.inverse(eps * tf.cast(temperature, self._dtype))

  def actnorm_layers(self):
    """Every `ActNorm` of the model (flow steps and coupling networks)."""
    return [m for m in self.flow.submodules
            if isinstance(m, bijectors.ActNorm)]

  def initialize(self, x):
    """(Re-)runs the data-dependent initialization of every ActNorm on `x`.

    Call in cross-replica context with one global batch of preprocessed images.
    Returns log p(x) of that batch after initialization (nats).
    """
    x = model_inputs.float_images(
        x, self._config, "Glow.initialize", self._validate_args)
    for layer in self.actnorm_layers():
      layer.initialized.assign(False)
    return self._log_prob(x)

  def data_init(self, x):
    """`initialize(x)`, returning the batch's bits/dim `[B]` (`density_model`)."""
    return preprocessing.bits_per_dim(self.initialize(x), self.num_dims,
                                      self._config.n_bits)

  @property
  def is_initialized(self):
    return all(bool(layer.initialized.numpy())
               for layer in self.actnorm_layers())

