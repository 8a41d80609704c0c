"""Timing two Glow implementations in two processes, alternated: `benchmarks/peer.py`'s parts.

    workers = {side: Worker(side, argv) for side, argv in commands(...).items()}
    rates = alternate(workers, rounds=7, calls=4, batch=32)
    print("\n".join(summary_lines(rates)))

A worker (`glow_worker.py`, `torch_glow_worker.py`) prints one banner line,
then answers each request `train N` / `log_prob N` with the seconds N calls
took. No flags here (the program defines them), so tests import it freely.
"""

import collections
import os
import statistics
import subprocess
import sys

__all__ = ["MODES", "Architecture", "Worker", "commands", "alternate",
           "summary_lines"]

HERE = os.path.dirname(os.path.abspath(__file__))

Architecture = collections.namedtuple(
    "Architecture", ["num_levels", "num_steps_per_level", "hidden_width",
                     "batch_size", "image_size", "channels"])


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


def commands(arch, precision, peer_python, peer_repo):
  """`{"ours": argv, "peer": argv}` of the two workers.

  `arch`: `Architecture`; `precision`: "none" or "bfloat16";
  `peer_python`, `peer_repo`: the peer's Python and checkout.
  """
  shared = [f"--num_levels={arch.num_levels}",
            f"--num_steps_per_level={arch.num_steps_per_level}",
            f"--hidden_width={arch.hidden_width}",
            f"--batch_size={arch.batch_size}",
            f"--image_size={arch.image_size}", f"--channels={arch.channels}"]
  ours = [sys.executable, os.path.join(HERE, "glow_worker.py"),
          f"--mixed_precision={precision}"] + shared
  peer = [peer_python, os.path.join(HERE, "torch_glow_worker.py"),
          f"--peer_repo={peer_repo}", f"--levels={arch.num_levels}",
          f"--steps={arch.num_steps_per_level}",
          f"--width={arch.hidden_width}", f"--batch={arch.batch_size}",
          f"--image_size={arch.image_size}", f"--channels={arch.channels}",
          f"--precision={precision}"]
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
