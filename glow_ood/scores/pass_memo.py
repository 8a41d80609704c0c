"""`PassMemo`: the result of an expensive per-example model pass, remembered per image set.

The scores that run a model themselves (the gradient scores, likelihood
regret) are called on the same images more than once: a benchmark fits a
score and scores its in-distribution test set once per OOD pair. A pass is
a function of the images and of the model's weights only, so its result is
kept under a key made of both:

    key = (sha1 of the uint8 images' shape and bytes,
           sha1 of every model variable's name, shape and values, in order,
           the caller's extra key, e.g. the Fisher weights' token)

and a pass is re-run only when the images or a weight changed. Hashing is
cheap next to the pass (a read of the images and of every weight; the
model's, a few MB at most). Entries are evicted oldest first beyond
`max_entries`.
"""

import collections
import hashlib

import numpy as np

__all__ = ["PassMemo", "images_fingerprint", "model_fingerprint",
           "shared_or_new"]


def images_fingerprint(images):
  """sha1 hex digest of a uint8 image array's shape and bytes."""
  images = np.ascontiguousarray(images)
  digest = hashlib.sha1(repr((images.shape, images.dtype.str)).encode())
  digest.update(images.tobytes())
  return digest.hexdigest()


def model_fingerprint(model):
  """sha1 hex digest of every variable of `model` (name, shape, values), in order."""
  digest = hashlib.sha1()
  for variable in model.variables:
    value = np.ascontiguousarray(variable.numpy())
    digest.update(repr((variable.name, value.shape, value.dtype.str)).encode())
    digest.update(value.tobytes())
  return digest.hexdigest()


class PassMemo:
  """Remembers `compute(images)` per `(images, model weights, extra key)`.

  Args:
    model: the model the pass runs (its variables enter the key).
    max_entries: Python `int >= 1`, results kept. Default value: `16`.
  """

  def __init__(self, model, max_entries=16):
    self._model = model
    self._max_entries = int(max_entries)
    self._results = collections.OrderedDict()

  def get(self, images, compute, extra_key=()):
    """`compute(images)`, or its remembered result for the same key."""
    key = (images_fingerprint(images), model_fingerprint(self._model),
           extra_key)
    if key not in self._results:
      self._results[key] = compute(images)
      while len(self._results) > self._max_entries:
        self._results.popitem(last=False)
    return self._results[key]

  def clear(self):
    self._results.clear()

  @property
  def model(self):
    return self._model


def shared_or_new(memo, model):
  """`memo` if given (checked to be `model`'s), else a new `PassMemo(model)`."""
  if memo is None:
    return PassMemo(model)
  if not isinstance(memo, PassMemo):
    raise TypeError(f"memo must be a glow_ood.scores.pass_memo.PassMemo; got "
                    f"{type(memo).__name__}.")
  if memo.model is not model:
    raise ValueError("memo remembers the passes of another model; share a "
                     "PassMemo only between scores of one model.")
  return memo
