"""A `tfb.Bijector` base class that computes a transform and its log-det in one pass."""

import tensorflow_probability as tfp

from bijectors import _keras3

tfb = tfp.bijectors

__all__ = ["FusedBijector"]


class FusedBijector(tfb.Bijector):
  """Bijector whose subclasses compute `(y, fldj)` and `(x, ildj)` together.

  For a coupling layer the log-det needs the coupling network's output, which
  the transform itself has just computed. TFP asks for the transform
  (`_forward`) and the log-det (`_forward_log_det_jacobian`) in two calls, so a
  plain subclass evaluates the network twice. Subclasses of this class
  implement

    `_forward_and_log_det(x) -> (y, fldj)`  and
    `_inverse_and_log_det(y) -> (x, ildj)`,

  with the log-dets reduced over `forward_min_event_ndims` (shape: the batch
  shape of `x`). Subclasses may also implement the input checks
  `_checked_x(x)` and `_checked_y(y)`, which return their argument (possibly
  under `validate_args` assertions) or raise; they run once per transform,
  before `_forward_and_log_det` / `_inverse_and_log_det`. The transform call stores the log-det in the bijector cache's
  attributes for that input (as `tfb.FFJORD` does), so that `log_prob` through
  `tfd.TransformedDistribution`, `tfb.Chain` or `tfb.Invert` evaluates every
  network once. A log-det requested for an input that was never transformed is
  computed directly.

  A Keras-3 layer or model calling one of these bijectors is refused with a
  `TypeError` naming tf_keras (`bijectors._keras3`): Keras 3 would not track
  the bijector's variables.
  """

  @classmethod
  def _parameter_properties(cls, dtype):
    # No parameter has a batch shape: every layer is one function of
    # NHWC events, so TFP infers an empty batch shape.
    return dict()

  def _get_parameterization(self):
    # TFP's `Bijector.__eq__`/`__hash__` compare constructor arguments, and its
    # cache keys results by (input, bijector). These bijectors hold variables
    # the arguments do not determine, so two layers built alike (e.g. the same
    # layer of two ensemble members) would share cached outputs for the same
    # input. Only the same object is the same function.
    return id(self)

  def _forward_and_log_det(self, x):
    raise NotImplementedError

  def _inverse_and_log_det(self, y):
    raise NotImplementedError

  def _checked_x(self, x):
    """Hook: `x` checked as an input of `forward` (see `bijectors._checks`)."""
    return x

  def _checked_y(self, y):
    """Hook: `y` checked as an input of `inverse`."""
    return y

  def _forward(self, x):
    _keras3.reject_keras3_caller(self)
    y, fldj = self._forward_and_log_det(self._checked_x(x))
    self._cache.forward_attributes(x).update(fldj=fldj, ildj=-fldj)
    return y

  def _inverse(self, y):
    _keras3.reject_keras3_caller(self)
    x, ildj = self._inverse_and_log_det(self._checked_y(y))
    self._cache.inverse_attributes(y).update(ildj=ildj, fldj=-ildj)
    return x

  def _forward_log_det_jacobian(self, x):
    _keras3.reject_keras3_caller(self)
    attributes = self._cache.forward_attributes(x)
    if "fldj" not in attributes:
      _, fldj = self._forward_and_log_det(self._checked_x(x))
      attributes.update(fldj=fldj, ildj=-fldj)
    return attributes["fldj"]

  def _inverse_log_det_jacobian(self, y):
    _keras3.reject_keras3_caller(self)
    attributes = self._cache.inverse_attributes(y)
    if "ildj" not in attributes:
      _, ildj = self._inverse_and_log_det(self._checked_y(y))
      attributes.update(ildj=ildj, fldj=-ildj)
    return attributes["ildj"]
