"""Terminal progress lines: step, bits/dim, images/s, ETA."""

import sys
import time

__all__ = ["ProgressLine"]


def _duration(seconds):
  seconds = int(max(seconds, 0))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class ProgressLine:
  """Prints one line per call with throughput since the last call and an ETA."""

  def __init__(self, total_steps, start_step, batch_size, stream=None):
    self._total = int(total_steps)
    self._batch_size = int(batch_size)
    self._stream = stream or sys.stdout
    self._last_step = int(start_step)
    self._last_time = time.perf_counter()

  def reset_clock(self, step):
    """Restarts the throughput window (e.g. after an evaluation pause)."""
    self._last_step = int(step)
    self._last_time = time.perf_counter()

  def __call__(self, step, metrics):
    """Prints `step`, `metrics` (name -> float) and returns images/s."""
    now = time.perf_counter()
    steps = int(step) - self._last_step
    images_per_second = steps * self._batch_size / max(now - self._last_time, 1e-9)
    eta = (self._total - int(step)) * self._batch_size / max(images_per_second, 1e-9)
    parts = [f"step {int(step):>{len(str(self._total))}}/{self._total}"]
    parts += [f"{name} {value:.4f}" for name, value in metrics.items()]
    parts += [f"{images_per_second:.1f} images/s", f"ETA {_duration(eta)}"]
    print("  ".join(parts), file=self._stream, flush=True)
    self._last_step, self._last_time = int(step), now
    return images_per_second
