"""`Features`: per-example model outputs that every OOD score is computed from.

The expensive passes (a Glow over a dataset, an ensemble, a background model)
run once per dataset and are stored here as numpy arrays; the scores in
`glow_ood.scores` are cheap functions of them. All likelihoods are in nats;
the image likelihoods are the discrete log-probabilities of
`glow_ood.preprocessing` (the quantity of the paper's histograms), not the
continuous density `log p(x)` of `glow_ood.Glow.log_prob`:

    discrete_log_prob = log p(x) - D * n_bits * log 2   (log P(image's bin))
    bits/dim          = -discrete_log_prob / (D * log 2).

With `N` examples, every field is optional and, when given, per example:

    discrete_log_prob             [N]      float64
    num_dims                      int      D = H * W * C
    discrete_log_prob_members     [M, N]   float64, discrete_log_prob under
                                           each ensemble member
    discrete_log_prob_background  [N]      float64, discrete_log_prob under a
                                           background model
    log_prob_z_per_level          [N, L]   float64, log p(z_l) (priors'
                                           log-dets included)
    log_det_per_level             [N, L]   float64, log|det dz/dx| of level
                                           l's bijectors
    num_dims_per_level            (L,)     ints, dimensions of each level's
                                           latent z_l
    images                        [N, H, W, C] uint8, the images the model
                                           scored
    latents                       [N, D]   float32, a flow's standardized
                                           latents eps_l = (z_l - mu_l) /
                                           sigma_l under each level's prior,
                                           levels concatenated in order
                                           (sizes num_dims_per_level)
    statistics                    {name: [N]} float64, per-example summary
                                           statistics a model computes
                                           besides log P (a VAE's rate,
                                           distortion, posterior entropy; a
                                           PixelCNN's per-pixel NLL spread
                                           and quantiles), for DoSE

Level `l` contributes `log_prob_z_per_level[:, l] + log_det_per_level[:, l]`
to log p(x); summed over levels and added to the discretization constant
`-D * n_bits * log 2` they give `discrete_log_prob` (see
`glow_ood.models.glow.Decomposition`).
"""

import dataclasses
import types
from typing import Mapping, Optional, Tuple

import numpy as np

from glow_ood import preprocessing

__all__ = ["Features", "FIELDS", "FIELD_HINTS", "from_likelihood_terms"]

# How to provide each field, for error messages of scores that need it.
FIELD_HINTS = {
    "discrete_log_prob": ("log P(image) = log p(x) - D n_bits log 2 in nats "
                          "per example (Features.from_decomposition("
                          "model.decompose(x), ...) or LikelihoodTerms."
                          "discrete_log_prob)"),
    "num_dims": "D = H * W * C of the model's input (Glow.num_dims)",
    "discrete_log_prob_members": ("[M, N] discrete_log_prob of the same "
                                  "examples under each of M >= 2 "
                                  "independently trained models"),
    "discrete_log_prob_background": ("[N] discrete_log_prob under a "
                                     "background model trained on mutated "
                                     "inputs (glow_ood.scores.mutate)"),
    "log_prob_z_per_level": ("[N, L] Decomposition.log_prob_z_per_level "
                             "(Features.from_decomposition)"),
    "log_det_per_level": ("[N, L] Decomposition.log_det_per_level "
                          "(Features.from_decomposition)"),
    "num_dims_per_level": ("(L,) latent sizes of the levels, e.g. "
                           "[s.num_elements() for s in "
                           "model.flow.latent_shapes]"),
    "images": "uint8 [N, H, W, C], the images the model scored",
    "latents": ("[N, D] a flow's standardized latents, levels flattened "
                "and concatenated (likelihood_terms.LikelihoodTermsEvaluator(model, "
                "latents=True), or Glow.encode of the preprocessed images)"),
    "statistics": ("{name: [N]} the model's per-example summary statistics "
                   "(likelihood_terms.LikelihoodTermsEvaluator(model, statistics=True), "
                   "or model.summary_statistics(images))"),
}
FIELDS = tuple(FIELD_HINTS)

# Fields indexed by example along axis 0 (discrete_log_prob_members: axis 1).
_PER_EXAMPLE = ("discrete_log_prob", "discrete_log_prob_background",
                "log_prob_z_per_level", "log_det_per_level", "images",
                "latents")


def _as_float64(name, value, ndim):
  array = np.asarray(value, np.float64)
  if array.ndim != ndim:
    raise ValueError(f"Features.{name} must have {ndim} dimension(s); got "
                     f"shape {array.shape}.")
  if not np.all(np.isfinite(array)):
    raise ValueError(f"Features.{name} has non-finite values (NaN or inf); "
                     "check the model pass that produced it.")
  return array


@dataclasses.dataclass(frozen=True, eq=False)
class Features:
  """Per-example likelihood terms and images of `N` examples (see module doc).

  Arrays are converted on construction (float64 for likelihoods and
  `statistics`, float32 for `latents`, the models' precision, which halves
  their memory; uint8 images are kept as they are) and validated: every
  per-example field must have the same `N`, per-level fields the same `L`,
  `num_dims` must be `H * W * C` of `images`, the sum of
  `num_dims_per_level` and the width of `latents`. Instances are immutable
  (`statistics` is a read-only mapping) and compare by identity (`eq=False`:
  fields are arrays).
  """
  discrete_log_prob: Optional[np.ndarray] = None
  num_dims: Optional[int] = None
  discrete_log_prob_members: Optional[np.ndarray] = None
  discrete_log_prob_background: Optional[np.ndarray] = None
  log_prob_z_per_level: Optional[np.ndarray] = None
  log_det_per_level: Optional[np.ndarray] = None
  num_dims_per_level: Optional[Tuple[int, ...]] = None
  images: Optional[np.ndarray] = None
  latents: Optional[np.ndarray] = None
  statistics: Optional[Mapping[str, np.ndarray]] = None

  def __post_init__(self):
    def put(name, value):
      object.__setattr__(self, name, value)

    for name in ("discrete_log_prob", "discrete_log_prob_background"):
      if getattr(self, name) is not None:
        put(name, _as_float64(name, getattr(self, name), 1))
    for name in ("discrete_log_prob_members", "log_prob_z_per_level",
                 "log_det_per_level"):
      if getattr(self, name) is not None:
        put(name, _as_float64(name, getattr(self, name), 2))
    if self.images is not None:
      images = np.asarray(self.images)
      if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(
            f"Features.images must be uint8 [N, H, W, C]; got {images.dtype} "
            f"of shape {images.shape}. Pass the raw images, not preprocessed "
            "floats (add a channel axis to grayscale [N, H, W] images).")
      put("images", images)
    if self.latents is not None:
      latents = np.asarray(self.latents, np.float32)
      if latents.ndim != 2:
        raise ValueError(f"Features.latents must be [N, D] (each example's "
                         f"levels flattened and concatenated); got shape "
                         f"{latents.shape}.")
      if not np.all(np.isfinite(latents)):
        raise ValueError("Features.latents has non-finite values (NaN or "
                         "inf); check the model pass that produced them.")
      put("latents", latents)
    if self.statistics is not None:
      if not isinstance(self.statistics, Mapping):
        raise TypeError(f"Features.statistics must be a mapping name -> [N] "
                        f"array; got {type(self.statistics).__name__}.")
      put("statistics", types.MappingProxyType(
          {str(name): _as_float64(f"statistics[{name!r}]", value, 1)
           for name, value in self.statistics.items()}))
    if self.num_dims is not None:
      if int(self.num_dims) != self.num_dims or self.num_dims < 1:
        raise ValueError(f"Features.num_dims must be a positive int; got "
                         f"{self.num_dims!r}.")
      put("num_dims", int(self.num_dims))
    if self.num_dims_per_level is not None:
      dims = tuple(int(d) for d in np.ravel(self.num_dims_per_level))
      if not dims or min(dims) < 1:
        raise ValueError(f"Features.num_dims_per_level must be positive ints; "
                         f"got {self.num_dims_per_level!r}.")
      put("num_dims_per_level", dims)
    self._check_consistency()

  def _check_consistency(self):
    sizes = {}
    for name in _PER_EXAMPLE:
      if getattr(self, name) is not None:
        sizes[name] = getattr(self, name).shape[0]
    if self.discrete_log_prob_members is not None:
      sizes["discrete_log_prob_members (axis 1)"] = (
          self.discrete_log_prob_members.shape[1])
    for name, value in (self.statistics or {}).items():
      sizes[f"statistics[{name!r}]"] = value.shape[0]
    if len(set(sizes.values())) > 1:
      raise ValueError(
          "Features fields disagree on the number of examples N: "
          + ", ".join(f"{k}={v}" for k, v in sizes.items())
          + ". Compute every field on the same examples, in the same order.")
    levels = {}
    for name in ("log_prob_z_per_level", "log_det_per_level"):
      if getattr(self, name) is not None:
        levels[name] = getattr(self, name).shape[1]
    if self.num_dims_per_level is not None:
      levels["num_dims_per_level"] = len(self.num_dims_per_level)
    if len(set(levels.values())) > 1:
      raise ValueError(
          "Features fields disagree on the number of levels L: "
          + ", ".join(f"{k}={v}" for k, v in levels.items()) + ".")
    dims = {}
    if self.num_dims is not None:
      dims["num_dims"] = self.num_dims
    if self.images is not None:
      dims["H*W*C of images"] = int(np.prod(self.images.shape[1:]))
    if self.num_dims_per_level is not None:
      dims["sum(num_dims_per_level)"] = sum(self.num_dims_per_level)
    if self.latents is not None:
      dims["latents.shape[1]"] = self.latents.shape[1]
    if len(set(dims.values())) > 1:
      raise ValueError(
          "Features fields disagree on the dimension D: "
          + ", ".join(f"{k}={v}" for k, v in dims.items())
          + ". num_dims is the model's H*W*C (after any padding); pass the "
          "images exactly as the model scored them.")

  @property
  def num_examples(self):
    """`N`, or `None` if no per-example field is set."""
    for name in _PER_EXAMPLE:
      if getattr(self, name) is not None:
        return getattr(self, name).shape[0]
    if self.discrete_log_prob_members is not None:
      return self.discrete_log_prob_members.shape[1]
    for value in (self.statistics or {}).values():
      return value.shape[0]
    return None

  def __len__(self):
    return self.num_examples or 0

  def latents_per_level(self):
    """`latents` split into the levels: `L` arrays `[N, num_dims_per_level[l]]`."""
    missing = self.missing(("latents", "num_dims_per_level"))
    if missing:
      raise ValueError(f"latents_per_level needs Features field(s) "
                       f"{', '.join(missing)}.")
    return np.split(self.latents, np.cumsum(self.num_dims_per_level)[:-1],
                    axis=1)

  def missing(self, names):
    """The names in `names` whose field is `None`, in order."""
    return tuple(name for name in names if getattr(self, name) is None)

  def take(self, indices):
    """The examples `indices` (ints `[K]`, repeats allowed, or a bool mask `[N]`).

    Per-example fields are indexed (`discrete_log_prob_members` along its
    axis 1, each entry of `statistics`); `num_dims` and
    `num_dims_per_level` are kept.
    """
    indices = np.asarray(indices)
    if indices.size == 0:
      indices = indices.astype(np.int64)
    if indices.dtype != bool and not np.issubdtype(indices.dtype, np.integer):
      raise TypeError(f"take needs integer indices or a bool mask; got "
                      f"{indices.dtype}.")
    changes = {name: getattr(self, name)[indices] for name in _PER_EXAMPLE
               if getattr(self, name) is not None}
    if self.discrete_log_prob_members is not None:
      changes["discrete_log_prob_members"] = (
          self.discrete_log_prob_members[:, indices])
    if self.statistics is not None:
      changes["statistics"] = {name: value[indices]
                               for name, value in self.statistics.items()}
    return dataclasses.replace(self, **changes)

  def __getitem__(self, index):
    """`features[a:b]`, `features[i]`, `features[indices]`: `take` of those.

    Every field keeps its example axis (`features[i]` has `N = 1`).
    """
    if isinstance(index, slice):
      index = np.arange(len(self))[index]
    elif np.ndim(index) == 0:
      index = [index]   # features[i] keeps the example axis
    return self.take(index)

  @classmethod
  def from_decomposition(cls, decomposition, num_dims, n_bits=8, **fields):
    """Features from a `glow_ood.models.glow.Decomposition` of dequantized images.

    `discrete_log_prob = decomposition.log_prob - D * n_bits * log 2` (the
    continuous log p(x) made discrete); the per-level terms are copied as
    they are.

    Args:
      decomposition: `Decomposition` of `model.decompose(x)`, tensors or arrays.
      num_dims: Python `int`, `D` (`model.num_dims`).
      n_bits: Python `int`, the model's bits per pixel. Default value: `8`.
      **fields: other `Features` fields (e.g. `images`, `num_dims_per_level`).
    """
    def numpy(value):
      return np.asarray(value.numpy() if hasattr(value, "numpy") else value,
                        np.float64)

    constant = preprocessing.discretization_correction(num_dims, n_bits)
    return cls(discrete_log_prob=numpy(decomposition.log_prob) + constant,
               num_dims=num_dims,
               log_prob_z_per_level=numpy(decomposition.log_prob_z_per_level),
               log_det_per_level=numpy(decomposition.log_det_per_level),
               **fields)


def from_likelihood_terms(scores, *, members=None, background=None, images=None,
                      num_dims_per_level=None):
  """`Features` from `glow_ood.likelihood_terms.LikelihoodTerms` of one dataset.

  The scores' `latents` and `statistics` (when the scorer was asked for
  them) are copied too.

  Args:
    scores: `LikelihoodTerms` of the model being tested.
    members: optional sequence of `LikelihoodTerms` of ensemble members (on the
      same images, same order) -> `discrete_log_prob_members` `[M, N]`.
    background: optional `LikelihoodTerms` of the background model.
    images: optional uint8 `[N, H, W, C]`, the scored images.
    num_dims_per_level: optional per-level latent sizes (for per-dimension
      per-level scores), e.g. `[s.num_elements() for s in flow.latent_shapes]`.
  """
  return Features(
      discrete_log_prob=scores.discrete_log_prob, num_dims=scores.num_dims,
      discrete_log_prob_members=(
          None if members is None else
          np.stack([m.discrete_log_prob for m in members])),
      discrete_log_prob_background=(
          None if background is None else background.discrete_log_prob),
      log_prob_z_per_level=scores.log_prob_z_per_level,
      log_det_per_level=scores.log_det_per_level,
      num_dims_per_level=(None if num_dims_per_level is None else
                          tuple(int(d) for d in num_dims_per_level)),
      images=images,
      latents=scores.latents,
      statistics=scores.statistics)
