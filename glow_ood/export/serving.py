"""`ServingModule`: a trained model's scores as `tf.function`s on uint8 images.

    module = ServingModule(run.model, typicality=fit, input_complexity=True)
    tf.saved_model.save(module, path, signatures=module.signatures)

Every signature takes `images`, uint8 `[None, H, W, C]` (the model's shape;
`pad_like_training`: the dataset's own shape), and returns a dict of
per-example float64 `[N]` outputs (scalars `[]` for fitted constants). The
model's variables are tracked by the module (`model_variables`), the model
object itself is not: the saved graph needs neither `glow_ood` nor
`bijectors` to load. What each output means, its units and its sign is in
`OUTPUTS` and in the `metadata` signature (a JSON string); every OOD score
is higher for inputs that look more out-of-distribution.

Signatures (those a family lacks are left out):

  log_prob            log_prob [, log_prob_stderr (VAE)]
  bits_per_dim        bits_per_dim
  decomposition       Glow: log p(z), log|det| (total, per level, per kind),
                      per_level_likelihood
  typicality          typicality [N], batch_typicality [], batch_is_ood [],
                      entropy [], threshold [], is_ood [N] (if M = 1)
  input_complexity    input_complexity [N], png_bits [N]
  serving_default     all of the above
  pad_like_training   all of the above, on the dataset's own image shape
  metadata            json: the export's description (no inputs)
"""

import dataclasses
import json
import types
from typing import Optional, Tuple

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood.export import image_ops
from glow_ood.export import terms as terms_lib

__all__ = ["ServingModule", "TypicalityFit", "likelihood_function",
           "score_images", "OUTPUTS", "PARTS"]

# Groups of outputs, in the order `serving_default` lists them.
PARTS = ("log_prob", "bits_per_dim", "decomposition", "typicality",
         "input_complexity")

_HIGHER = "Higher = more out-of-distribution."
OUTPUTS = {
    "log_prob": "[N] float64, log P(image) in nats: the discrete "
                "log-probability of the image's bins (launch/evaluate.py's "
                "discrete_log_prob). Higher = more likely under the model.",
    "log_prob_stderr": "[N] float64, standard error (nats) of log_prob, an "
                       "importance-sampled estimate (VAE). Its IWAE draws are "
                       "keyed by the image, so an image's value does not "
                       "depend on its batch.",
    "bits_per_dim": "[N] float64, -log_prob / (D log 2), bits per dimension "
                    f"(negative log-likelihood). {_HIGHER}",
    "log_prob_z": "[N] float64, log p(z) in nats (split and top priors "
                  "included, openai/glow's accounting).",
    "log_det": "[N] float64, log|det dz/dx| in nats of the flow's bijectors.",
    "log_prob_z_per_level": "[N, L] float64, log p(z_l) of each level (nats).",
    "log_det_per_level": "[N, L] float64, log|det| of each level (nats).",
    "log_det_kind": "[N] float64, log|det| of one kind of layer (nats).",
    "per_level_likelihood": "[N, L] float64, -(log p(z_l) + log|det|_l): "
                            "minus each level's share of log p(x) (nats; "
                            f"Schirrmeister et al. 2020). {_HIGHER}",
    "typicality": "[N] float64, |-log_prob - entropy| in nats (Nalisnick et "
                  f"al. 2019, per image). {_HIGHER}",
    "batch_typicality": "[] float64, |mean(-log_prob) - entropy| over the "
                        "images given, the test statistic of a batch; pass "
                        "batches of typicality_batch_size images. "
                        f"{_HIGHER}",
    "batch_is_ood": "[] bool, batch_typicality > threshold (valid for "
                    "batches of typicality_batch_size images).",
    "is_ood": "[N] bool, typicality > threshold, per image (exported when "
              "typicality_batch_size = 1).",
    "entropy": "[] float64, the fitted entropy estimate H (nats), the mean "
               "-log_prob on the fit split.",
    "threshold": "[] float64, the fitted threshold eps_alpha (nats) for "
                 "batches of typicality_batch_size images.",
    "input_complexity": "[N] float64, -log2 P(image) / D - png_bits / D in "
                        "bits/dim (Serra et al. 2020), PNG lengths from "
                        f"tf.io.encode_png. {_HIGHER}",
    "png_bits": "[N] float64, 8 x the byte length of the image's PNG "
                "(tf.io.encode_png, level 9): L(x).",
}


@dataclasses.dataclass(frozen=True)
class TypicalityFit:
  """A fitted typicality test (`glow_ood.scores.Typicality`) and its fit set.

  Attributes:
    entropy: `H_hat`, nats.
    threshold: `eps_alpha` for batches of `batch_size`, nats.
    batch_size: `M`.
    alpha: the quantile of the threshold.
    num_bootstrap: bootstrap batches.
    seed: the bootstrap's seed.
    fitted_on: what it was fitted on, e.g. `{"dataset": "mnist", "split":
      "validation", "num_examples": 2000, ...}`.
  """
  entropy: float
  threshold: float
  batch_size: int
  alpha: float
  num_bootstrap: int
  seed: int
  fitted_on: dict


def _spec(shape, name="images"):
  return tf.TensorSpec([None, *shape], tf.uint8, name=name)


def likelihood_function(model):
  """`tf.function` uint8 `[None, H, W, C]` -> `terms.likelihood_terms` (one trace)."""
  return tf.function(
      lambda images: terms_lib.likelihood_terms(model, images),
      input_signature=[_spec(model.config.image_shape)])


def score_images(likelihood, images, batch_size, progress=None):
  """`{term: float64 [N]}` of uint8 `images` `[N, H, W, C]`, batch by batch.

  Args:
    likelihood: `likelihood_function(model)`.
    images: uint8 numpy `[N, H, W, C]`, `N >= 1`.
    batch_size: Python `int`.
    progress: optional `update()`-able progress bar (one update per batch).
  """
  parts = []
  for start in range(0, len(images), batch_size):
    batch = likelihood(tf.constant(images[start:start + batch_size]))
    parts.append({k: v.numpy() for k, v in batch.items()})
    if progress is not None:
      progress.update()
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _checked_images(images, shape, signature):
  """`images` after a run-time check of their shape, `[N, *shape]`.

  A signature call does not check the static shape of its input (a
  `tf.function` call does): without this, images of another size would fail
  deep inside the model, or be scored wrongly when the element counts agree.
  """
  expected = tf.constant(shape, tf.int32)
  actual = tf.shape(images)
  padded = tf.concat([actual, tf.zeros([3], tf.int32)], 0)
  matches = tf.logical_and(tf.equal(tf.size(actual), 4),
                           tf.reduce_all(tf.equal(padded[1:4], expected)))
  check = tf.debugging.Assert(matches, [
      f"{signature} takes uint8 images [N, {shape[0]}, {shape[1]}, "
      f"{shape[2]}] (raw pixels 0..255); got shape", actual])
  with tf.control_dependencies([check]):
    return tf.identity(images)


class ServingModule(tf.Module):
  """The serving functions of one trained model (see the module docstring).

  Args:
    model: a density model (`glow_ood.models.density_model`) with its
      trained weights.
    typicality: `TypicalityFit` or `None` (no typicality outputs).
    input_complexity: Python `bool`, add the input-complexity outputs.
    dataset_shape: `(h, w, c)` of the dataset's own images, or `None`: adds
      the `pad_like_training` signature, which pads / tiles them to the
      model's shape (`image_ops.pad_like_training`).
    metadata: JSON-ready dict returned (as a string) by the `metadata`
      signature.
    likelihood: `likelihood_function(model)` if already made (its trace is
      reused). Default value: `None`, made here.
  """

  def __init__(self, model, typicality: Optional[TypicalityFit] = None,
               input_complexity=True,
               dataset_shape: Optional[Tuple[int, int, int]] = None,
               metadata=None, likelihood=None, name="serving"):
    super().__init__(name=name)
    self.model_variables = list(model.variables)
    self._image_shape = tuple(int(d) for d in model.config.image_shape)
    self._num_dims = int(np.prod(self._image_shape))
    self._typicality = typicality
    self._parts = tuple(
        part for part, present in (
            ("log_prob", True), ("bits_per_dim", True),
            ("decomposition", terms_lib.has_decomposition(model)),
            ("typicality", typicality is not None),
            ("input_complexity", bool(input_complexity)))
        if present)
    # One trace of the model, called by every signature.
    self._untracked = types.MappingProxyType(
        {"likelihood": likelihood or likelihood_function(model)})
    functions = {part: self._function(part, (part,)) for part in self._parts}
    functions["serving_default"] = self._function("serving_default",
                                                  self._parts)
    self.dataset_shape = None
    if dataset_shape is not None and tuple(dataset_shape) != self._image_shape:
      self.dataset_shape = tuple(int(d) for d in dataset_shape)
      functions["pad_like_training"] = self._function(
          "pad_like_training", self._parts, input_shape=self.dataset_shape)
    text = json.dumps(dict(metadata or {}, signatures=self.describe()),
                      indent=1, sort_keys=True)
    functions["metadata"] = tf.function(
        lambda: {"json": tf.constant(text)}, input_signature=[])
    self.metadata_json = text
    # Not tracked (a mapping proxy): saved as signatures only (as attributes too, they would
    # double the time to save and load, and a restored function casts numpy
    # arrays of any dtype to uint8 just as a signature does).
    self._untracked = types.MappingProxyType(
        dict(self._untracked, functions=functions))

  @property
  def parts(self):
    """The output groups of this model (`PARTS` it has)."""
    return self._parts

  @property
  def signatures(self):
    """`{signature name: concrete function}` for `tf.saved_model.save`."""
    return {name: (function.get_concrete_function())
            for name, function in self._untracked["functions"].items()}

  def output_names(self, parts):
    """The output keys of the `parts` (in `PARTS` order)."""
    names = []
    for part in PARTS:
      if part not in parts:
        continue
      if part == "log_prob":
        names.append("log_prob")
        if self._family_has_stderr:
          names.append("log_prob_stderr")
      elif part == "decomposition":
        names += list(self._decomposition_names) + ["per_level_likelihood"]
      elif part == "typicality":
        names += ["typicality", "batch_typicality", "batch_is_ood", "entropy",
                  "threshold"]
        if self._typicality.batch_size == 1:
          names.append("is_ood")
      elif part == "input_complexity":
        names += ["input_complexity", "png_bits"]
      else:
        names.append(part)
    return names

  def describe(self):
    """`{signature: {"inputs": ..., "outputs": {name: meaning}}}` (JSON-ready)."""
    def entry(parts, shape, what):
      return {"description": what,
              "inputs": {"images": f"uint8 [None, {shape[0]}, {shape[1]}, "
                                   f"{shape[2]}], raw pixels 0..255"},
              "outputs": {name: OUTPUTS.get(name, OUTPUTS["log_det_kind"])
                          for name in self.output_names(parts)}}
    out = {part: entry((part,), self._image_shape, _PART_TEXT[part])
           for part in self._parts}
    out["serving_default"] = entry(self._parts, self._image_shape,
                                   "Every output of the other signatures.")
    if self.dataset_shape is not None:
      out["pad_like_training"] = entry(
          self._parts, self.dataset_shape,
          "serving_default on images of the dataset's own shape, padded "
          "(centred zeros) and tiled to 3 channels as training did.")
    return out

  # -- Building the functions --------------------------------------------------

  @property
  def _family_has_stderr(self):
    return "log_prob_stderr" in self._likelihood_keys

  @property
  def _decomposition_names(self):
    return [k for k in self._likelihood_keys
            if k in terms_lib.DECOMPOSITION_TERMS or k.startswith("log_det_")
            and k != "log_det_per_level"]

  @property
  def _likelihood_keys(self):
    concrete = self._untracked["likelihood"].get_concrete_function()
    return list(concrete.structured_outputs)

  def _function(self, name, parts, input_shape=None):
    """A `tf.function` of uint8 images returning the outputs of `parts`."""
    def serve(images):
      images = _checked_images(images, input_shape or self._image_shape, name)
      if input_shape is not None:
        images = image_ops.pad_like_training(images, self._image_shape)
      return self._outputs(images, parts)
    serve.__name__ = name
    return tf.function(serve,
                       input_signature=[_spec(input_shape or
                                              self._image_shape)])

  def _outputs(self, images, parts):
    terms = self._untracked["likelihood"](images)
    wanted = self.output_names(parts)
    out = {k: v for k, v in terms.items() if k in wanted}
    if "decomposition" in parts:
      out["per_level_likelihood"] = -(terms["log_prob_z_per_level"]
                                      + terms["log_det_per_level"])
    if "typicality" in parts:
      fit = self._typicality
      entropy = tf.constant(fit.entropy, tf.float64)
      threshold = tf.constant(fit.threshold, tf.float64)
      nll = -terms["log_prob"]
      out["typicality"] = tf.abs(nll - entropy)
      out["batch_typicality"] = tf.abs(tf.reduce_mean(nll) - entropy)
      out["batch_is_ood"] = out["batch_typicality"] > threshold
      out["entropy"] = entropy
      out["threshold"] = threshold
      if fit.batch_size == 1:
        out["is_ood"] = out["typicality"] > threshold
    if "input_complexity" in parts:
      bits = image_ops.png_bits(images)
      # As glow_ood.scores.InputComplexity(units="bits_per_dim").
      nll_bits = -terms["log_prob"] / np.log(2.)
      out["input_complexity"] = (nll_bits / self._num_dims
                                 - bits / self._num_dims)
      out["png_bits"] = bits
    return out


_PART_TEXT = {
    "log_prob": "log P(image) in nats (discrete), as launch/evaluate.py's "
                "scores.npz; higher = more likely.",
    "bits_per_dim": "Bits/dim; higher = more out-of-distribution.",
    "decomposition": "Glow's split of log p(x) into log p(z) and log|det|, "
                     "total, per level and per kind of layer; "
                     "per_level_likelihood: higher = more out-of-distribution.",
    "typicality": "Typicality test with its fitted entropy and threshold "
                  "(see metadata's typicality.fitted_on); scores: higher = "
                  "more out-of-distribution.",
    "input_complexity": "Input complexity (bits/dim), PNG lengths in the "
                        "graph; higher = more out-of-distribution.",
}
