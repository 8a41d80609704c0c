"""Multi-scale flow (RealNVP / Glow): levels of bijectors with factored-out latents."""

import tensorflow.compat.v2 as tf

from bijectors import _checks
from bijectors import _shapes
from bijectors import actnorm
from bijectors import affine_coupling
from bijectors import channel_permute
from bijectors import fused_bijector
from bijectors import invertible_conv1x1

__all__ = ["MultiScaleFlow", "LOG_DET_KINDS", "log_det_kind"]

# How the volume term is broken down. `other` holds any bijector that is none
# of the three (e.g. `Squeeze`, whose log-det is zero, or a user's bijector).
LOG_DET_KINDS = ("actnorm", "permutation", "coupling", "other")


def log_det_kind(bijector):
  """The `LOG_DET_KINDS` entry a bijector's log-det is reported under."""
  if isinstance(bijector, actnorm.ActNorm):
    return "actnorm"
  if isinstance(bijector, (invertible_conv1x1.InvertibleConv1x1,
                           channel_permute.ChannelPermute)):
    return "permutation"
  if isinstance(bijector, affine_coupling.AffineCoupling):
    return "coupling"
  return "other"


class MultiScaleFlow(fused_bijector.FusedBijector):
  """Image `[..., H, W, C]` <-> flat latent `[..., D]` through `L` levels.

  Forward is the normalizing direction (data -> latent); wrap it in `tfb.Invert`
  to use it as the bijector of a `tfd.TransformedDistribution` over images.
  Level `l` applies its bijectors in order (for Glow: squeeze, then K steps of
  ActNorm -> permutation -> coupling); then, except at the last level, the
  channels split into a kept part, which goes on to level `l + 1`, and a
  factored-out part, which is the level's latent `z_l` (openai/glow `split2d`):

      x -> [level 1] -> h_1 -> SplitPrior_1 -> (kept_1 -> [level 2] -> ...)
                                            \\-> z_1
      ... -> [level L] -> h_L -> top prior -> z_L

  A `SplitPrior` standardizes `z_l` under openai/glow's learned conditional
  Gaussian given the kept part; with `None` the prior is a fixed standard
  normal (and the channels split in half). The optional top prior (a
  `ChannelAffine`, openai/glow's `learn_top`) standardizes `z_L`. The latent is
  `z = concat(flatten(z_1), ..., flatten(z_L))` and is standard normal under
  the model.

  Latent accounting follows openai/glow: with `eps` the standardized latents,

    log p(x) = log N(z; 0, I) + fldj(x)
             = [log N(z; 0, I) + sum_l fldj(prior_l)]  +  sum_b fldj(b)
             =            log p(z)                     +  log|det dz/dx|

  The split and top priors' log-dets belong to `log p(z)`, the density of the
  latents under the learned priors; the volume term `log|det dz/dx|` holds
  only the level bijectors' log-dets. So with additive couplings the volume
  term (ActNorm and 1x1-convolution log-dets) is the same for every input.
  `forward_with_terms` returns this decomposition per example, per level.

  Shapes are checked where they are known: at construction, every layer (and
  prior) that declares `num_channels` must be built for the channels that
  reach it; when a call is traced, `x` must have the static event shape
  `image_shape` and `z` the size `D` (`ValueError`, naming the fix). Under
  `validate_args`, dimensions unknown at trace time are asserted at run time;
  otherwise an input with unknown event dimensions is reshaped to
  `image_shape` unchecked.

  Args:
    image_shape: `[H, W, C]`, static.
    levels: sequence of `L` sequences of bijectors on NHWC events (event ndims
      3), applied in order by `forward`.
    split_priors: sequence of `L - 1` entries, each a `SplitPrior` or `None`
      (standard normal, half the channels factored out). Default value:
      `None`, all standard normal.
    top_prior: `ChannelAffine` or `None`. Default value: `None`.
    validate_args: Python `bool`. Default value: `False`.
    name: Python `str`. Default value: `"multi_scale_flow"`.
  """

  def __init__(self, image_shape, levels, split_priors=None, top_prior=None,
               validate_args=False, name="multi_scale_flow"):
    parameters = dict(locals())
    levels = [list(level) for level in levels]
    if not levels:
      raise ValueError("MultiScaleFlow needs at least one level.")
    if split_priors is None:
      split_priors = [None] * (len(levels) - 1)
    split_priors = list(split_priors)
    if len(split_priors) != len(levels) - 1:
      raise ValueError(
          f"{len(levels)} levels need {len(levels) - 1} split priors (one per "
          f"split); got {len(split_priors)}.")
    image_shape = tf.TensorShape(image_shape)
    if image_shape.rank != 3 or not image_shape.is_fully_defined():
      raise ValueError(f"image_shape must be a static [H, W, C]; got {image_shape}.")
    with tf.name_scope(name) as name:
      self._image_shape = image_shape
      self._levels = levels
      self._split_priors = split_priors
      self._top_prior = top_prior
      self._num_kept, self._latent_shapes = self._plan_shapes()
      super().__init__(
          forward_min_event_ndims=3,
          inverse_min_event_ndims=1,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  def _plan_shapes(self):
    """Static kept-channel counts and latent shapes, level by level."""
    shape = self._image_shape
    num_kept, latent_shapes = [], []
    for index, level in enumerate(self._levels):
      for position, bijector in enumerate(level):
        _check_built_channels(
            bijector, shape, f"level {index + 1}, bijector {position + 1}")
        shape = tf.TensorShape(bijector.forward_event_shape(shape))
      height, width, channels = shape
      if index == len(self._levels) - 1:
        if self._top_prior is not None:
          _check_built_channels(self._top_prior, shape, "the top prior")
        latent_shapes.append(shape)
        break
      prior = self._split_priors[index]
      if prior is not None:
        _check_built_channels(prior, shape,
                              f"the split prior of level {index + 1}")
      kept = channels // 2 if prior is None else prior.num_kept
      if kept < 1 or kept >= channels:
        raise ValueError(
            f"Level {index + 1} ends with {channels} channels; it cannot "
            f"keep {kept} and factor out the rest. Use fewer levels or a "
            "larger image.")
      num_kept.append(kept)
      latent_shapes.append(tf.TensorShape([height, width, channels - kept]))
      shape = tf.TensorShape([height, width, kept])
    return num_kept, latent_shapes

  @property
  def image_shape(self):
    return self._image_shape

  @property
  def levels(self):
    return self._levels

  @property
  def split_priors(self):
    return self._split_priors

  @property
  def top_prior(self):
    return self._top_prior

  @property
  def latent_shapes(self):
    """Per-level latent shapes `[h_l, w_l, c_l]` (`TensorShape`s)."""
    return list(self._latent_shapes)

  @property
  def latent_size(self):
    """`D`, the size of the flat latent (equals `H * W * C`)."""
    return sum(s.num_elements() for s in self._latent_shapes)

  def forward_with_terms(self, x):
    """Maps images to latents and returns the log-likelihood terms per example.

    Args:
      x: `[..., H, W, C]` images (preprocessed, e.g. in [-0.5, 0.5)).

    Returns:
      z: `[..., D]` flat latent.
      terms: dict with
        `"latents"`: list of `L` standardized latents `[..., h_l, w_l, c_l]`;
        `"latent_log_det"`: `[..., L]`, the split / top priors' log-dets,
          i.e. `log p(z_l) = log N(latents[l]; 0, I) + latent_log_det[..., l]`;
        `"log_det"`: dict `kind -> [..., L]` for `kind` in `LOG_DET_KINDS`,
          the volume term per level and layer type.
      `fldj(x) = sum(latent_log_det) + sum_kind sum(log_det[kind])`.
    """
    x = self._checked_images(tf.convert_to_tensor(x, dtype_hint=tf.float32))
    # Static event shape from here on (checked against `image_shape` above).
    h = tf.reshape(x, [-1] + self._image_shape.as_list())
    batch_shape = tf.shape(x)[:-3]
    zeros = tf.zeros(tf.shape(h)[:1], h.dtype)
    latents, latent_log_det = [], []
    log_det = {kind: [] for kind in LOG_DET_KINDS}
    last = len(self._levels) - 1
    for index, level in enumerate(self._levels):
      level_log_det = {kind: zeros for kind in LOG_DET_KINDS}
      for bijector in level:
        h, ldj = _forward_and_ldj(bijector, h)
        kind = log_det_kind(bijector)
        level_log_det[kind] = level_log_det[kind] + ldj
      prior = self._top_prior if index == last else self._split_priors[index]
      prior_log_det = zeros
      if prior is not None:
        h, ldj = _forward_and_ldj(prior, h)
        prior_log_det = prior_log_det + ldj
      if index == last:
        latents.append(h)
      else:
        h, latent = _shapes.split_channels(h, self._num_kept[index])
        latents.append(latent)
      latent_log_det.append(prior_log_det)
      for kind in LOG_DET_KINDS:
        log_det[kind].append(level_log_det[kind])

    def per_example(values):  # list of L [N] -> batch_shape + [L]
      return tf.reshape(tf.stack(values, axis=-1),
                        tf.concat([batch_shape, [len(values)]], axis=0))

    flat = [tf.reshape(z, [tf.shape(z)[0], -1]) for z in latents]
    z = tf.reshape(tf.concat(flat, axis=-1),
                   tf.concat([batch_shape, [self.latent_size]], axis=0))
    terms = {
        "latents": [_shapes.restore_batch(z_l, batch_shape, x.shape)
                    for z_l in latents],
        "latent_log_det": per_example(latent_log_det),
        "log_det": {kind: per_example(v) for kind, v in log_det.items()},
    }
    return z, terms

  def _checked_images(self, x):
    """`x` checked to be `[..., H, W, C]` images of `image_shape` (see class doc)."""
    _checks.check_rank("MultiScaleFlow", x, "x")
    expected = tuple(self._image_shape.as_list())
    if x.shape.rank is not None:
      event = x.shape[-3:]
      if not event.is_compatible_with(self._image_shape):
        got = tuple(event.as_list())
        if got[-1] == expected[-1]:
          hint = (f"resize, pad or crop the images to {expected[0]}x"
                  f"{expected[1]}")
        else:
          hint = ("convert the images to "
                  f"{_checks.num_channels_phrase(expected[-1])}")
        raise ValueError(
            f"MultiScaleFlow was built for images of shape {list(expected)} "
            f"but got x of shape {_checks.format_shape(x.shape)}; {hint}, or "
            f"build the flow with image_shape={list(got)}.")
      if event.is_fully_defined():
        return x
    if not self.validate_args:
      return x
    assertion = tf.debugging.assert_equal(
        tf.shape(x)[-3:], tf.constant(expected, tf.int32),
        message=f"MultiScaleFlow was built for images of shape "
                f"{list(expected)}; x has another event shape.")
    with tf.control_dependencies([assertion]):
      return tf.identity(x)

  def _checked_latent(self, z):
    """`z` checked to be a flat latent `[..., D]`."""
    size = self.latent_size
    rank = z.shape.rank
    if rank is not None:
      if rank == 0 or (z.shape[-1] is not None and z.shape[-1] != size):
        if (rank >= 3 and z.shape[-3:].is_compatible_with(self._image_shape)):
          hint = ("it looks like images: encode them with forward(x) first, "
                  "or decode a latent of that size")
        else:
          hint = ("pass a latent from forward(x), or flatten per-level "
                  f"latents {[s.as_list() for s in self._latent_shapes]} in "
                  "order")
        raise ValueError(
            f"MultiScaleFlow.inverse takes flat latents [..., {size}] but got "
            f"z of shape {_checks.format_shape(z.shape)}; {hint}.")
      if z.shape[-1] is not None:
        return z
    if not self.validate_args:
      return z
    assertion = tf.debugging.assert_equal(
        tf.shape(z)[-1], size,
        message=f"MultiScaleFlow.inverse takes flat latents [..., {size}].")
    with tf.control_dependencies([assertion]):
      return tf.identity(z)

  def _checked_y(self, y):
    return self._checked_latent(y)

  def _forward_and_log_det(self, x):
    z, terms = self.forward_with_terms(x)
    fldj = tf.reduce_sum(terms["latent_log_det"], axis=-1)
    for values in terms["log_det"].values():
      fldj += tf.reduce_sum(values, axis=-1)
    return z, fldj

  def split_latent(self, z):
    """Splits a flat latent `[..., D]` into the `L` per-level latents `[..., h_l, w_l, c_l]`."""
    z = self._checked_latent(tf.convert_to_tensor(z))
    batch_shape = tf.shape(z)[:-1]
    pieces = tf.split(z, [s.num_elements() for s in self._latent_shapes],
                      axis=-1)
    return [tf.reshape(p, tf.concat([batch_shape, s], axis=0))
            for p, s in zip(pieces, self._latent_shapes)]

  def _inverse_and_log_det(self, z):
    z = tf.convert_to_tensor(z)
    batch_shape = tf.shape(z)[:-1]
    flat = tf.reshape(z, [-1, self.latent_size])
    latents = self.split_latent(flat)
    ildj = tf.zeros(tf.shape(flat)[:1], flat.dtype)
    h = None
    for index in reversed(range(len(self._levels))):
      if index == len(self._levels) - 1:
        h = latents[index]
        prior = self._top_prior
      else:
        h = tf.concat([h, latents[index]], axis=-1)
        prior = self._split_priors[index]
      if prior is not None:
        h, ldj = _inverse_and_ldj(prior, h)
        ildj += ldj
      for bijector in reversed(self._levels[index]):
        h, ldj = _inverse_and_ldj(bijector, h)
        ildj += ldj
    x = tf.reshape(h, tf.concat([batch_shape, self._image_shape], axis=0))
    return x, tf.reshape(ildj, batch_shape)

  def _forward_event_shape(self, input_shape):
    return input_shape[:-3].concatenate([self.latent_size])

  def _inverse_event_shape(self, output_shape):
    return output_shape[:-1].concatenate(self._image_shape)

  def _forward_event_shape_tensor(self, input_shape):
    return tf.concat([input_shape[:-3], [self.latent_size]], axis=0)

  def _inverse_event_shape_tensor(self, output_shape):
    return tf.concat([output_shape[:-1], self._image_shape.as_list()], axis=0)


def _check_built_channels(bijector, shape, where):
  """`ValueError` if `bijector` declares `num_channels` other than `shape[-1]`."""
  built = getattr(bijector, "num_channels", None)
  channels = shape[-1]
  if built is None or channels is None or int(built) == channels:
    return
  cls = type(bijector).__name__
  raise ValueError(
      f"MultiScaleFlow: {where} ({cls} {bijector.name!r}) was built for "
      f"{_checks.num_channels_phrase(built)} but receives events of shape "
      f"{_checks.format_shape(shape)}; build it for "
      f"{_checks.num_channels_phrase(channels)} "
      f"(e.g. {cls}({channels})) or change the layers before it.")


def _forward_and_ldj(bijector, x):
  """`(y, fldj)` of an event-ndims-3 bijector, the log-det broadcast to `[N]`."""
  y = bijector.forward(x)
  ldj = bijector.forward_log_det_jacobian(x, event_ndims=3)
  return y, tf.broadcast_to(ldj, tf.shape(x)[:1])


def _inverse_and_ldj(bijector, y):
  x = bijector.inverse(y)
  ldj = bijector.inverse_log_det_jacobian(y, event_ndims=3)
  return x, tf.broadcast_to(ldj, tf.shape(y)[:1])
