"""What every catalogue case asserts: refused, in one line, with nothing of value changed."""

import hashlib
import json
import os

import pytest

from tests import launcher_error_line

__all__ = ["snapshot", "assert_unchanged", "refused_launcher", "refused_api",
           "assert_stop_recorded"]


def snapshot(root):
  """`relative path -> sha256` of every file under `root` (a file or folder); {} if absent."""
  if os.path.isfile(root):
    with open(root, "rb") as f:
      return {"": hashlib.sha256(f.read()).hexdigest()}
  digests = {}
  for folder, _, names in os.walk(root):
    for name in names:
      path = os.path.join(folder, name)
      with open(path, "rb") as f:
        digests[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
  return digests


def assert_unchanged(before, root, allow_new=()):
  """Every file of `before` is still under `root`, byte-identical; no new files
  except those whose relative path starts with one of `allow_new`."""
  after = snapshot(root)
  changed = sorted(k for k, v in before.items() if after.get(k) != v)
  assert not changed, f"changed or removed by the failure: {changed}"
  new = sorted(k for k in set(after) - set(before)
               if not any(k.startswith(p) for p in allow_new))
  assert not new, f"left behind by the failure: {new}"


def _check_needles(text, needles):
  lowered = text.lower()
  for needle in needles:
    assert needle.lower() in lowered, f"{needle!r} not in: {text}"


def refused_launcher(result, script, *needles):
  """The one error line of a launcher run that must fail (exit != 0, no
  traceback), containing every string of `needles` (case-insensitive)."""
  line = launcher_error_line(result, script)
  _check_needles(line, needles)
  return line


def refused_api(call, error_type, *needles):
  """The message of the `error_type` that `call()` must raise: one line
  (no newline), containing every string of `needles` (case-insensitive)."""
  with pytest.raises(error_type) as info:
    call()
  message = str(info.value)
  assert message.strip() and "\n" not in message.strip(), repr(message)
  _check_needles(message, needles)
  return message


def assert_stop_recorded(workdir, reason, step, message, checkpoint):
  """`<workdir>/training.json` records a stop without a final evaluation
  (`glow_ood.train.record`): `reason` at `step`, the launcher's line as
  `message`, the newest good `checkpoint` (a path or `None`)."""
  with open(os.path.join(workdir, "training.json")) as f:
    record = json.load(f)
  got = {key: record[key] for key in ("stop_reason", "step", "message",
                                      "checkpoint", "final_bits_per_dim")}
  assert got == {"stop_reason": reason, "step": step, "message": message,
                 "checkpoint": None if checkpoint is None else str(checkpoint),
                 "final_bits_per_dim": None}, got
