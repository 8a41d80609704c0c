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
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from benchmarks import architecture_flags
from benchmarks import peer_timing
from benchmarks import report_file
from glow_ood.experiments import records

FLAGS = flags.FLAGS

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

def main(argv):
  del argv
  report_file.run(FLAGS.output, sys.argv, _report)


def _report():
  """Starts both workers, alternates them and prints the summary."""
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
    arch = peer_timing.Architecture(
        *(FLAGS[name].value for name in peer_timing.Architecture._fields))
    for side, command in peer_timing.commands(
        arch, FLAGS.precision, FLAGS.peer_python, FLAGS.peer_repo).items():
      workers[side] = peer_timing.Worker(side, command)
      print(f"  {side}: {workers[side].banner}", flush=True)
    rates = peer_timing.alternate(workers, FLAGS.rounds, FLAGS.steps_per_round,
                      FLAGS.batch_size)
  finally:
    for worker in workers.values():
      worker.close()
  for line in peer_timing.summary_lines(rates):
    print(line, flush=True)


if __name__ == "__main__":
  app.run(main)
