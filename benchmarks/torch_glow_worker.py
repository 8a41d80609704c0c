"""Times a PyTorch Glow (rosinality/glow-pytorch) for `benchmarks/peer.py`.

Runs in the peer's own Python (a virtualenv with torch, numpy and scipy,
outside glow-ood's dependencies); imports nothing of glow-ood. The model is
the peer's public `Glow(in_channel, n_flow, n_block, affine=True,
conv_lu=True)` from `--peer_repo/model.py` with its coupling width set to
`--width` (the peer's `AffineCoupling(filter_size=512)` default), on NCHW
images uniform in [-0.5, 0.5) with uniform dequantization noise of one bin,
as the peer's `train.py` feeds them. A training step is the peer's
`calc_loss` on `model(x + noise)`, backward and `torch.optim.Adam`; a
log-prob is `model(x)` under `torch.no_grad()`. `--precision=bfloat16` runs
both under `torch.autocast("cpu", dtype=torch.bfloat16)`.

Protocol (one line each, on stdin / stdout): after building and two warm-up
calls of each function it prints `ready`; then for each line
`train N` or `log_prob N` it runs N calls and prints the seconds they took.
"""

import argparse
import contextlib
import math
import sys
import time


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--peer_repo", required=True)
  parser.add_argument("--levels", type=int, required=True)
  parser.add_argument("--steps", type=int, required=True)
  parser.add_argument("--width", type=int, required=True)
  parser.add_argument("--batch", type=int, required=True)
  parser.add_argument("--image_size", type=int, required=True)
  parser.add_argument("--channels", type=int, required=True)
  parser.add_argument("--precision", choices=("none", "bfloat16"),
                      default="none")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()

  sys.path.insert(0, args.peer_repo)
  import torch  # pylint: disable=g-import-not-at-top
  import model as peer  # pylint: disable=g-import-not-at-top

  torch.manual_seed(args.seed)
  defaults = list(peer.AffineCoupling.__init__.__defaults__)
  defaults[0] = args.width   # filter_size
  peer.AffineCoupling.__init__.__defaults__ = tuple(defaults)
  glow = peer.Glow(args.channels, args.steps, args.levels, affine=True,
                   conv_lu=True)
  n_bins = 2. ** 8
  shape = (args.batch, args.channels, args.image_size, args.image_size)
  x = torch.rand(shape) - 0.5
  n_pixel = args.image_size * args.image_size * args.channels
  with torch.no_grad():
    glow(x + torch.rand_like(x) / n_bins)   # ActNorm's data init
  optimizer = torch.optim.Adam(glow.parameters(), lr=1e-4)

  def autocast():
    if args.precision == "bfloat16":
      return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()

  def train_step():
    optimizer.zero_grad()
    with autocast():
      log_p, logdet, _ = glow(x + torch.rand_like(x) / n_bins)
      logdet = logdet.mean()
      loss = -math.log(n_bins) * n_pixel + logdet + log_p
      loss = (-loss / (math.log(2) * n_pixel)).mean()
    loss.backward()
    optimizer.step()
    return loss.item()

  def log_prob():
    with torch.no_grad(), autocast():
      log_p, logdet, _ = glow(x)
    return float((log_p + logdet).sum())

  functions = {"train": train_step, "log_prob": log_prob}
  for fn in functions.values():
    fn()
    fn()
  print(f"ready torch {torch.__version__} threads "
        f"{torch.get_num_threads()}", flush=True)
  for line in sys.stdin:
    name, count = line.split()
    fn = functions[name]
    start = time.perf_counter()
    for _ in range(int(count)):
      fn()
    print(f"{time.perf_counter() - start:.6f}", flush=True)


if __name__ == "__main__":
  main()
