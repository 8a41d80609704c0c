"""Input checks shared by the image bijectors: static at trace time, asserted under `validate_args`.

Every bijector here takes NHWC events `[..., H, W, C]` whose channel count `C`
is fixed when the layer is built. What is known statically (the rank, the
channel count of `x.shape`) is checked when the call is traced and refused
with a one-line `ValueError` naming the fix; this costs nothing at run time.
What is only known at run time (a `None` dimension under `tf.function`) is
asserted with `tf.debugging` ops when the bijector has `validate_args=True`,
as TFP does, and not checked otherwise.
"""

import tensorflow.compat.v2 as tf

__all__ = ["format_shape", "num_channels_phrase", "check_rank",
           "checked_channels"]


def format_shape(shape):
  """`TensorShape` -> `"[2, 4, 4, 3]"`, `?` for unknown dimensions."""
  shape = tf.TensorShape(shape)
  if shape.rank is None:
    return "[<unknown rank>]"
  return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def num_channels_phrase(count):
  """`1 -> "1 channel"`, `3 -> "3 channels"`."""
  return f"{count} channel" + ("" if count == 1 else "s")


def check_rank(owner, x, name="x"):
  """Raises `ValueError` if `x` has a static rank below 3 (not `[..., H, W, C]`).

  Args:
    owner: Python `str`, how the message names the layer (e.g. `"Squeeze"`).
    x: `Tensor`.
    name: Python `str`, what the message calls `x`. Default value: `"x"`.
  """
  rank = x.shape.rank
  if rank is not None and rank < 3:
    raise ValueError(
        f"{owner} takes NHWC events [..., H, W, C] (rank >= 3) but got {name} "
        f"of shape {format_shape(x.shape)} (rank {rank}); add the missing "
        f"axes, e.g. {name}[..., tf.newaxis] for a single channel.")


def checked_channels(owner, x, num_channels, validate_args, fix, name="x"):
  """Returns `x`, refusing an event whose channel count is not `num_channels`.

  Static rank and channel count: checked now (`ValueError`). Unknown ones:
  asserted at run time if `validate_args` (`x` is then returned through
  `tf.identity` under the assertions), else not checked.

  Args:
    owner: Python `str`, the layer's class name (and name) for the message.
    x: `Tensor` `[..., H, W, C]`.
    num_channels: Python `int`, the `C` the layer was built for.
    validate_args: Python `bool`.
    fix: Python `str` with a `{channels}` field: how to build the layer for
      the channels `x` has, e.g. `"AffineCoupling({channels})"`.
    name: Python `str`, what the message calls `x`. Default value: `"x"`.

  Returns:
    `x`, or `tf.identity(x)` with run-time assertions attached.
  """
  check_rank(owner, x, name)
  channels = x.shape[-1] if x.shape.rank is not None else None
  if channels is not None:
    if channels != num_channels:
      raise ValueError(
          f"{owner} was built for {num_channels_phrase(num_channels)} but got "
          f"{name} with {num_channels_phrase(channels)}, shape "
          f"{format_shape(x.shape)}; build it with "
          f"{fix.format(channels=channels)} or pass [..., H, W, "
          f"{num_channels}] events.")
    if x.shape.rank is not None:
      return x
  if not validate_args:
    return x
  assertions = [
      tf.debugging.assert_rank_at_least(
          x, 3, message=f"{owner} takes NHWC events [..., H, W, C]."),
      tf.debugging.assert_equal(
          tf.shape(x)[-1], num_channels,
          message=(f"{owner} was built for "
                   f"{num_channels_phrase(num_channels)}; {name} has another "
                   "number of channels.")),
  ]
  with tf.control_dependencies(assertions):
    return tf.identity(x)


class ChannelChecks:
  """Mixin for a bijector built for `self._num_channels` channels: its
  `_checked_x` / `_checked_y` hooks (`FusedBijector`) refuse events of another
  channel count (`checked_channels`), naming `<Class>(<channels>)` as the fix.
  List it before the bijector base class."""

  def _checked_event(self, x, name="x"):
    """`x` (`[..., H, W, C]`) with its channel count checked against `C`."""
    cls = type(self).__name__
    return checked_channels(
        f"{cls} {self.name!r}", x, self._num_channels, self.validate_args,
        fix=cls + "({channels})", name=name)

  def _checked_x(self, x):
    return self._checked_event(x, "x")

  def _checked_y(self, y):
    return self._checked_event(y, "y")
