"""The Glow model: a density over images built from `bijectors.MultiScaleFlow`."""

import operator
from typing import Dict, NamedTuple

import numpy as np
import tensorflow.compat.v2 as tf
import tensorflow_probability as tfp

import bijectors
from glow_ood import configs as config_lib
from glow_ood import preprocessing

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["Glow", "Decomposition"]

# Dequantized images lie in [-0.5, 0.5]; raw pixels 0..255 (as floats) almost
# always reach beyond +-2, and no dequantized image or evaluation point near
# the data does. See "Input checks" in the `Glow` docstring.
_DATA_BOUND = 0.5
_FAR_OUTSIDE_BOUND = 2.0


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


class Glow(tf.Module):
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

  Mistakes are refused with one line naming the fix, at no cost to a traced
  training step:

  * Free (dtype and static shape, at trace time): `bits_per_dim` and
    `preprocess` take `uint8` images only (`TypeError`; uint16, int and float
    arrays get the conversion to use). `log_prob`, `decompose`, `encode`,
    `encode_with_log_det` and `initialize` take floats: integer inputs and
    float `Tensor`s of the other float dtype raise `TypeError` (numpy and
    Python floats are cast to the model's dtype). Every image input must
    end in the model's static `image_shape` `[H, W, C]` (`ValueError`, with
    a hint for a missing channel axis, channels-first images, another size
    or channel count); `decode` takes flat `[..., D]` latents.
  * Cheap (values, only when they are known without running a graph: eager
    inputs, or constants of a traced function): float inputs with a value
    outside `[-2, 2]` raise `ValueError`. Raw 0..255 pixels almost always
    do; dequantized images (`[-0.5, 0.5]`) never do, and neither do the
    nearby points analyses evaluate the density at. This costs one
    min / max reduction per eager call; inside `tf.function` (the training
    step, `likelihood_terms`) inputs are not read.
  * With `validate_args=True`, the float inputs must lie in `[-0.5, 0.5]`:
    checked on known values as above (`ValueError`), otherwise asserted in
    the graph with `tf.debugging` ops (`InvalidArgumentError` at run time;
    skipped under XLA). The flow's bijectors get `validate_args` as well.

  The density itself is defined on all of `R^D`: to evaluate it far outside
  the data cube, call `distribution.log_prob` or `flow` directly.

  Args:
    config: `GlowConfig`.
    validate_args: Python `bool`, see "Input checks". Default value: `False`.
    name: Python `str`. Default value: `"glow"`.
  """

  def __init__(self, config, validate_args=False, name="glow"):
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
          validate_args=self._validate_args)
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

  # -- Input checks (see the class docstring) ---------------------------------

  def _check_images(self, x, where, name):
    """`ValueError` unless `x`'s static shape ends in the model's `[H, W, C]`."""
    expected = tuple(self._config.image_shape)
    shape = x.shape
    if shape.rank is not None and shape.rank >= 3 and (
        tuple(shape[-3:].as_list()) == expected):
      return
    raise ValueError(
        f"{where} takes images [..., {expected[0]}, {expected[1]}, "
        f"{expected[2]}] (the model's image_shape) but got {name} of shape "
        f"{_format_shape(shape)}; {_shape_hint(shape, expected, name)}.")

  def _float_input(self, x, where, name="x"):
    """`x` as a `Tensor` of the model's dtype; `TypeError` for other dtypes."""
    dtype = _dtype_of(x)
    if dtype is not None and not dtype.is_floating:
      raise TypeError(
          f"{where} takes dequantized float images in [-0.5, 0.5] but got "
          f"{dtype.name} {name}; dequantize uint8 images with "
          "model.preprocess(images) first (or use model.bits_per_dim(images) "
          "for bits/dim).")
    if tf.is_tensor(x) and dtype != self._dtype:
      raise TypeError(
          f"{where}: {name} is a {dtype.name} Tensor but the model is "
          f"{self._dtype.name}; cast it with tf.cast({name}, "
          f"tf.{self._dtype.name}) or build the model with "
          f"GlowConfig(dtype={dtype.name!r}).")
    return tf.convert_to_tensor(x, dtype=self._dtype)

  def _checked_range(self, x, where):
    """`x`, refused if its values are known and far outside the data cube."""
    bound = _DATA_BOUND if self._validate_args else _FAR_OUTSIDE_BOUND
    known = _known_min_max(x)
    if known is not None:
      low, high = known
      if low < -bound or high > bound:
        raise ValueError(
            f"{where} takes dequantized images in [-0.5, 0.5] but got values "
            f"in [{low:.4g}, {high:.4g}]; {_range_hint(low, high)}.")
      return x
    if not self._validate_args:
      return x
    message = (f"{where} takes dequantized images in [-0.5, 0.5]; x has "
               "values outside it (raw pixels? use model.preprocess).")
    assertions = [
        tf.debugging.assert_greater_equal(
            x, tf.constant(-_DATA_BOUND, x.dtype), message=message),
        tf.debugging.assert_less_equal(
            x, tf.constant(_DATA_BOUND, x.dtype), message=message)]
    with tf.control_dependencies(assertions):
      return tf.identity(x)

  def _as_input(self, x, method):
    """Float images checked as the class docstring says (dtype, shape, range)."""
    where = f"Glow.{method}"
    x = self._float_input(x, where)
    self._check_images(x, where, "x")
    return self._checked_range(x, where)

  def _as_images(self, images, method):
    """uint8 images of the model's shape, as a `Tensor`."""
    where = f"Glow.{method}"
    images = preprocessing.as_uint8_images(images, where)
    self._check_images(images, where, "images")
    return images

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
    return self._log_prob(self._as_input(x, "log_prob"))

  def encode_with_log_det(self, x):
    """`(z, log|det dz/dx|)` including the priors' log-dets: `[..., D]`, `[...]`."""
    x = self._as_input(x, "encode_with_log_det")
    z = self.flow.forward(x)
    return z, self.flow.forward_log_det_jacobian(x, event_ndims=3)

  def decompose(self, x):
    """Per-example `Decomposition` of log p(x) for preprocessed images `x`.

    Checks `x` as `log_prob` does; inside `tf.function` (the training step)
    only its dtype and static shape, unless `validate_args`.
    """
    x = self._as_input(x, "decompose")
    _, terms = self.flow.forward_with_terms(x)
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
                          for kind, v in terms["log_det"].items()})

  def preprocess(self, images, dequantization="center", seed=None):
    """uint8 images -> model inputs in [-0.5, 0.5) (see `preprocessing.dequantize`).

    Any other dtype than uint8 raises `TypeError` naming the conversion.
    """
    images = self._as_images(images, "preprocess")
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
    images = self._as_images(images, "bits_per_dim")
    x = preprocessing.dequantize(images, self._config.n_bits, dequantization,
                                 seed=seed, dtype=self._dtype)
    return preprocessing.bits_per_dim(self._log_prob(x), self.num_dims,
                                      self._config.n_bits)

  def encode(self, x):
    """Preprocessed images `[..., H, W, C]` -> standardized latents `[..., D]`."""
    return self.flow.forward(self._as_input(x, "encode"))

  def decode(self, z):
    """Latents `[..., D]` -> preprocessed images `[..., H, W, C]`."""
    z = self._float_input(z, "Glow.decode", "z")
    size = self.flow.latent_size
    if z.shape.rank is not None and (
        z.shape.rank == 0 or z.shape[-1] not in (None, size)):
      if tuple(z.shape[-3:].as_list()) == tuple(self._config.image_shape):
        hint = "these look like images: encode them with model.encode(x)"
      else:
        hint = "pass latents from model.encode(x) or draw them as model.sample does"
      raise ValueError(
          f"Glow.decode takes flat latents [..., {size}] (D = H*W*C) but got "
          f"z of shape {_format_shape(z.shape)}; {hint}.")
    return self.flow.inverse(z)

  def sample(self, num_samples, temperature=1.0, seed=None):
    """`num_samples` images in [-0.5, 0.5) space, latents drawn from N(0, T^2 I).

    Use `preprocessing.to_uint8` to get displayable images.
    """
    try:
      num_samples = operator.index(num_samples)
    except TypeError:
      raise TypeError(
          f"Glow.sample: num_samples must be an integer; got {num_samples!r}."
      ) from None
    if num_samples < 0:
      raise ValueError(
          f"Glow.sample: num_samples must be >= 0; got {num_samples}.")
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
    Returns log p(x) of that batch after initialization.
    """
    x = self._as_input(x, "initialize")
    for layer in self.actnorm_layers():
      layer.initialized.assign(False)
    return self._log_prob(x)

  @property
  def is_initialized(self):
    return all(bool(layer.initialized.numpy())
               for layer in self.actnorm_layers())


def _format_shape(shape):
  shape = tf.TensorShape(shape)
  if shape.rank is None:
    return "<unknown rank>"
  return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _shape_hint(shape, expected, name):
  """How to fix images of static `shape` for a model of `expected` `(H, W, C)`."""
  h, w, c = expected
  if shape.rank is None:
    return ("give tf.function an input_signature with the image dimensions, "
            f"e.g. tf.TensorSpec([None, {h}, {w}, {c}])")
  dims = shape.as_list()
  if shape.rank >= 3 and None in dims[-3:] and shape[-3:].is_compatible_with(
      expected):
    return ("give tf.function an input_signature with the image dimensions, "
            f"e.g. tf.TensorSpec([None, {h}, {w}, {c}])")
  if shape.rank >= 4 and tuple(dims[-3:]) == (c, h, w):
    return (f"these look channels-first [B, C, H, W]; transpose them with "
            f"tf.transpose({name}, [0, 2, 3, 1])")
  if shape.rank >= 2 and tuple(dims[-2:]) == (h, w):
    if c == 1:
      return f"the channel axis is missing: add it with {name}[..., tf.newaxis]"
    return f"the channel axis is missing (the model takes {c} channels)"
  if shape.rank >= 3:
    got = dims[-3:]
    if got[2] == c:
      return (f"resize, pad or crop them to {h}x{w} (e.g. "
              f"glow_ood.data.conform_images) or build the model with "
              f"GlowConfig(image_shape=({got[0]}, {got[1]}, {c}))")
    if got[:2] == [h, w]:
      return (f"the model takes {c} channel{'' if c == 1 else 's'}: convert "
              "the images (e.g. "
              f"glow_ood.data.conform_images) or build the model with "
              f"GlowConfig(image_shape=({h}, {w}, {got[2]}))")
  return (f"reshape them to [..., {h}, {w}, {c}] (a single image may drop the "
          "batch axis) or build the model for their shape")


def _range_hint(low, high):
  if low >= 0. and high > _FAR_OUTSIDE_BOUND:
    return ("they look like raw pixels 0..255: pass model.preprocess(images) "
            "of the uint8 images, or use model.bits_per_dim(images)")
  if low >= 0. and high <= 1.:
    return "they look like images scaled to [0, 1]: subtract 0.5"
  if low >= -1. and high <= 1.:
    return "they look like images scaled to [-1, 1]: divide them by 2"
  return ("dequantize uint8 images with model.preprocess(images); to evaluate "
          "the density far from the data use model.distribution.log_prob")


def _dtype_of(x):
  """The `tf.DType` of `x` (a `Tensor`, variable, array, list or number), or `None`."""
  dtype = getattr(x, "dtype", None)
  if dtype is None:
    try:
      dtype = np.asarray(x).dtype
    except (TypeError, ValueError):
      return None
  try:
    return tf.as_dtype(dtype)
  except TypeError:
    return None


def _known_min_max(x):
  """`(min, max)` of `x` as Python floats if its values are known now, else `None`.

  Known: eager tensors (two scalar reductions, copied to the host) and
  constants of a traced function (`tf.get_static_value`); a graph input is
  never read. Empty inputs give `None`.
  """
  if x.shape.num_elements() == 0:
    return None
  if tf.executing_eagerly():
    x = tf.stop_gradient(x)
    return float(tf.reduce_min(x)), float(tf.reduce_max(x))
  value = tf.get_static_value(x)
  if value is None or not np.size(value):
    return None
  return float(np.min(value)), float(np.max(value))
