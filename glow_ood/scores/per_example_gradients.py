"""Per-example gradients of a density model's log-likelihood in its weights.

For an image `x` and the model's per-example log-likelihood `l(x; theta)`
(`density_model.differentiable_log_prob`: Glow's and PixelCNN++'s exact
`log P(image)`, the VAE's ELBO with `num_samples` keyed draws), the gradient

    g(x) = d l(x; theta) / d theta_V       (theta_V: the selected variables)

is computed one example at a time, one forward and one backward pass each,
and reduced at once (in the traced function) to what the gradient scores
need, so no `[N, P]` array of gradients is ever held:

    log_prob           [N]      l(x)
    squared_norms      [N, V]   |g_v(x)|^2 of each selected variable v
    weighted           [N]      sum_j w_j g_j(x)^2 for given weights w
                                (the Fisher-weighted norm of the score test,
                                w = 1 / diag F)
    sum_of_squares     V arrays sum over the examples of g(x)^2 (the
                                diagonal Fisher estimate's numerator)

#### Layers and the variable selection

A *layer* is the set of variables sharing a name scope (a convolution's
`kernel` and `bias`; Glow's ActNorm `loc` and `log_scale`; a PixelCNN++
weight-norm layer's `v`, `g` and `bias`): the variable's name without its
last component. Layers are ordered by where the forward pass first reads
them (the order of the first op reading each variable in the traced graph
of `l`), so "the last K layers" are those nearest the output: Glow's top
prior and last steps, the VAE's decoder output, PixelCNN++'s output layers.
`variables` selects:

  * `None` (default): every trainable variable the forward pass reads;
  * an `int` `K`: the last `K` layers in that order;
  * a `str`: a regular expression; the variables whose name it matches
    (`re.search`), e.g. `"decoder"` or `"level3|top_prior"`.

Variables the forward pass never reads (their gradient is 0) are left out
and listed in `unread_variables`.

#### Cost

One forward and one backward pass of the model at batch size 1 per example
(a `tf.function` over one uint8 image, traced once, called from a Python
loop): about 2-3 forward passes' worth of compute, with batch-1 efficiency.
Restricting `variables` to the last layers shortens the backward pass to
those layers (TensorFlow differentiates only the ops between the loss and
the selected variables); the forward pass is always whole. `seconds_per_example`
of a `GradientPass` is its wall time per example (the first example, which
may trace the function, left out).

Per-example gradients could also come from one batched pass
(`tape.jacobian` with `pfor`), faster on an accelerator; one example at a
time keeps memory at one example's activations, works for every family
(PixelCNN++'s weight-norm and masked layers, the VAE's keyed draws, which
`pfor` would have to vectorize) and gives each image the same value whatever
batch it comes in.
"""

import dataclasses
import re
import time
from typing import List, Optional

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import model_inputs
from glow_ood.models import density_model

__all__ = ["PerExampleGradients", "GradientPass", "layer_name",
           "layers_in_forward_order"]


@dataclasses.dataclass(frozen=True)
class GradientPass:
  """Per-example reductions of the gradients of `N` examples (see module doc).

  Attributes:
    log_prob: float64 `[N]`, `l(x)` (nats).
    squared_norms: float64 `[N, V]`, `|g_v(x)|^2` per selected variable.
    weighted: float64 `[N]`, `sum_j w_j g_j(x)^2`, or `None` if no weights
      were given.
    sum_of_squares: list of `V` float64 arrays (the variables' shapes),
      `sum_n g(x_n)^2`, or `None` unless asked for.
    seconds_per_example: Python `float`, wall time per example (the first
      left out when `N > 1`: it may include tracing).
  """
  log_prob: np.ndarray
  squared_norms: np.ndarray
  weighted: Optional[np.ndarray]
  sum_of_squares: Optional[List[np.ndarray]]
  seconds_per_example: float


def layer_name(variable):
  """The layer of a variable: its name without `:0` and its last component."""
  name = variable.name.split(":")[0]
  return name.rsplit("/", 1)[0] if "/" in name else name


def layers_in_forward_order(fn, input_spec, variables):
  """`variables` grouped into layers, ordered by where `fn` first reads them.

  Args:
    fn: a function of one `Tensor` (`input_spec`), traced once here.
    input_spec: `tf.TensorSpec` of its argument.
    variables: the candidate `tf.Variable`s.

  Returns:
    `(layers, unread)`: `layers` a list of `(name, [variables])`, in the
    order of the traced graph's first read of each layer's first variable,
    variables within a layer in reading order; `unread` the variables the
    graph does not read.
  """
  graph = tf.function(fn).get_concrete_function(input_spec).graph
  by_handle = {id(v.handle): v for v in variables}
  captured = {internal.name: by_handle[id(external)]
              for external, internal in graph.captures
              if id(external) in by_handle}
  order, seen = [], set()
  for op in graph.get_operations():
    for tensor in op.inputs:
      variable = captured.get(tensor.name)
      if variable is not None and id(variable) not in seen:
        seen.add(id(variable))
        order.append(variable)
  layers = {}
  for variable in order:
    layers.setdefault(layer_name(variable), []).append(variable)
  unread = [v for v in variables if id(v) not in seen]
  return list(layers.items()), unread


def _select(layers, variables):
  """The layers `[(name, [variables])]` that `variables` selects (module doc)."""
  if variables is None:
    return layers
  if isinstance(variables, str):
    pattern = re.compile(variables)
    selected = [(name, [v for v in group if pattern.search(v.name)])
                for name, group in layers]
    selected = [(name, group) for name, group in selected if group]
    if not selected:
      names = ", ".join(v.name for _, group in layers for v in group)
      raise ValueError(f"variables={variables!r} matches none of the model's "
                       f"variables: {names}.")
    return selected
  count = density_model.check_count(variables, "variables (a number of last "
                                    "layers)", "PerExampleGradients", minimum=1)
  if count > len(layers):
    raise ValueError(f"variables={count} asks for the last {count} layers; the "
                     f"model has {len(layers)}.")
  return layers[-count:]


class PerExampleGradients:
  """Per-example log-likelihoods and their gradient reductions (module doc).

  Args:
    model: an initialized density model (`glow_ood.models.density_model`);
      its weights are read, never written.
    variables: `None`, an `int` or a `str` (see "Layers and the variable
      selection"). Default value: `None`, every trainable variable.
    num_samples: Python `int`, `S` of the VAE's ELBO (the other families
      ignore it). Default value: `1`.
    seed: stateless seed of the ELBO's draws. Default value: `None`, the
      model's evaluation seed.

  Raises:
    ValueError: the model is not initialized (a data-dependent init would
      run inside the pass, changing the model), or `variables` selects none.
  """

  def __init__(self, model, variables=None, num_samples=1, seed=None):
    if not model.is_initialized:
      raise ValueError(
          "Per-example gradients need an initialized model (trained or "
          "restored): its data-dependent initialization would otherwise run "
          "in the first pass and change the model.")
    self._model = model
    self.num_samples = density_model.check_count(
        num_samples, "num_samples", "PerExampleGradients", minimum=1)
    self._seed = seed
    self._image_shape = tuple(model.config.image_shape)
    spec = tf.TensorSpec([1, *self._image_shape], tf.uint8)
    layers, self.unread_variables = layers_in_forward_order(
        self._log_prob, spec, model.trainable_variables)
    if not layers:
      raise ValueError("The model's log-likelihood reads none of its "
                       "trainable variables.")
    selected = _select(layers, variables)
    self.layers = tuple(name for name, _ in selected)
    self.variables = tuple(v for _, group in selected for v in group)
    self.layer_sizes = tuple(len(group) for _, group in selected)
    self.num_parameters = int(sum(v.shape.num_elements()
                                  for v in self.variables))
    self._sums = [tf.Variable(tf.zeros(v.shape, tf.float64), trainable=False)
                  for v in self.variables]
    self._step = tf.function(self._one_example)

  def _log_prob(self, images):
    return density_model.differentiable_log_prob(
        self._model, images, self.num_samples, self._seed)

  def _one_example(self, image, weights, accumulate):
    with tf.GradientTape(watch_accessed_variables=False) as tape:
      tape.watch(self.variables)
      value = self._log_prob(image)[0]
    gradients = tape.gradient(
        value, self.variables,
        unconnected_gradients=tf.UnconnectedGradients.ZERO)
    squares = [tf.square(tf.cast(g, tf.float64)) for g in gradients]
    if accumulate:
      for total, square in zip(self._sums, squares):
        total.assign_add(square)
    squared_norms = tf.stack([tf.reduce_sum(s) for s in squares])
    if weights is None:
      weighted = tf.zeros([], tf.float64)
    else:
      weighted = tf.add_n([tf.reduce_sum(s * w)
                           for s, w in zip(squares, weights)])
    return tf.cast(value, tf.float64), squared_norms, weighted

  def layer_squared_norms(self, squared_norms):
    """`[N, V]` per-variable squared norms -> `[N, len(layers)]` per layer."""
    bounds = np.cumsum((0,) + self.layer_sizes)
    return np.stack([squared_norms[:, a:b].sum(axis=1)
                     for a, b in zip(bounds[:-1], bounds[1:])], axis=1)

  def run(self, images, weights=None, accumulate=False):
    """The `GradientPass` of uint8 images `[N, H, W, C]`, one example at a time.

    Args:
      images: uint8 `[N, H, W, C]`, the model's image shape, `N >= 1`.
      weights: `None`, or one float array per selected variable (its shape):
        the `w` of `weighted`.
      accumulate: Python `bool`, also return `sum_of_squares`.
    """
    images = model_inputs.uint8_image_batch(images, self._model.config,
                                            "PerExampleGradients.run")
    if not len(images):
      raise ValueError("PerExampleGradients.run: no images.")
    if weights is not None:
      if len(weights) != len(self.variables):
        raise ValueError(f"weights: one array per selected variable "
                         f"({len(self.variables)}); got {len(weights)}.")
      weights = [tf.constant(w, tf.float64) for w in weights]
    if accumulate:
      for total in self._sums:
        total.assign(tf.zeros_like(total))
    log_prob, norms, weighted = [], [], []
    start = None
    for index in range(len(images)):
      if index == min(1, len(images) - 1):
        start = time.perf_counter()   # the first call may trace: not timed
      value, squared, total = self._step(
          tf.constant(images[index:index + 1]), weights, accumulate)
      log_prob.append(value.numpy())
      norms.append(squared.numpy())
      weighted.append(total.numpy())
    seconds = (time.perf_counter() - start) / max(len(images) - 1, 1)
    return GradientPass(
        log_prob=np.asarray(log_prob, np.float64),
        squared_norms=np.stack(norms).astype(np.float64),
        weighted=None if weights is None else np.asarray(weighted, np.float64),
        sum_of_squares=([t.numpy() for t in self._sums] if accumulate
                        else None),
        seconds_per_example=seconds)
