"""The VAE family: a convolutional VAE over 8-bit images, behind `density_model`."""

import itertools
import math
import operator

import numpy as np
import tensorflow.compat.v2 as tf

from glow_ood import model_inputs
from glow_ood import preprocessing
from glow_ood.configs.vae import VAEConfig
from glow_ood.models import dense
from glow_ood.models import density_model
from glow_ood.models import importance_sampling
from glow_ood.models import pixel_likelihoods
from glow_ood.models import vae_posterior

__all__ = ["VAE", "EVAL_SEED", "MIN_LOG_SCALE"]

# Default stateless seed of `discrete_log_prob` / `bits_per_dim` /
# `data_init`: evaluation numbers are reproducible unless a seed is given.
EVAL_SEED = (0, 0)
# Lower bound of the discretized logistic's log-scale in pixel units (a scale
# of e^-7 bins puts all the mass in one bin), as PixelCNN++ clamps its own.
MIN_LOG_SCALE = -7.
# Decoder outputs (floats) per chunk of importance samples in
# `discrete_log_prob`: 2**24 floats is 64 MB in float32.
_CHUNK_ELEMENTS = 2 ** 24
_HALF_LOG_2PI = 0.5 * math.log(2. * math.pi)


class _Conv(tf.Module):
  """3x3 convolution, `SAME` padding: `[N, H, W, c_in] -> [N, H/s, W/s, c_out]`."""

  def __init__(self, c_in, c_out, stride, seed, dtype, name):
    super().__init__(name=name)
    self._stride = stride
    limit = math.sqrt(6. / (9 * c_in))
    with self.name_scope:
      self.kernel = tf.Variable(tf.random.stateless_uniform(
          [3, 3, c_in, c_out], seed=seed, minval=-limit, maxval=limit,
          dtype=dtype), name="kernel")
      self.bias = tf.Variable(tf.zeros([c_out], dtype), name="bias")

  def __call__(self, x):
    return tf.nn.conv2d(x, self.kernel, self._stride, "SAME") + self.bias


class _ConvTranspose(tf.Module):
  """Transposed 3x3 stride-2 convolution: `[N, H, W, c_in] -> [N, 2H, 2W, c_out]`."""

  def __init__(self, c_in, c_out, seed, dtype, name):
    super().__init__(name=name)
    self._c_out = c_out
    # Each output pixel sees about 9/4 of the 3x3 taps at stride 2.
    limit = math.sqrt(6. / (9 * c_in / 4.))
    with self.name_scope:
      self.kernel = tf.Variable(tf.random.stateless_uniform(
          [3, 3, c_out, c_in], seed=seed, minval=-limit, maxval=limit,
          dtype=dtype), name="kernel")
      self.bias = tf.Variable(tf.zeros([c_out], dtype), name="bias")

  def __call__(self, x):
    shape = tf.shape(x)
    output_shape = tf.stack([shape[0], 2 * shape[1], 2 * shape[2], self._c_out])
    return tf.nn.conv2d_transpose(x, self.kernel, output_shape, 2,
                                  "SAME") + self.bias


class VAE(density_model.DensityModel):
  """A convolutional VAE (Kingma & Welling 2014) with a discrete pixel likelihood.

  Model, with `z` in `R^L` (`L = latent_dim`) and `k` the image's `n_bits`
  bins `[H, W, C]` (`k = pixel // 2**(8 - n_bits)`):

      p(z) = N(0, I_L),   p(k | z) = prod_pixels P(k_i | decoder(z)),
      q(z | k) = N(mu(k), diag(sigma(k)^2)),  (mu, log sigma) = encoder(x),

  `x = (k + 1/2) / 2**n_bits - 1/2` the bin centres (the encoder's input).
  With `config.posterior == "flow"`, q(z | k) is instead that Gaussian
  pushed through `config.posterior_flow_steps` RealNVP couplings conditioned
  on the encoder's features (`vae_posterior.FlowPosterior`):
  `z = f_k(mu + sigma * eps)`, `log q(z | k) = log N(z_0; mu, sigma) -
  log|det dz/dz_0|`, exact.
  Encoder: 3x3 stride-2 convolutions of `widths` channels with ReLU, flatten,
  dense to `2 L`. Decoder, the mirror image: dense to the smallest feature
  map `[H / 2**n, W / 2**n, widths[-1]]` (ReLU), `n = len(widths)`
  transposed 3x3 stride-2 convolutions (ReLU) of `widths[-2], ..., widths[0],
  widths[0]` channels, and a 3x3 convolution to the per-pixel parameters
  (`pixel_likelihoods`):

    * `"discretized_logistic"`: a location and a log-scale per pixel and
      channel, output in `[-0.5, 0.5)` units like `x` and mapped to pixel
      units, `loc = (m + 1/2) 2**n_bits - 1/2`, `log_scale = max(s + n_bits
      log 2, MIN_LOG_SCALE)`;
    * `"categorical"`: `2**n_bits` logits per pixel and channel.

  Every probability is of the discrete image (its bins), so no
  dequantization term enters, and bits/dim is `-log P(k) / (D log 2)`:

      elbo(k)   = E_q[log p(k | z)] - KL(q(z | k) || p(z))
      log P(k) ~= log (1/K) sum_j p(k, z_j) / q(z_j | k),  z_j ~ q   (IWAE)

  The KL (the rate) is analytic for the Gaussian posterior, and for the
  flow posterior the Monte Carlo estimate `(1/S) sum_s log q(z_s | k) - log
  p(z_s)` over the same `S` samples as the reconstruction (unbiased, no
  closed form exists).

  `loss_terms` (training) is the negative ELBO with `config.train_samples`
  reparameterized samples; `discrete_log_prob` (evaluation) the IWAE
  estimate (`importance_sampling.iwae_estimate`) with its standard error,
  `K = config.eval_samples` by default.

  #### Randomness
  Every draw is a stateless op of a seed. With `seed=None`, `loss_terms`,
  `elbo_terms` and `sample` draw a fresh seed each call (one stateful
  `tf.random.uniform`: training noise);
  `discrete_log_prob`, `bits_per_dim` and `data_init` default to `EVAL_SEED`,
  so evaluation numbers are reproducible. The `K` normal draws of
  `discrete_log_prob` for an image are keyed by the seed and by the image
  itself (a fingerprint of its pixels, `_image_keys`), so an image's
  estimate depends on the seed and on `K` only: not on the batch it is in,
  its position there, or `samples_per_chunk`; different images get
  independent draws (up to a fingerprint collision, which only makes two
  images share their draws). The initial weights are drawn from `config.seed`
  (same seed, same weights).

  #### Inputs
  Every method of images takes uint8 `[..., H, W, C]` (raw pixels 0..255,
  the model's `image_shape`) and keeps the batch shape `[...]`; float images raise `TypeError` naming the
  conversion, other shapes `ValueError` (`glow_ood.model_inputs`).

  Args:
    config: `VAEConfig`.
    name: Python `str`. Default value: `"vae"`.

  #### References
  [1]: Kingma & Welling. Auto-Encoding Variational Bayes. ICLR 2014.
       https://arxiv.org/abs/1312.6114
  [2]: Burda, Grosse & Salakhutdinov. Importance Weighted Autoencoders.
       ICLR 2016. https://arxiv.org/abs/1509.00519
  """

  training_input = "uint8"
  loss_part_names = ("reconstruction", "kl")

  def __init__(self, config, name="vae"):
    super().__init__(name=name)
    if not isinstance(config, VAEConfig):
      raise TypeError(f"VAE needs a VAEConfig; got {type(config).__name__}.")
    self._config = config
    self._dtype = tf.as_dtype(config.dtype)
    self._n_bins = 2 ** config.n_bits
    self._num_params = (2 if config.likelihood == "discretized_logistic"
                        else self._n_bins)
    h, w, c = config.image_shape
    widths = tuple(config.widths)
    factor = 2 ** len(widths)
    self._top_shape = (h // factor, w // factor, widths[-1])
    seeds = itertools.count()

    def seed():
      return tf.constant([config.seed, next(seeds)], tf.int64)

    with self.name_scope:
      channels = (c,) + widths
      self.encoder_convs = [
          _Conv(channels[i], channels[i + 1], 2, seed(), self._dtype,
                name=f"encoder_conv_{i}") for i in range(len(widths))]
      top_size = int(np.prod(self._top_shape))
      self.encoder_dense = dense.Dense(top_size, 2 * config.latent_dim,
                                       seed(), self._dtype,
                                       name="encoder_dense")
      self.decoder_dense = dense.Dense(config.latent_dim, top_size, seed(),
                                       self._dtype, name="decoder_dense")
      out_channels = widths[-2::-1] + widths[:1]
      in_channels = widths[::-1]
      self.decoder_convs = [
          _ConvTranspose(in_channels[i], out_channels[i], seed(), self._dtype,
                         name=f"decoder_conv_transpose_{i}")
          for i in range(len(widths))]
      self.decoder_output = _Conv(widths[0], c * self._num_params, 1, seed(),
                                  self._dtype, name="decoder_output")
      # Built last: the seeds above, hence the encoder's and decoder's
      # weights, are those of the Gaussian-posterior VAE of the same seed.
      if config.posterior == "flow":
        self.posterior_flow = vae_posterior.FlowPosterior(
            config.latent_dim, top_size, config.posterior_flow_steps,
            widths[-1], seed(), self._dtype)

  # -- The density_model interface ---------------------------------------------

  @property
  def config(self):
    return self._config

  @property
  def num_dims(self):
    return self._config.num_dims

  @property
  def is_initialized(self):
    """Always `True`: the VAE has no data-dependent initialization."""
    return True

  def loss_terms(self, images):
    """`density_model.LossTerms` of a training batch of uint8 images `[..., H, W, C]`.

    bits/dim `-elbo / (D log 2)` per example with `config.train_samples`
    fresh reparameterized samples of q; parts `reconstruction` and `kl`
    (nats, see `elbo_terms`; the flow posterior's `kl` is the Monte Carlo
    estimate over those samples).
    """
    terms = self._elbo_terms(images, self._config.train_samples, None,
                             "VAE.loss_terms")
    return density_model.LossTerms(
        bits_per_dim=self._to_bits_per_dim(terms["elbo"]),
        parts={"reconstruction": terms["reconstruction"], "kl": terms["kl"]})

  def data_init(self, images):
    """No data-dependent initialization: the batch's `-elbo / (D log 2)`, `[...]`.

    With `config.train_samples` samples drawn from `EVAL_SEED`.
    """
    terms = self._elbo_terms(images, self._config.train_samples, EVAL_SEED,
                             "VAE.data_init")
    return self._to_bits_per_dim(terms["elbo"])

  def discrete_log_prob(self, images, num_samples=None, seed=None,
                        samples_per_chunk=None):
    """IWAE `density_model.Estimate` of log P(image) (nats) of uint8 images `[..., H, W, C]`.

    `log (1/K) sum_j p(k, z_j) / q(z_j | k)` over `K` samples `z_j ~ q(z | k)`,
    with its delta-method standard error (`importance_sampling.iwae_estimate`;
    `exp` of it is unbiased for P(k), the log a lower bound in expectation,
    rising with `K`). The decoder runs on `samples_per_chunk` samples of the
    whole batch at a time, so `K` in the hundreds or thousands fits in memory.

    Args:
      images: uint8 `[..., H, W, C]`.
      num_samples: `K`, Python `int >= 1`. Default value: `None`,
        `config.eval_samples`.
      seed: stateless seed (`int` or `[2]` ints). Default value: `None`,
        `EVAL_SEED` (reproducible; see "Randomness" in the class docstring).
      samples_per_chunk: Python `int`, samples decoded at once. Default
        value: `None`, as many as keep a chunk's decoder output near 2**24
        floats (a batch of 64 is assumed if the batch size is unknown).

    Returns:
      `Estimate(log_prob=[...], stderr=[...])`.
    """
    num_samples = density_model.check_count(
        self._config.eval_samples if num_samples is None else num_samples,
        "num_samples", "VAE.discrete_log_prob", minimum=1)
    bins, batch_shape = self._bins(images, "VAE.discrete_log_prob")
    batch = bins.shape[0] if bins.shape[0] is not None else 64
    if samples_per_chunk is None:
      h, w, c = self._config.image_shape
      per_sample = h * w * (c * self._num_params + self._config.widths[0])
      samples_per_chunk = max(1, _CHUNK_ELEMENTS // (max(batch, 1) * per_sample))
    samples_per_chunk = density_model.check_count(
        samples_per_chunk, "samples_per_chunk", "VAE.discrete_log_prob",
        minimum=1)
    features = self._features(bins)
    loc, log_scale = self._gaussian(features)
    eps = _keyed_normal(
        _eval_seed(seed, "VAE.discrete_log_prob"), self._image_keys(bins),
        num_samples, self._config.latent_dim, self._dtype)  # [K, B, L]
    log_weights = []
    for start in range(0, num_samples, samples_per_chunk):
      z, log_q = self._posterior_sample(
          loc, log_scale, features, eps[start:start + samples_per_chunk])
      log_weights.append(self._log_likelihood(bins, z) + _log_prior(z)
                         - log_q)
    estimate = importance_sampling.iwae_estimate(tf.concat(log_weights, 0))
    return density_model.Estimate(
        log_prob=tf.reshape(estimate.log_prob, batch_shape),
        stderr=tf.reshape(estimate.stderr, batch_shape))

  def _image_keys(self, bins):
    """`[B]` int64 fingerprints of `[B, H, W, C]` pixel values in [0, 2**31).

    `sum_i k_i w_i mod (2**31 - 1)` with fixed pseudo-random weights
    `w_i` (from `numpy.random.default_rng(0)`, not from the model's seed).
    """
    shape = self._config.image_shape
    weights = np.random.default_rng(0).integers(1, 2 ** 20, shape)
    total = tf.reduce_sum(tf.cast(bins, tf.int64) * weights, axis=[-3, -2, -1])
    return tf.math.floormod(total, 2 ** 31 - 1)

  def bits_per_dim(self, images, num_samples=None, seed=None):
    """`-discrete_log_prob(images).log_prob / (D log 2)`, `[...]` (same defaults)."""
    log_prob = self.discrete_log_prob(images, num_samples, seed).log_prob
    return self._to_bits_per_dim(log_prob)

  def sample(self, num_samples, seed=None):
    """`num_samples` images `[n, H, W, C]` in [-0.5, 0.5): `z ~ p(z)`, `k ~ p(k | z)`.

    Each pixel is its bin centre `(k + 1/2) / 2**n_bits - 1/2`, so
    `preprocessing.to_uint8(x, n_bits)` gives back `k`'s 8-bit pixels.
    `seed`: stateless seed (`int` or `[2]`); `None` draws a fresh one.
    """
    num_samples = density_model.sample_count(num_samples, "VAE.sample")
    seeds = tf.random.experimental.stateless_split(
        density_model.stateless_seed(seed, "VAE.sample"), 2)
    z = tf.random.stateless_normal([num_samples, self._config.latent_dim],
                                   seed=seeds[0], dtype=self._dtype)
    params = self._decode(z)
    if self._config.likelihood == "discretized_logistic":
      bins = pixel_likelihoods.discretized_logistic_sample(
          params[0], params[1], self._config.n_bits, seeds[1])
    else:
      bins = pixel_likelihoods.categorical_sample(params, seeds[1])
    return (tf.cast(bins, self._dtype) + 0.5) / self._n_bins - 0.5

  # -- The "elbo" capability and its terms -------------------------------------

  def elbo_terms(self, images, num_samples=1, seed=None):
    """The ELBO of uint8 images `[..., H, W, C]` and its two terms, nats per example.

    Args:
      images: uint8 `[..., H, W, C]`.
      num_samples: Python `int >= 1`, reparameterized samples of q.
        Default value: `1`.
      seed: stateless seed (`int` or `[2]`). Default value: `None`, a fresh
        one each call.

    Returns:
      `{"reconstruction": [...], "kl": [...], "elbo": [...]}`:
      `reconstruction = (1/S) sum_s log p(k | z_s)`, `z_s ~ q(z | k)` (an
      unbiased estimate of `E_q log p(k | z)`), `kl = KL(q(z | k) || N(0, I))
      = 1/2 sum_l (mu_l^2 + sigma_l^2 - 1 - 2 log sigma_l)` for the Gaussian
      posterior, `kl = (1/S) sum_s log q(z_s | k) - log p(z_s)` (an
      unbiased estimate, which can be negative for one image) for the flow
      posterior, and `elbo = reconstruction - kl <= log P(k)` in
      expectation.
    """
    return self._elbo_terms(images, num_samples, seed, "VAE.elbo_terms")

  def _elbo_terms(self, images, num_samples, seed, where):
    num_samples = density_model.check_count(num_samples, "num_samples", where,
                                            minimum=1)
    bins, batch_shape = self._bins(images, where)
    features = self._features(bins)
    loc, log_scale = self._gaussian(features)
    z, log_q = self._posterior_sample(
        loc, log_scale, features, self._normals(num_samples, loc, seed, where))
    reconstruction = tf.reduce_mean(self._log_likelihood(bins, z), axis=0)
    if self._config.posterior == "flow":
      kl = tf.reduce_mean(log_q - _log_prior(z), axis=0)
    else:
      kl = 0.5 * tf.reduce_sum(tf.square(loc) + tf.exp(2. * log_scale) - 1.
                               - 2. * log_scale, axis=-1)
    return {name: tf.reshape(value, batch_shape) for name, value in
            (("reconstruction", reconstruction), ("kl", kl),
             ("elbo", reconstruction - kl))}

  def summary_statistics(self, images, num_samples=1, seed=None):
    """Per-example statistics of uint8 images `[..., H, W, C]` besides log P (nats).

    The "statistics" capability (`density_model`), for DoSE: with `S =
    num_samples` draws `z_s ~ q(z | k)`, keyed by the seed and the image
    (as `discrete_log_prob`'s: an image's values do not depend on its batch),

      rate               KL(q(z | k) || p(z)): analytic for the Gaussian
                         posterior, `(1/S) sum_s log q(z_s | k) - log p(z_s)`
                         for the flow posterior (as `elbo_terms`);
      distortion         `-(1/S) sum_s log p(k | z_s)`, minus the
                         reconstruction term;
      posterior_entropy  `H[q(z | k)]`: `sum_l log sigma_l + L/2 log(2 pi e)`
                         for the Gaussian posterior, `-(1/S) sum_s log q(z_s
                         | k)` for the flow posterior;

    each `[...]`. The IWAE estimate is `discrete_log_prob`.

    Args:
      images: uint8 `[..., H, W, C]`.
      num_samples: `S`, Python `int >= 1`. Default value: `1`.
      seed: stateless seed (`int` or `[2]`). Default value: `None`,
        `EVAL_SEED` (reproducible).

    Returns:
      `{"rate": [...], "distortion": [...], "posterior_entropy": [...]}`.
    """
    num_samples = density_model.check_count(
        num_samples, "num_samples", "VAE.summary_statistics", minimum=1)
    bins, batch_shape = self._bins(images, "VAE.summary_statistics")
    features = self._features(bins)
    loc, log_scale = self._gaussian(features)
    eps = _keyed_normal(
        _eval_seed(seed, "VAE.summary_statistics"),
        self._image_keys(bins), num_samples, self._config.latent_dim,
        self._dtype)   # [S, B, L]
    z, log_q = self._posterior_sample(loc, log_scale, features, eps)
    distortion = -tf.reduce_mean(self._log_likelihood(bins, z), axis=0)
    if self._config.posterior == "flow":
      rate = tf.reduce_mean(log_q - _log_prior(z), axis=0)
      entropy = -tf.reduce_mean(log_q, axis=0)
    else:
      rate = 0.5 * tf.reduce_sum(tf.square(loc) + tf.exp(2. * log_scale) - 1.
                                 - 2. * log_scale, axis=-1)
      entropy = tf.reduce_sum(log_scale, axis=-1) + self._config.latent_dim * (
          _HALF_LOG_2PI + 0.5)
    return {name: tf.reshape(value, batch_shape) for name, value in
            (("rate", rate), ("distortion", distortion),
             ("posterior_entropy", entropy))}

  def log_weights(self, images, num_samples=1, seed=None, posterior=None):
    """Log importance weights `log p(k, z_s) - log q(z_s | k)` of uint8 images, nats `[S, ...]`.

    The per-sample terms of `discrete_log_prob` (the IWAE estimate is their
    `importance_sampling.log_mean_exp` over `S`) and of the ELBO (their
    mean): with `z_s ~ q(z | k)`, `s = 1..S`, the draws keyed by the seed
    and the image as `discrete_log_prob`'s (same seed and `S`, same draws;
    an image's weights do not depend on its batch). Differentiable in the
    model's weights and in `posterior` (reparameterized draws); used by the
    gradient scores (`density_model.differentiable_log_prob`) and by
    likelihood regret (`glow_ood.scores.LikelihoodRegret`), which optimizes
    `posterior` per image.

    Args:
      images: uint8 `[..., H, W, C]`.
      num_samples: `S`, Python `int >= 1`. Default value: `1`.
      seed: stateless seed (`int` or `[2]`). Default value: `None`,
        `EVAL_SEED`.
      posterior: `None` for the encoder's q(z | k), or a pair `(mu, log
        sigma)`, each `[..., L]`, replacing the encoder's (with the flow
        posterior: its base Gaussian; the couplings keep the context the
        encoder computes from `images`). Default value: `None`.

    Returns:
      `[S, ...]` float: `log p(k | z_s) + log p(z_s) - log q(z_s | k)`.
    """
    num_samples = density_model.check_count(
        num_samples, "num_samples", "VAE.log_weights", minimum=1)
    bins, batch_shape = self._bins(images, "VAE.log_weights")
    features = self._features(bins)
    if posterior is None:
      loc, log_scale = self._gaussian(features)
    else:
      loc, log_scale = (tf.reshape(tf.convert_to_tensor(t, self._dtype),
                                   [-1, self._config.latent_dim])
                        for t in posterior)
    eps = _keyed_normal(
        _eval_seed(seed, "VAE.log_weights"), self._image_keys(bins),
        num_samples, self._config.latent_dim, self._dtype)   # [S, B, L]
    z, log_q = self._posterior_sample(loc, log_scale, features, eps)
    weights = self._log_likelihood(bins, z) + _log_prior(z) - log_q
    return tf.reshape(weights, tf.concat([[num_samples], batch_shape], 0))

  def encode(self, images):
    """`(mu, log sigma)` of q(z | k) for uint8 images `[..., H, W, C]`: each `[..., L]`.

    For the flow posterior, those of its base Gaussian (the distribution of
    `z_0`, before the couplings).
    """
    bins, batch_shape = self._bins(images, "VAE.encode")
    latent_shape = tf.concat([batch_shape, [self._config.latent_dim]], 0)
    return tuple(tf.reshape(t, latent_shape) for t in self._encode(bins))

  def posterior_sample(self, images, num_samples=1, seed=None):
    """`z ~ q(z | k)` and `log q(z | k)` (nats) of uint8 images `[..., H, W, C]`.

    The draws of `elbo_terms` with the same `num_samples` and `seed`
    (reparameterized: differentiable in the weights).

    Args:
      images: uint8 `[..., H, W, C]`.
      num_samples: `S`, Python `int >= 1`. Default value: `1`.
      seed: stateless seed (`int` or `[2]`). Default value: `None`, a fresh
        one each call.

    Returns:
      `(z [S, ..., L], log_q [S, ...])`; `log_q` exact (Gaussian density, or
      with the flow posterior minus the flow's log|det dz/dz_0|).
    """
    num_samples = density_model.check_count(
        num_samples, "num_samples", "VAE.posterior_sample", minimum=1)
    bins, batch_shape = self._bins(images, "VAE.posterior_sample")
    features = self._features(bins)
    loc, log_scale = self._gaussian(features)
    z, log_q = self._posterior_sample(
        loc, log_scale, features,
        self._normals(num_samples, loc, seed, "VAE.posterior_sample"))
    shape = tf.concat([[num_samples], batch_shape], 0)
    return (tf.reshape(z, tf.concat([shape, [self._config.latent_dim]], 0)),
            tf.reshape(log_q, shape))

  def log_likelihood(self, images, z):
    """`log p(k | z)` (nats) of uint8 images `[..., H, W, C]` given latents `[S, ..., L]` -> `[S, ...]`."""
    bins, batch_shape = self._bins(images, "VAE.log_likelihood")
    z = tf.convert_to_tensor(z, self._dtype)
    if z.shape.rank is not None and z.shape.rank != batch_shape.shape[0] + 2:
      raise ValueError(
          f"VAE.log_likelihood takes latents [S, ..., {self._config.latent_dim}]"
          f" (S samples per image of the batch) but got shape {z.shape}.")
    num = tf.shape(z)[0]
    z = tf.reshape(z, [num, -1, self._config.latent_dim])
    return tf.reshape(self._log_likelihood(bins, z),
                      tf.concat([[num], batch_shape], 0))

  # -- Internals (flat batches) ------------------------------------------------

  def _bins(self, images, where):
    """uint8 images `[..., H, W, C]` -> (int32 bins `[B, H, W, C]`, batch shape)."""
    images = model_inputs.discrete_uint8_images(
        images, self._config, where, "the VAE's training_input")
    batch_shape = tf.shape(images)[:-3]
    bins = preprocessing.to_bins(images, self._config.n_bits)
    return tf.reshape(bins, [-1, *self._config.image_shape]), batch_shape

  def _encode(self, bins):
    """int bins `[B, H, W, C]` -> `(mu, log sigma)` of q(z | k), each `[B, L]`."""
    return self._gaussian(self._features(bins))

  def _features(self, bins):
    """int bins `[B, H, W, C]` -> the encoder's features `[B, prod(top shape)]`."""
    h = (tf.cast(bins, self._dtype) + 0.5) / self._n_bins - 0.5
    for conv in self.encoder_convs:
      h = tf.nn.relu(conv(h))
    return tf.reshape(h, [-1, int(np.prod(self._top_shape))])

  def _gaussian(self, features):
    """Features `[B, F]` -> `(mu, log sigma)` of the (base) Gaussian, each `[B, L]`."""
    loc, log_scale = tf.split(self.encoder_dense(features), 2, axis=-1)
    return loc, log_scale

  def _normals(self, num_samples, loc, seed, where):
    """Standard normals `[S, B, L]` (`loc` `[B, L]`) from a stateless seed."""
    return tf.random.stateless_normal(
        tf.concat([[num_samples], tf.shape(loc)], 0),
        seed=density_model.stateless_seed(seed, where), dtype=self._dtype)

  def _posterior_sample(self, loc, log_scale, features, eps):
    """`z ~ q(z | k)` `[S, B, L]` and `log q(z | k)` `[S, B]`.

    From `(mu, log sigma)` (each `[B, L]`), the encoder's features `[B, F]`
    and standard normals `eps [S, B, L]`.
    """
    if self._config.posterior == "flow":
      return self.posterior_flow(loc, log_scale, features, eps)
    return vae_posterior.gaussian_sample(loc, log_scale, eps)

  def _decode(self, z):
    """Latents `[N, L]` -> the parameters of p(k | z).

    `(loc, log_scale)` in pixel units, each `[N, H, W, C]`, for the
    discretized logistic; logits `[N, H, W, C, 2**n_bits]` for the
    categorical.
    """
    h = tf.nn.relu(self.decoder_dense(z))
    h = tf.reshape(h, [-1, *self._top_shape])
    for conv in self.decoder_convs:
      h = tf.nn.relu(conv(h))
    out = self.decoder_output(h)
    c = self._config.image_shape[-1]
    if self._config.likelihood == "discretized_logistic":
      mean, log_scale = tf.split(out, 2, axis=-1)
      log_bins = math.log(self._n_bins)
      return ((mean + 0.5) * self._n_bins - 0.5,
              tf.maximum(log_scale + log_bins, MIN_LOG_SCALE))
    return tf.reshape(out, [-1, *self._config.image_shape[:2], c,
                            self._n_bins])

  def _log_likelihood(self, bins, z):
    """`log p(k | z)`: bins `[B, H, W, C]`, latents `[S, B, L]` -> `[S, B]`."""
    num = tf.shape(z)[0]
    params = self._decode(tf.reshape(z, [-1, self._config.latent_dim]))
    targets = tf.reshape(tf.broadcast_to(bins[tf.newaxis], tf.concat(
        [[num], tf.shape(bins)], 0)), [-1, *self._config.image_shape])
    if self._config.likelihood == "discretized_logistic":
      per_pixel = pixel_likelihoods.discretized_logistic_log_prob(
          targets, params[0], params[1], self._config.n_bits)
    else:
      per_pixel = pixel_likelihoods.categorical_log_prob(targets, params)
    return tf.reshape(tf.reduce_sum(per_pixel, axis=[-3, -2, -1]),
                      [num, -1])

  def _to_bits_per_dim(self, log_prob):
    return -log_prob / (self.num_dims * math.log(2.))


def _log_prior(z):
  """`log N(z; 0, I)`: `[..., L] -> [...]`."""
  return tf.reduce_sum(-0.5 * tf.square(z) - _HALF_LOG_2PI, axis=-1)


def _keyed_normal(seed, keys, num_samples, dim, dtype):
  """`[K, B, dim]` standard normals, column `b` a function of `(seed, keys[b])` only."""
  seed = tf.cast(seed, tf.int64)

  def draw(key):
    return tf.random.stateless_normal(
        [num_samples, dim], seed=tf.stack([seed[0], seed[1] * 7919 + key]),
        dtype=dtype)
  eps = tf.map_fn(draw, keys, fn_output_signature=dtype)   # [B, K, dim]
  return tf.transpose(eps, [1, 0, 2])


def _eval_seed(seed, where):
  """`density_model.stateless_seed` of `seed`, `EVAL_SEED` for `None`."""
  return density_model.stateless_seed(EVAL_SEED if seed is None else seed,
                                      where)
