"""Glow's 2x2 squeeze (space-to-depth) with openai/glow's channel order."""

import tensorflow.compat.v2 as tf
import tensorflow_probability as tfp

from bijectors import _checks
from bijectors import _shapes

tfb = tfp.bijectors

__all__ = ["Squeeze"]


class Squeeze(tfb.Bijector):
  """Space-to-depth: `[..., H, W, C] -> [..., H/f, W/f, C*f*f]`; volume-preserving.

  Forward (data -> latent) moves each `f x f` spatial block into channels in
  openai/glow's order (`squeeze2d`): output channel `c * f*f + i * f + j`
  holds input channel `c` at offset `(i, j)` of the block. So the first half
  of the output channels comes from the first half of the input channels, and
  a split after a squeeze factors out whole input channels. (This differs from
  `tf.nn.space_to_depth`, whose channel index is `(i * f + j) * C + c`.)

    fldj(x) = 0.

  Static shape mistakes (rank below 3, `H` or `W` not divisible by `f`, on
  inverse `C` not divisible by `f*f`) raise `ValueError` when the call is
  traced. Squeeze needs static `H`, `W` and `C`.

  Args:
    factor: Python `int`, `f`. `H` and `W` must be divisible by it.
      Default value: `2`.
    validate_args: Python `bool`. Default value: `False`.
    name: Python `str`. Default value: `"squeeze"`.
  """

  def __init__(self, factor=2, validate_args=False, name="squeeze"):
    parameters = dict(locals())
    if int(factor) < 1:
      raise ValueError(f"Squeeze factor must be a positive integer, got {factor}.")
    with tf.name_scope(name) as name:
      self._factor = int(factor)
      super().__init__(
          forward_min_event_ndims=3,
          is_constant_jacobian=True,
          validate_args=validate_args,
          parameters=parameters,
          name=name)

  @classmethod
  def _parameter_properties(cls, dtype):
    return dict()

  @property
  def factor(self):
    return self._factor

  def _check_divisible(self, height, width):
    f = self._factor
    if height is not None and width is not None and (height % f or width % f):
      raise ValueError(
          f"Squeeze by {f} needs height and width divisible by {f}; got an "
          f"event of {height}x{width}. Pad or crop the images, or use fewer "
          "levels.")

  def _check_static_event(self, x, name):
    _checks.check_rank("Squeeze", x, name)
    if not x.shape[-3:].is_fully_defined():
      raise ValueError(
          f"Squeeze needs a static event shape [H, W, C]; got {name} of shape "
          f"{_checks.format_shape(x.shape)}. Give tf.function an "
          "input_signature with the event dimensions, e.g. [None, H, W, C].")

  def _forward(self, x):
    f = self._factor
    self._check_static_event(x, "x")
    images, batch_shape = _shapes.as_image_batch(x)
    _, h, w, c = images.shape
    self._check_divisible(h, w)
    y = tf.reshape(images, [-1, h // f, f, w // f, f, c])
    y = tf.transpose(y, [0, 1, 3, 5, 2, 4])
    y = tf.reshape(y, [-1, h // f, w // f, c * f * f])
    return _shapes.restore_batch(y, batch_shape, x.shape)

  def _inverse(self, y):
    f = self._factor
    self._check_static_event(y, "y")
    images, batch_shape = _shapes.as_image_batch(y)
    _, h, w, c = images.shape
    if c % (f * f):
      raise ValueError(
          f"Unsqueeze by {f} needs channels divisible by {f * f}; got y of "
          f"shape {_checks.format_shape(y.shape)}. Pass an output of "
          f"Squeeze({f}).forward, or squeeze by a factor whose square "
          f"divides {c}.")
    x = tf.reshape(images, [-1, h, w, c // (f * f), f, f])
    x = tf.transpose(x, [0, 1, 4, 2, 5, 3])
    x = tf.reshape(x, [-1, h * f, w * f, c // (f * f)])
    return _shapes.restore_batch(x, batch_shape, y.shape)

  def _forward_log_det_jacobian(self, x):
    return tf.zeros([], dtype=x.dtype)

  def _forward_event_shape(self, input_shape):
    if input_shape.rank is not None and input_shape.rank < 3:
      raise ValueError(
          f"Squeeze takes NHWC events [..., H, W, C]; got an event shape "
          f"{_checks.format_shape(input_shape)}. Add the channel axis.")
    h, w, c = input_shape[-3:]
    f = self._factor
    self._check_divisible(h, w)
    return input_shape[:-3].concatenate([
        None if h is None else h // f, None if w is None else w // f,
        None if c is None else c * f * f])

  def _inverse_event_shape(self, output_shape):
    h, w, c = output_shape[-3:]
    f = self._factor
    return output_shape[:-3].concatenate([
        None if h is None else h * f, None if w is None else w * f,
        None if c is None else c // (f * f)])

  def _forward_event_shape_tensor(self, input_shape):
    f = self._factor
    return tf.concat([input_shape[:-3], input_shape[-3:-1] // f,
                      input_shape[-1:] * f * f], axis=0)

  def _inverse_event_shape_tensor(self, output_shape):
    f = self._factor
    return tf.concat([output_shape[:-3], output_shape[-3:-1] * f,
                      output_shape[-1:] // (f * f)], axis=0)
