"""Likelihood regret (Xiao, Yan & Amit 2020): how much a VAE's bound gains from a per-image posterior.

A VAE's encoder amortizes inference: one network maps every image `k` to the
parameters `tau(k) = (mu(k), log sigma(k))` of its posterior q(z | k). For
an in-distribution image they are near the best the posterior family can
do; for an OOD image the encoder, never trained there, is off, while the
decoder can often still explain the image well (which is why the VAE's
likelihood fails as an OOD score). Likelihood regret measures the gap:

    regret(k) = B(k; tau_hat(k)) - B(k; tau(k)),
    tau_hat(k) = argmax_tau B(k; tau),

with `B` the ELBO (`bound="elbo"`, default) or the IWAE bound
(`bound="iwae"`) of the image under the posterior `tau`, the decoder fixed:

    B_elbo(k; tau) = (1/S) sum_s log w_s,
    B_iwae(k; tau) = log (1/S) sum_s w_s,
    w_s = p(k | z_s) p(z_s) / q_tau(z_s | k),   z_s ~ q_tau(z | k).

`regret >= 0` by definition (`tau(k)` is a candidate), small for the images
the encoder was trained on, larger for OOD images; higher = more OOD.

#### What is optimized, and why

Xiao et al. reach `tau_hat(k)` by re-fitting the encoder's weights on the
single image (Adam, learning rate 1e-4, a fixed number of steps, 100 in the
paper's setting; the encoder reset before the next image). Here the
posterior parameters `tau = (mu, log sigma)` (`[L]` each) are optimized
directly, starting from the encoder's `tau(k)`:

  * it is the quantity the definition maximizes over; the encoder re-fit
    is one way to search it (a reparameterization with many more
    parameters);
  * each image has its own parameters and Adam's update is element-wise, so
    optimizing the summed bound of a batch of `B` images is exactly `B`
    independent per-image optimizations, run in one pass;
  * the model's variables are never written (no copy of the encoder to make
    and restore).

The learning rate does not carry over: 1e-4 moves each of `mu`, `log sigma`
by at most about 1e-2 in 100 Adam steps, so the default here is `1e-2` (an
Adam step changes each parameter by at most about the learning rate). With
the flow posterior (`VAEConfig.posterior="flow"`) `tau` is its base
Gaussian's; the couplings keep their context from the encoder's features.

#### The estimate

Step `t` ascends `(1/S_opt) sum_s log w_s` of `S_opt = num_samples` fresh
reparameterized draws (keyed by the image, `seed` and `t`: an image's
regret does not depend on its batch) with Adam (Kingma & Ba's update:
`beta_1 = 0.9`, `beta_2 = 0.999`, `epsilon = 1e-8`). Both bounds are then
estimated on the same `S_eval = num_eval_samples` draws of `eps` (common
random numbers): the difference is an unbiased estimate of the ELBO's gain
(for `"iwae"`, of the difference of two IWAE estimates), which can be
slightly negative when the optimizer gained nothing ("optimizer noise");
it is not clipped.

#### Shapes and cost

`Features.images` uint8 `[N, H, W, C]` -> float64 `[N]` (`bounds` gives
both bounds). Per image: `num_steps` forward and backward passes of the
decoder on `S_opt` samples (and of the encoder's features, for the flow
posterior's context and the keyed draws), plus `2 S_eval` forward passes,
in batches of `eval_batch_size` images. Nothing is fitted (`requires_fit =
False`: `fit` is a no-op). Results are remembered per image set and model
weights (`PassMemo`).

#### References
[1]: Xiao, Yan & Amit. Likelihood Regret: An Out-of-Distribution Detection
     Score for Variational Auto-encoder. NeurIPS 2020.
     https://arxiv.org/abs/2003.02977
[2]: Kingma & Ba. Adam: A Method for Stochastic Optimization. ICLR 2015.
     https://arxiv.org/abs/1412.6980
"""

import time

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import model_inputs
from glow_ood.models import density_model
from glow_ood.models import importance_sampling
from glow_ood.scores import base
from glow_ood.scores import pass_memo

__all__ = ["LikelihoodRegret", "BOUNDS"]

BOUNDS = ("elbo", "iwae")
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-8


class LikelihoodRegret(base.Score):
  """`B(k; tau_hat) - B(k; tau)`: the bound's gain from a per-image posterior (module doc).

  Args:
    model: a trained VAE (a model with the `"elbo"` capability); read, never
      written.
    num_steps: Python `int >= 0`, Adam steps per image. Default value:
      `100` (the paper's).
    learning_rate: Python `float > 0`, Adam's on `(mu, log sigma)`. Default
      value: `1e-2`.
    num_samples: `S_opt`, draws per step. Default value: `1`.
    num_eval_samples: `S_eval`, draws of the two bounds. Default value:
      `16`.
    bound: `"elbo"` or `"iwae"`. Default value: `"elbo"`.
    eval_batch_size: Python `int`, images optimized together. Default
      value: `64`.
    batch_size: Python `int`, `M` of `score_batches`. Default value: `1`.
    seed: Python `int`, seeds the draws. Default value: `0`.
    memo: a `PassMemo` of `model` shared with other scores of the same
      model (`GradientScoreTest`'s). Default value: a new one.

  Raises:
    MissingCapabilityError: the model has no `"elbo"` capability.
  """
  name = "likelihood_regret"
  required_features = ("images",)
  requires_model = True
  required_capabilities = ("elbo",)
  requires_fit = False

  def __init__(self, model, num_steps=100, learning_rate=1e-2, num_samples=1,
               num_eval_samples=16, bound="elbo", eval_batch_size=64,
               batch_size=1, seed=0, memo=None):
    super().__init__()
    for capability in self.required_capabilities:
      density_model.require_capability(model, capability, "Likelihood regret")
    if bound not in BOUNDS:
      raise ValueError(f"LikelihoodRegret: bound must be one of {BOUNDS}; got "
                       f"{bound!r}.")
    if not learning_rate > 0.:
      raise ValueError(f"LikelihoodRegret: learning_rate must be > 0; got "
                       f"{learning_rate!r}.")
    where = "LikelihoodRegret"
    self.num_steps = density_model.check_count(num_steps, "num_steps", where)
    self.learning_rate = float(learning_rate)
    self.num_samples = density_model.check_count(num_samples, "num_samples",
                                                 where, minimum=1)
    self.num_eval_samples = density_model.check_count(
        num_eval_samples, "num_eval_samples", where, minimum=1)
    self.bound = bound
    self.eval_batch_size = density_model.check_count(
        eval_batch_size, "eval_batch_size", where, minimum=1)
    self.batch_size = density_model.check_count(batch_size, "batch_size",
                                                where, minimum=1)
    self.seed = int(seed)
    self._model = model
    self._memo = pass_memo.shared_or_new(memo, model)
    self._pass_key = (self.name, self.num_steps, self.learning_rate,
                      self.num_samples, self.num_eval_samples, self.bound,
                      self.seed)
    self._seconds_per_example = None
    self._fn = tf.function(self._bounds, input_signature=[
        tf.TensorSpec([None, *model.config.image_shape], tf.uint8)])

  def _bound(self, log_weights):
    if self.bound == "elbo":
      return tf.reduce_mean(log_weights, axis=0)
    return importance_sampling.log_mean_exp(log_weights, axis=0)

  def _bounds(self, images):
    """`(B(k; tau), B(k; tau_hat))`, each `[B]`, of a batch of uint8 images."""
    model = self._model
    dtype = tf.as_dtype(model.config.dtype)
    posterior = [tf.stop_gradient(t) for t in model.encode(images)]
    first = [tf.zeros_like(t) for t in posterior]
    second = [tf.zeros_like(t) for t in posterior]
    step_seed = tf.constant([self.seed, 1], tf.int64)
    for step in tf.range(self.num_steps):
      with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(posterior)
        objective = tf.reduce_sum(tf.reduce_mean(model.log_weights(
            images, self.num_samples,
            seed=tf.random.experimental.stateless_fold_in(step_seed, step),
            posterior=posterior), axis=0))
      gradients = tape.gradient(objective, posterior)
      t = tf.cast(step + 1, dtype)
      correction = (tf.sqrt(1. - tf.pow(tf.constant(_BETA_2, dtype), t))
                    / (1. - tf.pow(tf.constant(_BETA_1, dtype), t)))
      first = [_BETA_1 * m + (1. - _BETA_1) * g
               for m, g in zip(first, gradients)]
      second = [_BETA_2 * v + (1. - _BETA_2) * tf.square(g)
                for v, g in zip(second, gradients)]
      # Ascent: the bound is maximized.
      posterior = [p + self.learning_rate * correction * m
                   / (tf.sqrt(v) + _EPSILON)
                   for p, m, v in zip(posterior, first, second)]
    eval_seed = tf.constant([self.seed, 2], tf.int64)
    amortized = self._bound(model.log_weights(
        images, self.num_eval_samples, seed=eval_seed))
    optimized = self._bound(model.log_weights(
        images, self.num_eval_samples, seed=eval_seed, posterior=posterior))
    return amortized, optimized

  def _run(self, images):
    self._fn.get_concrete_function()   # traces once, outside the timing
    start = time.perf_counter()
    parts = [self._fn(tf.constant(images[i:i + self.eval_batch_size]))
             for i in range(0, len(images), self.eval_batch_size)]
    self._seconds_per_example = (time.perf_counter() - start) / len(images)
    return tuple(np.concatenate([p[j].numpy() for p in parts]).astype(
        np.float64) for j in range(2))

  def bounds(self, features):
    """`(amortized, optimized)`: `B(k; tau)` and `B(k; tau_hat)`, float64 `[N]` each (nats)."""
    self._check_features(features, "bounds")
    images = model_inputs.uint8_image_batch(
        features.images, self._model.config, "LikelihoodRegret")
    return self._memo.get(images, self._run, extra_key=self._pass_key)

  def _score(self, features):
    amortized, optimized = self.bounds(features)
    return optimized - amortized

  def score_batches(self, features, seed=None):
    """The mean regret of each batch of `M = batch_size` examples.

    Args:
      features: `Features` with `images`.
      seed: `None` (default) groups consecutive examples `[0, M)`, `[M, 2M)`,
        ...; an `int` shuffles the examples with that seed first.

    Returns:
      float64 `[N // M]`; the last `N % M` examples are left out.
    """
    return base.batch_means(self(features), self.batch_size, seed)

  @property
  def seconds_per_example(self):
    """Wall time per image of the last pass that ran (not remembered), or `None`."""
    return self._seconds_per_example

  def _config(self):
    return {"num_steps": self.num_steps, "learning_rate": self.learning_rate,
            "num_samples": self.num_samples,
            "num_eval_samples": self.num_eval_samples, "bound": self.bound,
            "eval_batch_size": self.eval_batch_size,
            "batch_size": self.batch_size, "seed": self.seed}
