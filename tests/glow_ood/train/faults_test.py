"""`glow_ood.train.faults`: the tests' self-signal at a step, read from the environment."""

import signal

import pytest

from glow_ood.train import faults


@pytest.mark.parametrize("text, step, number", [
    ("4:SIGKILL", 4, signal.SIGKILL), (" 20:sigstop ", 20, signal.SIGSTOP)])
def test_a_step_and_a_signal_name(text, step, number):
  fault = faults.from_environment({faults.ENV: text})
  assert (fault.step, fault.signal) == (step, number)


def test_unset_or_empty_is_no_fault():
  assert faults.from_environment({}) is None
  assert faults.from_environment({faults.ENV: ""}) is None


@pytest.mark.parametrize("text", ["4", "0:SIGKILL", "x:SIGKILL", "4:SIGNOPE",
                                  "4:"])
def test_anything_else_is_refused_in_one_line(text):
  with pytest.raises(ValueError) as info:
    faults.from_environment({faults.ENV: text})
  message = str(info.value)
  assert "\n" not in message and faults.ENV in message and repr(text) in message


def test_the_signal_comes_once_at_the_first_boundary_at_or_past_the_step():
  received = []
  previous = signal.signal(signal.SIGUSR1,
                           lambda number, frame: received.append(number))
  try:
    fault = faults.SelfSignal(3, signal.SIGUSR1)
    for step in (1, 2):
      fault.at_boundary(step)
    assert not received
    for step in (4, 5, 6):   # steps_per_call=2 may skip step 3
      fault.at_boundary(step)
    assert received == [signal.SIGUSR1]
  finally:
    signal.signal(signal.SIGUSR1, previous)
