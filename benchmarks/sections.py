"""The measurements of `benchmarks/throughput.py` beyond the ours-vs-tfp comparison.

Each function returns what it measured as text lines (or numbers), so the
program prints one report. FLOPs are the convolution FLOPs of the coupling
networks and split priors (`benchmarks.flops.conv_flops`): a forward pass costs
`F` per image, the backward pass `2F` (gradients of inputs and kernels), a
training step `3F`.
"""

import statistics
import subprocess
import tempfile
import time

import numpy as np
import tensorflow as tf

from benchmarks import flops

__all__ = ["measure_peak", "phases", "loop_vs_bare",
           "memory_line",
           "resident_mb", "peak_mb", "MEMORY_TAG", "scaling"]

MEMORY_TAG = "GLOW_OOD_MEMORY"


def _seconds_per_call(fn, args, calls, warmup=2):
  for _ in range(warmup):
    out = fn(*args)
  tf.nest.map_structure(lambda t: t.numpy(), out)
  start = time.perf_counter()
  for _ in range(calls):
    out = fn(*args)
  tf.nest.map_structure(lambda t: t.numpy(), out)
  return (time.perf_counter() - start) / calls


def measure_peak(calls=5):
  """`{"conv": GFLOP/s, "matmul": GFLOP/s}` measured now, in this process.

  conv: 3x3, 512 -> 512 channels at 16x16, batch 32, fp32 (the shape of the
  paper config's widest layers); matmul: 2048 x 2048 x 2048.
  """
  x = tf.random.normal([32, 16, 16, 512])
  kernel = tf.random.normal([3, 3, 512, 512])
  conv = tf.function(lambda a, k: tf.nn.conv2d(a, k, 1, "SAME"))
  conv_flops = 32 * flops.shape_flops((16, 16, 3, 512, 512))
  a = tf.random.normal([2048, 2048])
  matmul = tf.function(lambda m: tf.matmul(m, m))
  return {
      "conv": conv_flops / _seconds_per_call(conv, (x, kernel), calls) / 1e9,
      "matmul": 2 * 2048 ** 3 / _seconds_per_call(matmul, (a,), calls) / 1e9,
  }


def _percent(gflops, peak):
  return "" if peak is None else f" = {100 * gflops / peak['conv']:5.1f}% of peak"


def phases(dist, variables, train_step, log_prob, x, flops_fwd, peak, rounds,
           calls):
  """Log-prob (forward), backward and optimizer time of our training step.

  forward = the log-prob function; forward + backward = the gradient
  function (no update); backward = their difference; optimizer and the rest
  = training step minus forward + backward. Medians over `rounds`.
  Returns `(lines, {"log_prob": images/s, "train": images/s})`.
  """
  @tf.function
  def gradients(images):
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(dist.log_prob(images))
    return [g for g in tape.gradient(loss, variables) if g is not None]

  batch = int(x.shape[0])
  times = {"log_prob": [], "grad": [], "train": []}
  for _ in range(rounds):
    times["log_prob"].append(_seconds_per_call(log_prob, (x,), calls, 1))
    times["grad"].append(_seconds_per_call(gradients, (x,), calls, 1))
    times["train"].append(_seconds_per_call(train_step, (x,), calls, 1))
  t = {k: statistics.median(v) for k, v in times.items()}
  fwd = batch * flops_fwd / 1e9
  rows = [("forward (log-prob)", t["log_prob"], fwd),
          ("backward", t["grad"] - t["log_prob"], 2 * fwd),
          ("optimizer and rest", t["train"] - t["grad"], 0.),
          ("training step", t["train"], 3 * fwd)]
  lines = []
  for name, seconds, gflop in rows:
    rate = gflop / seconds if seconds > 0 and gflop else 0.
    extra = (f"{rate:7.1f} GFLOP/s{_percent(rate, peak)}" if gflop else
             f"{100 * seconds / t['train']:5.1f}% of the step")
    lines.append(f"  {name:20s} {seconds * 1e3:9.1f} ms/batch  "
                 f"{batch / seconds if seconds > 0 else float('inf'):8.2f} "
                 f"images/s  {extra}")
  return lines, {"log_prob": batch / t["log_prob"], "train": batch / t["train"]}


def loop_vs_bare(model_config, batch, steps, steps_per_call, ema_decay, seed,
                 rounds=5):
  """The training loop's step vs a bare step of the same model, in images/s.

  Loop: `TrainState` and its `Trainer` under the default strategy
  (`mirrored`), the input pipeline (`glow_ood.train.inputs`) on random uint8
  images, Adamax, EMA (`ema_decay`), the finite
  checks, and the loop's host reads after each call
  (`train_steps(iterator, steps_per_call)`). Bare: `Glow.log_prob`,
  gradient and Adamax in one `tf.function` on a fixed batch, no strategy.
  Timed in `rounds` alternating blocks of `steps` steps each (loop, bare,
  loop, ...); the overhead is the ratio of the two medians.
  """
  # pylint: disable=g-import-not-at-top
  from glow_ood import configs
  from glow_ood.models import glow as model_lib
  from glow_ood import preprocessing
  from glow_ood.train import distribution
  from glow_ood.train import optimizers
  from glow_ood.train import inputs
  from glow_ood.train import state as state_lib
  from glow_ood.train import step as step_lib

  rng = np.random.default_rng(seed)
  # Enough images that epochs (and shuffle-buffer refills) are rare, as with
  # a real dataset.
  images = rng.integers(0, 256, (max(64 * batch, 4096),) +
                        tuple(model_config.image_shape), dtype=np.uint8)
  config = configs.TrainConfig(
      model=model_config, batch_size=batch, init_batch_size=min(256, len(images)),
      eval_datasets=(), ema_decay=ema_decay, steps_per_call=steps_per_call,
      seed=seed, mixed_precision="none")   # float32, as the bare step
  strategy = distribution.make_strategy(config.strategy)
  run = state_lib.TrainState(config, tempfile.mkdtemp(prefix="glow_ood_loop_"),
                             strategy, images)
  run.initialize_or_restore(None)
  trainer, iterator = step_lib.Trainer(run), inputs.make_iterator(run)

  def loop_call():
    metrics = trainer.train_steps(iterator, steps_per_call)
    int(run.step.numpy())
    float(metrics["bits_per_dim"])
    int(metrics["applied"])
    int(run.consecutive_skips.numpy())
    return tf.constant(0.)

  model = model_lib.Glow(model_config)
  x_init = preprocessing.dequantize(images[:config.init_batch_size],
                                    model_config.n_bits, "uniform", seed=[seed, 0])
  model.initialize(x_init)
  x = x_init[:batch]
  variables = model.trainable_variables
  optimizer = optimizers.Adamax(variables)

  @tf.function
  def bare(images_batch):
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(model.log_prob(images_batch))
    grads = tape.gradient(loss, variables)
    with tf.control_dependencies([optimizer.assign(
        *optimizer.updates(grads, 1e-4))]):
      return tf.identity(loss)

  # Alternating blocks, so a slow spell of the machine hits both alike.
  calls = max(1, steps // steps_per_call)
  loop_times, bare_times = [], []
  for _ in range(rounds):
    loop_times.append(_seconds_per_call(loop_call, (), calls) / steps_per_call)
    bare_times.append(_seconds_per_call(bare, (x,), calls * steps_per_call))
  loop_seconds = statistics.median(loop_times)
  bare_seconds = statistics.median(bare_times)
  overhead = loop_seconds / bare_seconds - 1.
  per_round = sorted(100 * (a / b - 1.) for a, b in zip(loop_times, bare_times))
  return [
      f"  bare step            {batch / bare_seconds:8.2f} images/s",
      f"  training loop        {batch / loop_seconds:8.2f} images/s "
      f"(steps_per_call={steps_per_call}, EMA {ema_decay or 'off'}, "
      f"strategy {config.strategy})",
      f"  loop overhead        {100 * overhead:+6.1f}% "
      f"({'meets' if overhead <= 0.05 else 'above'} the 5% target; medians "
      f"of {rounds} alternating blocks of {calls * steps_per_call} steps, "
      f"per block {per_round[0]:+.0f}% .. {per_round[-1]:+.0f}%)"]


def resident_mb():
  """This process's resident set now (VmRSS), in MB."""
  return _status_mb("VmRSS")


def peak_mb():
  """This process's peak resident set so far (VmHWM), in MB."""
  return _status_mb("VmHWM")


def _status_mb(key):
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith(key + ":"):
          return int(line.split()[1]) / 1024.
  except OSError:
    pass
  return float("nan")


def memory_line(command, recompute):
  """Runs `command` (a `--memory_child` process) and formats what it printed."""
  result = subprocess.run(command, capture_output=True, text=True, check=False)
  for line in result.stdout.splitlines():
    if line.startswith(MEMORY_TAG):
      peak, before, seconds, trace = [float(v) for v in line.split()[1:]]
      return (f"  recompute_couplings={str(recompute):5s}  peak {peak / 1024:6.2f}"
              f" GB (model built and initialized: {before / 1024:5.2f} GB)  "
              f"{seconds:6.2f} s/step  ({'within' if peak <= 4096 else 'above'}"
              " the 4 GB target)")
  tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
  return f"  recompute_couplings={recompute}: failed ({' | '.join(tail)})"


def scaling(groups, cell, peak):
  """The scaling table: for each `(flag, values)` group, one row per value.

  `cell(flag, value) -> (images/s, conv FLOPs per image)`. Relative cost is
  seconds per image over the group's first value's; "FLOPs predict" is the
  same ratio of conv FLOPs per image (what linear cost in the FLOPs gives).
  """
  lines = [f"  {'changed':22s} {'images/s':>9s} {'GFLOP/s':>8s} "
           f"{'cost/image':>10s} {'FLOPs predict':>13s}"]
  for name, values in groups:
    first = None
    for value in values:
      rate, flops = cell(name, value)
      gflops = 3 * flops * rate / 1e9
      if first is None:
        first = (rate, flops)
      cost = first[0] / rate
      predicted = flops / first[1]
      pct = "" if peak is None else f" ({100 * gflops / peak['conv']:4.1f}%)"
      lines.append(f"  {name + '=' + str(value):22s} {rate:9.2f} "
                   f"{gflops:8.1f}{pct} {cost:9.2f}x {predicted:12.2f}x")
  return lines
