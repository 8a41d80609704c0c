r"""Training-step and log-prob throughput: our Glow vs `tfp.bijectors.Glow`.

Both models get the same architecture (levels, steps per level, coupling
network width, image shape) and run in one process, alternating round by round
(ours, tfp, ours, tfp, ...). Each round times `--steps_per_round` training
steps and `--steps_per_round` log-prob evaluations per model; the report gives
the median images/s over rounds and the ratio ours / tfp.

One run prints, in order (`--sections`):

  peak     the machine's measured arithmetic peak in TensorFlow: a 3x3
           convolution 512->512 at 16x16, batch 32, and a 2048^3 matmul;
  compare  our training step and log-prob vs tfb.Glow's (ratio ours / tfp);
  phases   our log-prob (forward), backward and optimizer phases, each in
           conv GFLOP/s and percent of the measured conv peak;
  profile  a profile of our real training step: each op type's share of
           the step's wall time (concurrent ops split it, host time shown),
           and each convolution shape's achieved GFLOP/s inside the step
           (forward, kernel and input gradients), against the peak;
  loop     the training loop's step (`glow_ood.train.step.Trainer` under
           the default strategy: input pipeline, EMA, finite checks, one host
           sync per call) vs a bare step of the same model (forward, backward
           and Adamax in one tf.function on a fixed batch);
  memory   peak memory (the process's peak resident set, VmHWM) of training
           at `--memory_batch_size`, without and with recomputed coupling
           activations, each in a fresh process;
  scaling  images/s of our training step when one of width, steps per level,
           batch and image size changes from the config (`--scaling`), with
           the cost per image relative to the config's and what the conv
           FLOP count predicts.

Run from the repository root:

  python benchmarks/throughput.py                      # reference config
  python benchmarks/throughput.py --jit_compile        # with XLA
  python benchmarks/throughput.py --num_levels=2 --num_steps_per_level=2 \
      --hidden_width=64 --image_size=16

Training step: the project's Adam (`glow_ood.train.optimizers`, the same code
for both models) on the mean negative log-prob, in a `tf.function`
(`jit_compile=--jit_compile`).
Log-prob: a `tf.function` of `TransformedDistribution.log_prob` on a batch.
Before timing, each function is traced (and compiled) by one call and then
called `--untimed_steps` more times, untimed.

Other processes on the machine distort the numbers. Each timed block records
how many CPUs other processes kept busy meanwhile (from /proc/stat); a block
above `--max_other_load` is re-timed (up to `--max_retries` times) and the
summary's "clean" medians leave out blocks that stayed contended.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from launch import bootstrap  # pylint: disable=g-bad-import-order,unused-import

# pylint: disable=g-import-not-at-top,wrong-import-position
import functools
import statistics
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import bijectors
from glow_ood import configs
from glow_ood.experiments import records
from glow_ood.train import optimizers

from benchmarks import flops
from benchmarks import architecture_flags
from benchmarks import conv_profile
from benchmarks import profile_ops
from benchmarks import report_file
from benchmarks import sections as sections_lib

tfb = tfp.bijectors
tfd = tfp.distributions

FLAGS = flags.FLAGS

architecture_flags.define()
flags.DEFINE_bool("jit_compile", False, "XLA-compile both tf.functions.")
flags.DEFINE_enum(
    "coupling_scale", "sigmoid", list(configs.COUPLING_SCALES),
    "Our coupling's scale. 'sigmoid' (scale = sigmoid(s + 2)) is what "
    "tfb.Glow's GlowBlock uses, so it is the default.")
flags.DEFINE_enum("permutation", "conv1x1_lu", list(configs.PERMUTATIONS),
                  "Our permutation (tfb.Glow: LU-parameterized 1x1 conv).")
flags.DEFINE_enum("split_prior_type", "learned", list(configs.SPLIT_PRIORS),
                  "Our split prior (tfb.Glow: a learned exit coupling).")
flags.DEFINE_integer("rounds", 5, "Timed rounds (each model once per round).")
flags.DEFINE_integer("untimed_steps", 2,
                     "Untimed calls of each function before timing "
                     "(after tracing / compilation). Not training's "
                     "learning-rate --warmup_steps.")
flags.DEFINE_integer("steps_per_round", 5,
                     "Timed training steps and log-prob calls per round.")
flags.DEFINE_list("models", ["ours", "tfp"], "Models to run: ours, tfp.")
flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate.")
flags.DEFINE_integer("seed", 0, "Seed of the data and the models.")
flags.DEFINE_integer("intra_op_threads", 0, "0: TF default.")
flags.DEFINE_integer("inter_op_threads", 0, "0: TF default.")
flags.DEFINE_float(
    "max_other_load", 0.25,
    "A timed block during which other processes kept more CPUs than this "
    "busy (from /proc/stat) is re-timed, and left out of the clean medians.")
flags.DEFINE_integer("max_retries", 3, "Re-timings of a contended block.")
flags.DEFINE_float("retry_sleep", 2.0, "Seconds to wait before a re-timing.")
flags.DEFINE_bool("skip_train", False, "Only time log-prob.")
flags.DEFINE_bool("skip_log_prob", False, "Only time the training step.")
SECTIONS = ("peak", "compare", "phases", "profile", "loop", "memory", "scaling")
flags.DEFINE_list("sections", list(SECTIONS),
                  f"Parts of the report, any of {', '.join(SECTIONS)}.")
flags.DEFINE_integer("profile_calls", 3, "Profiled training steps.")
flags.DEFINE_integer("profile_top", 12, "Op types listed from the profile.")
flags.DEFINE_integer("loop_steps", 10,
                     "Timed steps per block of the loop and of the bare step "
                     "(--rounds alternating blocks each).")
flags.DEFINE_integer("steps_per_call", 1, "The loop's TrainConfig.steps_per_call.")
flags.DEFINE_float("ema_decay", 0.999, "The loop's EMA decay (0 = none).")
flags.DEFINE_integer("memory_batch_size", 64, "Batch of the memory section.")
flags.DEFINE_integer("memory_steps", 2, "Training steps of a memory child.")
flags.DEFINE_string(
    "scaling", "hidden_width=128,256,512;num_steps_per_level=4,8,32;"
    "batch_size=16,32,64;image_size=32,64",
    "Scaling table: `flag=v1,v2,...` groups separated by ';'; each value "
    "changes one flag of the config.")
flags.DEFINE_integer("scaling_steps", 2, "Timed training steps per scaling cell.")
flags.DEFINE_enum("mixed_precision", "none",
                  [p for p in configs.MIXED_PRECISION if p != "auto"],
                  "Our coupling networks' compute dtype (measured as named: "
                  "no auto).")
flags.DEFINE_bool("recompute_couplings", False,
                  "Recompute our coupling activations in the backward pass.")
flags.DEFINE_string(
    "output", "",
    "Also write the whole report to this file, headed by the command, the "
    "commit and the machine (lscpu's model name and SIMD flags): the file "
    "that numbers quoted from the run cite. Refused if it exists.")
flags.DEFINE_bool("memory_child", False,
                  "Internal: run one memory measurement and print it.")

MODELS = ("ours", "tfp")

DIFFERENCES = """\
Architecture: same L, K, width, image shape, squeeze -> K x (ActNorm -> LU 1x1
conv -> affine coupling with scale sigmoid(s + 2)) per level, half the channels
factored out after every level but the last through a learned conditional
Gaussian (zero-init 3x3 conv of the kept half), standard-normal top latent.
Differences that remain:
  * coupling net: ours (openai/glow) conv3x3 no-bias -> ActNorm -> ReLU ->
    conv1x1 no-bias -> ActNorm -> ReLU -> zero-init conv3x3 + bias, output
    * exp(3 * log_scale); tfb.GlowDefaultNetwork: conv3x3 + bias -> ReLU ->
    conv1x1 + bias -> ReLU -> zero-init conv3x3 + bias (no ActNorm, no
    output log-scale). Same conv FLOPs; ours folds its 2 ActNorms into the
    convolutions once they are initialized (kernel scale + bias, no tf.cond).
  * shift/scale split of the net output: ours interleaved (h[..., 0::2],
    h[..., 1::2], openai/glow); tfb.Glow contiguous halves (h[..., :c],
    h[..., c:]).
  * split prior: ours SplitPrior, (x_b - mu) * exp(-log_sigma) with a
    ZeroInitConv2d (exp(3 * log_scale) output factor); tfb.Glow ExitBijector,
    a RealNVP with scale exp(s + 2) from GlowDefaultExitNetwork (zero-init
    conv3x3 + bias).
  * 1x1 conv: ours one matmul with W = P L U (+ diag(sign * exp(log_s)));
    tfb.Glow ScaleMatvecLU (matvec with the reconstructed LU matrix).
  * ActNorm: ours (x - loc) * exp(-log_scale), data init in a tf.cond only
    in functions traced before it ran; tfb.Glow Invert(Chain([Scale, Shift])) with a
    TransformedVariable scale, tf.cond init check in forward and in log-det.
  * event structure: ours one fused bijector per layer computing transform
    and log-det in one pass; tfb.Glow nested Chain / Blockwise / Invert /
    RealNVP / Reshape / Transpose compositions. Cost consequence (profiled
    with TFP 0.25): tfb.Glow's RealNVP calls its network once for the
    transform and again for the log-det, so every coupling / exit network
    runs twice per log-prob (2x the conv FLOPs, also in the backward pass).
    Grappler does not merge the copies; XLA (--jit_compile) does.
  * conv fusion: both models' conv + bias + ReLU are fused by grappler into
    one _FusedConv2D (ours once its ActNorms are folded in).
  * coupling-net initializers: ours N(0, 0.05^2); tfb.Glow he_normal
    (values only, no cost difference). tfb.Glow's exit scale exp(s + 2) is
    e^2, not 1, at initialization, hence its much lower initial log-prob."""


# ---------------------------------------------------------------------------
# Models.


def build_ours(image_shape):
  """Our flow and distribution of the flags' config (`tfb.Glow`-matched)."""
  flow = bijectors.build_glow_flow(
      image_shape, FLAGS.num_levels, FLAGS.num_steps_per_level,
      hidden_width=FLAGS.hidden_width, coupling_scale=FLAGS.coupling_scale,
      permutation=FLAGS.permutation, split_prior_type=FLAGS.split_prior_type,
      learn_top=False, seed=FLAGS.seed, dtype=tf.float32,
      coupling_compute_dtype=(None if FLAGS.mixed_precision == "none"
                              else FLAGS.mixed_precision),
      recompute_couplings=FLAGS.recompute_couplings)
  base = tfd.Sample(tfd.Normal(0., 1.), [flow.latent_size])
  dist = tfd.TransformedDistribution(base, tfb.Invert(flow))
  return flow, dist


def build_tfp(image_shape):
  num_levels = FLAGS.num_levels
  glow = tfb.Glow(
      output_shape=list(image_shape),
      num_glow_blocks=num_levels,
      num_steps_per_block=FLAGS.num_steps_per_level,
      coupling_bijector_fn=functools.partial(
          tfb.GlowDefaultNetwork, num_hidden=FLAGS.hidden_width),
      exit_bijector_fn=tfb.GlowDefaultExitNetwork,
      grab_after_block=tuple([0.5] * (num_levels - 1) + [0.]),
      use_actnorm=True,
      seed=FLAGS.seed)
  latent_size = int(np.prod(image_shape))
  base = tfd.Sample(tfd.Normal(0., 1.), [latent_size])
  # tfb.Glow's forward is the generative direction (latent -> image).
  dist = tfd.TransformedDistribution(base, glow)
  return glow, dist


# ---------------------------------------------------------------------------
# Training.




def make_functions(bijector, dist, jit_compile):
  """Returns `(train_step, log_prob, variables)` for one model."""
  variables = list(bijector.trainable_variables)
  optimizer = optimizers.Adam(variables)

  @tf.function(jit_compile=jit_compile)
  def train_step(x):
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(dist.log_prob(x))
    grads = tape.gradient(loss, variables)
    grads = [tf.zeros_like(v) if g is None else g
             for g, v in zip(grads, variables)]
    with tf.control_dependencies([optimizer.assign(
        *optimizer.updates(grads, FLAGS.learning_rate))]):
      return tf.identity(loss)

  @tf.function(jit_compile=jit_compile)
  def log_prob(x):
    return dist.log_prob(x)

  return train_step, log_prob, variables


# ---------------------------------------------------------------------------
# Timing.


def _busy_jiffies():
  """Busy CPU time of the whole machine (Linux /proc/stat), in seconds."""
  try:
    with open("/proc/stat") as f:
      fields = [int(v) for v in f.readline().split()[1:]]
  except (OSError, ValueError):
    return None
  idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
  return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _time_calls(fn, x, steps):
  """Returns (seconds, CPUs used by other processes meanwhile or None)."""
  busy0, own0 = _busy_jiffies(), sum(os.times()[:2])
  start = time.perf_counter()
  for _ in range(steps):
    out = fn(x)
  out.numpy()  # Blocks until the last call has finished.
  seconds = time.perf_counter() - start
  busy1, own1 = _busy_jiffies(), sum(os.times()[:2])
  others = None
  if busy0 is not None and busy1 is not None:
    others = max(0., ((busy1 - busy0) - (own1 - own0)) / seconds)
  return seconds, others


def main(argv):
  del argv
  if FLAGS.memory_child:
    _memory_child()
    return
  report_file.run(FLAGS.output, sys.argv, _report)


def _report():
  """Prints every section of `--sections`."""
  sections = [v.strip() for v in FLAGS.sections if v.strip()]
  for v in sections:
    if v not in SECTIONS:
      raise app.UsageError(f"Unknown section {v!r}; choose from {SECTIONS}.")
  if FLAGS.intra_op_threads:
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.intra_op_threads)
  if FLAGS.inter_op_threads:
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.inter_op_threads)
  models = [m.strip() for m in FLAGS.models if m.strip()]
  if "compare" not in sections:
    models = []
  for m in models:
    if m not in MODELS:
      raise app.UsageError(f"Unknown model {m!r}; choose from {MODELS}.")
  image_shape = (FLAGS.image_size, FLAGS.image_size, FLAGS.channels)
  batch = FLAGS.batch_size
  tf.random.set_seed(FLAGS.seed)
  np.random.seed(FLAGS.seed)

  print(f"TensorFlow {tf.__version__}, TFP {tfp.__version__}, "
        f"oneDNN opts={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')}, "
        f"CPUs={os.cpu_count()}")
  print(f"Config: L={FLAGS.num_levels} K={FLAGS.num_steps_per_level} "
        f"width={FLAGS.hidden_width} batch={batch} image={image_shape} fp32 "
        f"jit_compile={FLAGS.jit_compile} coupling_scale(ours)="
        f"{FLAGS.coupling_scale} permutation(ours)={FLAGS.permutation} "
        f"split_prior(ours)={FLAGS.split_prior_type}")
  if FLAGS.coupling_scale == "sigmoid":
    print("coupling_scale=sigmoid: scale = sigmoid(s + 2), the same as "
          "tfb.Glow's GlowBlock coupling.")
  else:
    print(f"NOTE: coupling_scale={FLAGS.coupling_scale} differs from tfb.Glow "
          "(scale = sigmoid(s + 2)); use --coupling_scale=sigmoid to match.")
  print(DIFFERENCES)

  rng = np.random.default_rng(FLAGS.seed)
  x = tf.constant(rng.uniform(-0.5, 0.5, (batch,) + image_shape), tf.float32)

  print(f"Machine: {_machine()}")
  peak = None
  if "peak" in sections:
    peak = sections_lib.measure_peak()
    print(f"\n== Measured peak: conv3x3 512->512 16x16 batch 32 fp32 "
          f"{peak['conv']:.1f} GFLOP/s; 2048^3 matmul {peak['matmul']:.1f} "
          "GFLOP/s")
  if "compare" in sections and models:
    print("\n== Ours vs tfb.Glow")
    _compare(models, image_shape, batch, x)
  flops_fwd = flops.conv_flops(image_shape, FLAGS.num_levels,
                               FLAGS.num_steps_per_level, FLAGS.hidden_width,
                               FLAGS.split_prior_type == "learned",
                               FLAGS.coupling_scale == "additive")
  measured = {}
  if "phases" in sections or "profile" in sections:
    flow, dist = build_ours(image_shape)
    dist.log_prob(x)
    train_step, log_prob, variables = make_functions(flow, dist,
                                                     FLAGS.jit_compile)
    if "phases" in sections:
      print("\n== Phases of our training step (conv FLOPs; backward = 2x "
            "forward)")
      lines, measured = sections_lib.phases(
          dist, variables, train_step, log_prob, x, flops_fwd, peak,
          FLAGS.rounds, FLAGS.steps_per_round)
      for line in lines:
        print(line, flush=True)
    if "profile" in sections:
      print(f"\n== Profile of our training step ({FLAGS.profile_calls} steps)")
      for line in _profile_lines(train_step, x, flops_fwd, peak):
        print(line, flush=True)
  if "loop" in sections:
    print("\n== Training loop vs bare step (same model, images/s)")
    for line in sections_lib.loop_vs_bare(
        _glow_config(image_shape), batch, FLAGS.loop_steps,
        FLAGS.steps_per_call, FLAGS.ema_decay or None, FLAGS.seed,
        FLAGS.rounds):
      print(line, flush=True)
  if "memory" in sections:
    print(f"\n== Peak memory of training, batch {FLAGS.memory_batch_size} "
          "(fresh process each; VmHWM)")
    for recompute in (False, True):
      print(sections_lib.memory_line(_child_command(recompute), recompute),
            flush=True)
  if "scaling" in sections:
    print("\n== Scaling of our training step (one flag changed at a time)")
    for line in sections_lib.scaling(_scaling_groups(), _scaling_cell, peak):
      print(line, flush=True)


def _profile_lines(train_step, x, flops_fwd, peak):
  """The profile section: wall shares per op type, then each conv shape."""
  trace = profile_ops.profile(lambda: train_step(x), FLAGS.profile_calls)
  batch = int(x.shape[0])
  rate = 3 * flops_fwd * batch / trace.wall / 1e9
  lines = [f"  {trace.wall:.3f} s wall per step ({batch / trace.wall:.2f} "
           f"images/s, {rate:.1f} conv GFLOP/s"
           + (f", {100 * rate / peak['conv']:.0f}% of the conv peak"
              if peak else "") + ")",
           "  Share of the wall time per op type (ops running at once split "
           "it; the rows sum to the wall):"]
  lines += profile_ops.format_rows(profile_ops.wall_shares(trace),
                                   FLAGS.profile_top)
  rows = conv_profile.conv_rows(
      trace, train_step.get_concrete_function(x).graph)
  lines.append("  Convolutions inside the step, per shape and kind (fwd, "
               "kernel gradient dW, input gradient dX), each op's own run "
               "time" + (", % of the conv peak:" if peak else ":"))
  lines += conv_profile.format_rows(rows, peak and peak["conv"])
  return lines


def _machine():
  """CPU model, CPU count and the SIMD flags that decide speed (lscpu)."""
  machine = records.machine_description()
  simd = set(machine["simd_flags"])
  vector = ("AVX-512" if "avx512f" in simd else
            "AVX2" if "avx2" in simd else "no AVX2")
  bf16 = [f for f in ("avx512_bf16", "amx_bf16") if f in simd]
  return (f"{machine['model_name']}, {machine['cpus']} CPUs, {vector}, "
          + (f"native bfloat16 ({', '.join(bf16)})" if bf16
             else "no native bfloat16"))


def _glow_config(image_shape):
  """The flags' architecture as a `GlowConfig` (for the training loop)."""
  return configs.GlowConfig(
      image_shape=tuple(image_shape), num_levels=FLAGS.num_levels,
      num_steps_per_level=FLAGS.num_steps_per_level,
      hidden_width=FLAGS.hidden_width, coupling_scale=FLAGS.coupling_scale,
      permutation=FLAGS.permutation, split_prior=FLAGS.split_prior_type,
      learn_top=False, seed=FLAGS.seed)


def _child_command(recompute):
  """This program in a fresh process measuring memory (`--memory_child`)."""
  args = [sys.executable, os.path.abspath(__file__), "--memory_child",
          f"--batch_size={FLAGS.memory_batch_size}",
          f"--recompute_couplings={recompute}"]
  for name in ("num_levels", "num_steps_per_level", "hidden_width",
               "image_size", "channels", "coupling_scale", "permutation",
               "split_prior_type", "memory_steps", "mixed_precision", "seed",
               "jit_compile"):
    args.append(f"--{name}={FLAGS[name].value}")
  return args


def _ours_on_a_batch():
  """`(image shape, batch x, train step)` of our model at the flags' config,
  ActNorm initialized on `x` (one eager log-prob)."""
  image_shape = (FLAGS.image_size, FLAGS.image_size, FLAGS.channels)
  rng = np.random.default_rng(FLAGS.seed)
  x = tf.constant(rng.uniform(-0.5, 0.5, (FLAGS.batch_size,) + image_shape),
                  tf.float32)
  flow, dist = build_ours(image_shape)
  dist.log_prob(x)
  train_step, _, _ = make_functions(flow, dist, FLAGS.jit_compile)
  return image_shape, x, train_step


def _memory_child():
  """Builds our model, trains `--memory_steps` steps, prints peak memory."""
  _, x, train_step = _ours_on_a_batch()
  before = sections_lib.resident_mb()
  start = time.perf_counter()
  train_step(x).numpy()   # traces
  traced = time.perf_counter()
  for _ in range(FLAGS.memory_steps):
    train_step(x).numpy()
  seconds = (time.perf_counter() - traced) / FLAGS.memory_steps
  print(sections_lib.MEMORY_TAG, sections_lib.peak_mb(), before, seconds,
        traced - start)


def _scaling_groups():
  groups = []
  for group in FLAGS.scaling.split(";"):
    if not group.strip():
      continue
    name, _, values = group.partition("=")
    name = name.strip()
    if name not in ("hidden_width", "num_steps_per_level", "batch_size",
                    "image_size", "num_levels"):
      raise app.UsageError(f"--scaling: cannot vary {name!r}.")
    groups.append((name, [int(v) for v in values.split(",") if v.strip()]))
  return groups


def _scaling_cell(name, value):
  """`(images/s, conv FLOPs per image)` of our training step with `name=value`."""
  saved = FLAGS[name].value
  FLAGS[name].value = value
  try:
    image_shape, x, train_step = _ours_on_a_batch()
    train_step(x).numpy()
    seconds, _ = _time_calls(train_step, x, FLAGS.scaling_steps)
    per_image = flops.conv_flops(image_shape, FLAGS.num_levels,
                                 FLAGS.num_steps_per_level, FLAGS.hidden_width,
                                 FLAGS.split_prior_type == "learned",
                                 FLAGS.coupling_scale == "additive")
    return FLAGS.batch_size * FLAGS.scaling_steps / seconds, per_image
  finally:
    FLAGS[name].value = saved


def _compare(models, image_shape, batch, x):
  """Ours vs tfb.Glow, alternating round by round (the `compare` section)."""
  fns = {}
  for name in models:
    t0 = time.perf_counter()
    bijector, dist = (build_ours if name == "ours" else build_tfp)(image_shape)
    # Data-dependent ActNorm initialization: one eager log-prob call.
    lp0 = dist.log_prob(x)
    t_init = time.perf_counter() - t0
    train_step, log_prob, variables = make_functions(
        bijector, dist, FLAGS.jit_compile)
    num_params = sum(int(np.prod(v.shape)) for v in variables)
    t0 = time.perf_counter()
    if not FLAGS.skip_train:
      for _ in range(1 + FLAGS.untimed_steps):
        loss = train_step(x)
      loss.numpy()
    t_train_untimed = time.perf_counter() - t0
    t0 = time.perf_counter()
    if not FLAGS.skip_log_prob:
      for _ in range(1 + FLAGS.untimed_steps):
        lp = log_prob(x)
      lp.numpy()
    t_lp_untimed = time.perf_counter() - t0
    print(f"[{name}] {len(variables)} trainable variables, {num_params:,} "
          f"parameters; build+init {t_init:.1f}s (initial mean log-prob "
          f"{float(tf.reduce_mean(lp0)):.1f}); trace/compile+untimed: train "
          f"{t_train_untimed:.1f}s, log-prob {t_lp_untimed:.1f}s")
    fns[name] = (train_step, log_prob)

  # results[name][kind]: list of (images/s, CPUs used by other processes).
  results = {name: {"train": [], "log_prob": []} for name in models}
  kinds = [k for k, skip in (("train", FLAGS.skip_train),
                             ("log_prob", FLAGS.skip_log_prob)) if not skip]
  print("\nTimed rounds (images/s; [x.x] = CPUs busy with other processes "
        "during the block; a block above --max_other_load is re-timed up to "
        "--max_retries times):")
  for r in range(FLAGS.rounds):
    line = [f"round {r + 1}/{FLAGS.rounds}:"]
    for name in models:
      train_step, log_prob = fns[name]
      for kind in kinds:
        fn = train_step if kind == "train" else log_prob
        for attempt in range(FLAGS.max_retries + 1):
          dt, others = _time_calls(fn, x, FLAGS.steps_per_round)
          if others is None or others <= FLAGS.max_other_load:
            break
          if attempt < FLAGS.max_retries:
            time.sleep(FLAGS.retry_sleep)
        results[name][kind].append(
            (batch * FLAGS.steps_per_round / dt, others))
        load = "" if others is None else f" [{others:.1f}]"
        line.append(f"{name} {kind} {results[name][kind][-1][0]:.2f}{load}")
    print("  ".join(line), flush=True)

  flops_fwd = flops.conv_flops(image_shape, FLAGS.num_levels,
                               FLAGS.num_steps_per_level, FLAGS.hidden_width,
                               FLAGS.split_prior_type == "learned",
                               FLAGS.coupling_scale == "additive")
  print(f"\nConv FLOPs per image (each network counted once): forward "
        f"{flops_fwd / 1e6:,.1f} MFLOP, training step ~3x = "
        f"{3 * flops_fwd / 1e6:,.1f} MFLOP")
  print(f"\nMedian throughput, batch {batch}, {FLAGS.steps_per_round} steps "
        f"per block (images/s). 'clean' = blocks with other processes using "
        f"<= {FLAGS.max_other_load} CPUs; 'all' = every round.")
  medians = {}
  for kind, mult in (("train", 3), ("log_prob", 1)):
    for name in models:
      entries = results[name][kind]
      if not entries:
        continue
      every = [v for v, _ in entries]
      clean = [v for v, o in entries
               if o is None or o <= FLAGS.max_other_load]
      med_all = statistics.median(every)
      med = statistics.median(clean) if clean else med_all
      medians[(name, kind)] = (med, bool(clean), med_all)
      print(f"  {kind:8s} {name:4s}: {med:9.2f} images/s clean "
            f"({len(clean)}/{len(every)} blocks; "
            f"{med * mult * flops_fwd / 1e9:.0f} conv GFLOP/s)   "
            f"all: median {med_all:.2f}, min {min(every):.2f}, "
            f"max {max(every):.2f}")
  for kind in ("train", "log_prob"):
    if ("ours", kind) in medians and ("tfp", kind) in medians:
      (ours, ours_clean, ours_all) = medians[("ours", kind)]
      (ref, ref_clean, ref_all) = medians[("tfp", kind)]
      ratio = ours / ref
      note = "" if ours_clean and ref_clean else " (no clean blocks: contended)"
      print(f"  RATIO ours/tfp {kind:8s}: {ratio:.3f}{note}  "
            f"[all rounds: {ours_all / ref_all:.3f}]  "
            f"{'meets' if ratio >= 1.5 else 'below'} the 1.5x target")
  loads = [o for name in models for kind in kinds
           for _, o in results[name][kind] if o is not None]
  if loads:
    print(f"  other processes used {statistics.mean(loads):.2f} CPUs on "
          f"average during the recorded blocks (max {max(loads):.2f}) of "
          f"{os.cpu_count()}.")



if __name__ == "__main__":
  app.run(main)
