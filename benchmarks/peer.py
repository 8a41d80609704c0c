r"""Our Glow against a PyTorch Glow of the same architecture, alternated in one run.

    python benchmarks/peer.py --peer_python=/path/to/venv/bin/python \
        --peer_repo=/path/to/glow-pytorch                # paper config, fp32
    python benchmarks/peer.py ... --num_levels=3 --num_steps_per_level=4 \
        --hidden_width=128 --batch_size=64 --channels=1  # the main job's model
    python benchmarks/peer.py ... --precision=bfloat16   # both in bfloat16

The peer is rosinality/glow-pytorch (`git clone`; its `model.py`), run by
`--peer_python`: a virtualenv of its own with torch, numpy and scipy, kept
outside glow-ood's dependencies. Two long-lived processes serve timing
requests: ours (`benchmarks/glow_worker.py`, `throughput.py`'s model and
step) and the peer (`benchmarks/torch_glow_worker.py`). Each round times
`--steps_per_round` training steps and as many log-probs of each, ours first
in even rounds and the peer first in odd ones, so a slow spell of the machine
hits both alike. The report gives each side's median images/s and the ratio
of the medians, with the per-round ratios' range.

Precision: `none` is float32 on both sides; `bfloat16` runs our coupling
networks in bfloat16 (`--mixed_precision=bfloat16`) and the peer under
`torch.autocast("cpu", dtype=torch.bfloat16)`. Compare bfloat16 only on a
CPU with native bfloat16 (AVX512_BF16 or AMX): elsewhere both emulate it.
"""

import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from benchmarks import architecture_flags
from benchmarks import report_file
from glow_ood.experiments import records

FLAGS = flags.FLAGS
HERE = os.path.dirname(os.path.abspath(__file__))

flags.DEFINE_string("peer_python", None, "Python of the peer's virtualenv.")
flags.DEFINE_string("peer_repo", None,
                    "A checkout of rosinality/glow-pytorch (has model.py).")
architecture_flags.define()
flags.DEFINE_enum("precision", "none", ["none", "bfloat16"],
                  "float32 on both sides, or bfloat16 on both.")
flags.DEFINE_integer("rounds", 7, "Alternating rounds.")
flags.DEFINE_integer("steps_per_round", 4, "Timed calls per side, per round.")
flags.DEFINE_string("output", "", "Also write the report to this file, "
                    "headed by command, commit and machine (never overwritten).")
flags.mark_flags_as_required(["peer_python", "peer_repo"])

MODES = ("train", "log_prob")


class Worker:
  """A timing server process (`glow_worker.py` / `torch_glow_worker.py`)."""

  def __init__(self, name, command):
    self.name = name
    self._process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
    self.banner = self._read()

  def _read(self):
    line = self._process.stdout.readline()
    if not line:
      code = self._process.wait()
      raise RuntimeError(f"The {self.name} worker exited ({code}) before "
                         "answering; its error is printed above.")
    return line.strip()

  def seconds(self, mode, calls):
    """Seconds `calls` calls of `mode` took."""
    self._process.stdin.write(f"{mode} {calls}\n")
    self._process.stdin.flush()
    return float(self._read())

  def close(self):
    self._process.stdin.close()
    self._process.wait()


def commands():
  """`{"ours": argv, "peer": argv}` of the two workers."""
  shared = [f"--num_levels={FLAGS.num_levels}",
            f"--num_steps_per_level={FLAGS.num_steps_per_level}",
            f"--hidden_width={FLAGS.hidden_width}",
            f"--batch_size={FLAGS.batch_size}",
            f"--image_size={FLAGS.image_size}", f"--channels={FLAGS.channels}"]
  ours = [sys.executable, os.path.join(HERE, "glow_worker.py"),
          f"--mixed_precision={FLAGS.precision}"] + shared
  peer = [FLAGS.peer_python, os.path.join(HERE, "torch_glow_worker.py"),
          f"--peer_repo={FLAGS.peer_repo}", f"--levels={FLAGS.num_levels}",
          f"--steps={FLAGS.num_steps_per_level}",
          f"--width={FLAGS.hidden_width}", f"--batch={FLAGS.batch_size}",
          f"--image_size={FLAGS.image_size}", f"--channels={FLAGS.channels}",
          f"--precision={FLAGS.precision}"]
  return {"ours": ours, "peer": peer}


def alternate(workers, rounds, calls, batch):
  """`{mode: {side: [images/s per round]}}`, sides alternating first."""
  rates = {mode: {side: [] for side in workers} for mode in MODES}
  order = list(workers)
  for r in range(rounds):
    sides = order if r % 2 == 0 else order[::-1]
    for mode in MODES:
      for side in sides:
        rates[mode][side].append(
            batch * calls / workers[side].seconds(mode, calls))
  return rates


def summary_lines(rates):
  """One line per mode: medians, their ratio, the per-round ratios' range."""
  lines = []
  for mode, sides in rates.items():
    ours, peer = statistics.median(sides["ours"]), statistics.median(
        sides["peer"])
    per_round = sorted(a / b for a, b in zip(sides["ours"], sides["peer"]))
    lines.append(f"  {mode:9s} ours {ours:8.2f} images/s   peer {peer:8.2f} "
                 f"images/s   ours / peer {ours / peer:.2f}x (rounds "
                 f"{per_round[0]:.2f}x .. {per_round[-1]:.2f}x)")
  return lines


def main(argv):
  del argv
  report_file.run(FLAGS.output, sys.argv, _report)


def _report():
  machine = records.machine_description()
  print(f"Machine: {machine['model_name']}, {machine['cpus']} CPUs; SIMD: "
        f"{' '.join(machine['simd_flags'])}")
  print(f"Config: L={FLAGS.num_levels} K={FLAGS.num_steps_per_level} "
        f"width={FLAGS.hidden_width} batch={FLAGS.batch_size} image="
        f"{FLAGS.image_size}x{FLAGS.image_size}x{FLAGS.channels} precision="
        f"{FLAGS.precision}; {FLAGS.rounds} rounds of {FLAGS.steps_per_round} "
        "calls per side and mode")
  workers = {}
  try:
    for side, command in commands().items():
      workers[side] = Worker(side, command)
      print(f"  {side}: {workers[side].banner}", flush=True)
    rates = alternate(workers, FLAGS.rounds, FLAGS.steps_per_round,
                      FLAGS.batch_size)
  finally:
    for worker in workers.values():
      worker.close()
  for line in summary_lines(rates):
    print(line, flush=True)


if __name__ == "__main__":
  app.run(main)
