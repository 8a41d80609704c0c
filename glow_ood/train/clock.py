"""The wall time of a training run: over its whole life, and this process's throughput.

    clock = RunClock(restored_seconds=float(run.train_seconds.numpy()))
    with clock.training(num_images):       # around each call of the step
      run.train_steps(iterator, k)
    clock.seconds()                        # T, saved with every checkpoint
    clock.stop()                           # training is over: T stays
    clock.images_per_second()              # this process's mean throughput

`seconds()` is `T = T_0 + (t - t_0)`: `T_0` the seconds a resumed run's
checkpoint holds (0 for a new run), `t_0` the clock when this `RunClock` was
made (the trainer makes it after the start: loading data, restoring or
initializing and building the evaluators are not counted), `t` now. So the
count goes on across resumes from the checkpoint restored; the time a killed
process spent after its last checkpoint is lost with its steps. Everything
until `stop()` counts: training steps, periodic evaluations, checkpoint
saves (the trainer stops it before the last save and the final evaluation).

`images_per_second()` is `N / S` over this process only: `N` the images of
the steps timed with `training(...)`, `S` the seconds inside those blocks
(evaluations and checkpoints left out; the first call's tracing counted).
"""

import contextlib
import time

__all__ = ["RunClock"]


class RunClock:
  """Seconds of training over a run's life, and this process's images/s.

  Args:
    restored_seconds: Python `float`, `T_0`, the seconds counted before this
      process (from the checkpoint it resumed from).
    clock: `() -> float` seconds, the time source. Default value:
      `time.monotonic`.
  """

  def __init__(self, restored_seconds=0., clock=time.monotonic):
    self._clock = clock
    self._restored = float(restored_seconds)
    self._start = clock()
    self._images = 0
    self._training_seconds = 0.
    self._stopped = None

  def seconds(self):
    """`T`: seconds of training over the run's life, until now (or `stop()`)."""
    if self._stopped is not None:
      return self._stopped
    return self._restored + (self._clock() - self._start)

  def stop(self):
    """Ends the count: `seconds()` returns its value now from then on."""
    self._stopped = self.seconds()

  @contextlib.contextmanager
  def training(self, num_images):
    """Times a block that trains on `num_images` images (for `images_per_second`)."""
    begin = self._clock()
    yield
    self._training_seconds += self._clock() - begin
    self._images += int(num_images)

  def images_per_second(self):
    """Mean images/s of the timed blocks of this process, or `None` if none ran."""
    if not self._images:
      return None
    return self._images / max(self._training_seconds, 1e-9)
