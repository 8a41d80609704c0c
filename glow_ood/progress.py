"""Terminal progress lines: step, bits/dim, images/s, ETA."""

import sys
import time

__all__ = ["ProgressBar", "ProgressLine"]


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


class ProgressBar:
  """A progress bar over `total` items (e.g. batches) for one task.

  On a terminal it redraws one line (`\\r`); otherwise (logs, CI) it prints a
  line at every tenth of the work, so captured output stays short. Used as a
  context manager or by calling `update(n)` and `close()`.

  Args:
    total: Python `int`, number of items.
    description: Python `str`, printed first.
    stream: file object. Default value: `sys.stderr`.
  """

  def __init__(self, total, description, stream=None):
    self._total = max(int(total), 1)
    self._description = description
    self._stream = stream or sys.stderr
    self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
    self._done = 0
    self._last_tenth = -1
    self._start = time.perf_counter()

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()

  def _line(self):
    elapsed = time.perf_counter() - self._start
    fraction = self._done / self._total
    width = 24
    filled = int(round(width * fraction))
    eta = elapsed / fraction - elapsed if fraction else 0.
    return (f"{self._description} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self._done}/{self._total}  {_duration(elapsed)} elapsed"
            + (f", ETA {_duration(eta)}" if self._done < self._total else ""))

  def update(self, num=1):
    """Marks `num` more items done and redraws."""
    self._done = min(self._done + int(num), self._total)
    if self._tty:
      print("\r" + self._line(), end="", file=self._stream, flush=True)
      return
    tenth = (10 * self._done) // self._total
    if tenth != self._last_tenth:
      self._last_tenth = tenth
      print(self._line(), file=self._stream, flush=True)

  def close(self):
    if self._tty:
      print(file=self._stream, flush=True)
