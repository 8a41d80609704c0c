"""Times our Glow for `benchmarks/peer.py`, one process serving timing requests.

Takes `benchmarks/throughput.py`'s flags (architecture, batch, image,
`--mixed_precision`, `--jit_compile`) and builds the same training step
(forward, backward, the project's Adam) and log-prob as its `compare`
section, on a fixed batch uniform in [-0.5, 0.5).

Protocol (one line each, on stdin / stdout): after building and two warm-up
calls of each function it prints `ready`; then for each line `train N` or
`log_prob N` it runs N calls (each waited for on the host) and prints the
seconds they took.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from launch import bootstrap  # pylint: disable=g-bad-import-order,unused-import

# pylint: disable=g-import-not-at-top,wrong-import-position
import time

from absl import app
import numpy as np
import tensorflow as tf

from benchmarks import throughput

FLAGS = throughput.FLAGS


def main(argv):
  del argv
  image_shape = (FLAGS.image_size, FLAGS.image_size, FLAGS.channels)
  tf.random.set_seed(FLAGS.seed)
  rng = np.random.default_rng(FLAGS.seed)
  x = tf.constant(rng.uniform(-0.5, 0.5, (FLAGS.batch_size,) + image_shape),
                  tf.float32)
  flow, dist = throughput.build_ours(image_shape)
  dist.log_prob(x)   # ActNorm's data init
  train_step, log_prob, _ = throughput.make_functions(flow, dist,
                                                      FLAGS.jit_compile)
  functions = {"train": train_step, "log_prob": log_prob}
  for fn in functions.values():
    fn(x).numpy()
    fn(x).numpy()
  print(f"ready tensorflow {tf.__version__}", flush=True)
  for line in sys.stdin:
    name, count = line.split()
    fn = functions[name]
    start = time.perf_counter()
    for _ in range(int(count)):
      fn(x).numpy()
    print(f"{time.perf_counter() - start:.6f}", flush=True)


if __name__ == "__main__":
  app.run(main)
