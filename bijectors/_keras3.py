"""Refuses Keras 3 callers: a Keras-3 layer or model cannot hold these bijectors.

Keras 3 (TF 2.16+'s default `keras`) tracks only its own `keras.Variable`s and
layers. A `keras.Model` whose attribute is one of these bijectors (a
`tf.Module` holding `tf.Variable`s) lists none of the bijector's variables in
`trainable_variables`: `fit` trains nothing (Keras only warns "The model does
not have any trainable weights") and `save` drops them. tf-keras (Keras 2)
tracks `tf.Module` attributes, so the same model works there.

`reject_keras3_caller(bijector)` runs in every transform of a
variable-holding bijector (`FusedBijector`) and raises `TypeError` with the
fix when a Keras-3 object is calling it. Only Python frames of the
importable `keras` package are looked at, so with tf-keras (module names
`tf_keras.*`) the check costs a walk up the Python stack and nothing else, and
it is skipped entirely until `keras` has been imported.
"""

import sys

__all__ = ["reject_keras3_caller"]


def _keras3_layer_class():
  """`keras.Layer` of an imported Keras 3, else `None` (never imports keras)."""
  keras = sys.modules.get("keras")
  version = getattr(keras, "__version__", None) if keras is not None else None
  if not version or not version.split(".")[0].isdigit() or int(
      version.split(".")[0]) < 3:
    return None
  return getattr(keras, "Layer", None)


def _keras3_caller(layer_class):
  """The nearest Keras-3 `Layer` (or `Model`) on the Python call stack, or `None`."""
  frame = sys._getframe(2)  # pylint: disable=protected-access
  while frame is not None:
    module = frame.f_globals.get("__name__") or ""
    if module == "keras" or module.startswith("keras."):
      caller = frame.f_locals.get("self")
      if isinstance(caller, layer_class):
        return caller
    frame = frame.f_back
  return None


def reject_keras3_caller(bijector):
  """Raises `TypeError` if a Keras-3 layer or model is calling `bijector`.

  Args:
    bijector: the `tfb.Bijector` (a `tf.Module` with `tf.Variable`s) that is
      about to transform.

  Raises:
    TypeError: a Keras-3 `keras.Layer` / `keras.Model` is up the call stack
      (its `__call__`, `fit`, `train_step`, ...): it does not track the
      bijector's variables, so they would never train nor be saved.
  """
  layer_class = _keras3_layer_class()
  if layer_class is None:
    return
  caller = _keras3_caller(layer_class)
  if caller is None or not bijector.trainable_variables:
    return
  raise TypeError(
      f"{type(bijector).__name__} {bijector.name!r} is called by the Keras 3 "
      f"{type(caller).__name__} {getattr(caller, 'name', '')!r}, which does "
      f"not track its {len(bijector.trainable_variables)} tf.Variables: fit() "
      "would train none of them and save() would drop them. Use tf_keras "
      "(Keras 2): `pip install tf-keras`, set TF_USE_LEGACY_KERAS=1 before "
      "TensorFlow is imported and build the model with tf.keras (or `import "
      "tf_keras as keras`).")
