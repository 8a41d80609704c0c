"""Tests of `glow_ood.train.clock.RunClock`: seconds over a run's life, images/s."""

import pytest

from glow_ood.train import clock as clock_lib


class ManualTime:
  """A time source that moves only when told to."""

  def __init__(self, now=1000.):
    self.now = now

  def __call__(self):
    return self.now


def test_seconds_continue_from_the_restored_count_and_stop_when_told():
  time = ManualTime()
  clock = clock_lib.RunClock(restored_seconds=120., clock=time)
  assert clock.seconds() == 120.
  time.now += 30.
  assert clock.seconds() == 150.
  clock.stop()
  time.now += 1000.
  assert clock.seconds() == 150.


def test_images_per_second_counts_the_timed_training_blocks_only():
  time = ManualTime()
  clock = clock_lib.RunClock(clock=time)
  assert clock.images_per_second() is None   # no step trained yet
  with clock.training(num_images=64):
    time.now += 2.
  time.now += 100.   # an evaluation: not training
  with clock.training(num_images=64):
    time.now += 2.
  assert clock.images_per_second() == pytest.approx(128 / 4.)
  assert clock.seconds() == pytest.approx(104.)
