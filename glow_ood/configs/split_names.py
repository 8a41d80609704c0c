"""Source split names with an optional slice, `"test[9000:]"`: parsing, no data.

A run reads its training images from `DataConfig.train_split` and its
in-distribution test images from `DataConfig.test_split`. Each is a split of
the source (a local `<name>_<split>.npz` file, or tensorflow_datasets) or a
slice of one, in tensorflow_datasets' slicing syntax restricted to ints:

    "train"            the whole split
    "test[:9000]"      its images 0..8999
    "test[9000:]"      its images 9000..N-1
    "train[100:200]"   images 100..199; a negative int counts from the end

The npz source slices the file's arrays like a Python slice
(`images[start:stop]`); the tfds source passes the string to `tfds.load`,
which reads the same images.
"""

import dataclasses
import re
from typing import Optional

__all__ = ["SplitSlice", "parse_split"]

_PATTERN = re.compile(
    r"([A-Za-z][A-Za-z0-9_]*)(?:\[([+-]?\d+)?:([+-]?\d+)?\])?")
_SYNTAX = ('a split name or a slice "<name>[<start>:<stop>]" of ints, either '
           'may be empty, e.g. "train", "test[:9000]", "test[9000:]"')


@dataclasses.dataclass(frozen=True)
class SplitSlice:
  """A parsed split: the source split `name` and the slice `[start:stop]`.

  Attributes:
    name: the source split, e.g. `"train"`, `"test"`.
    start: first index (Python slice semantics), or `None` (from the start).
    stop: end index, excluded, or `None` (to the end).
  """
  name: str
  start: Optional[int] = None
  stop: Optional[int] = None

  @property
  def is_whole(self):
    """True if the slice takes the whole split."""
    return self.start is None and self.stop is None

  def take(self, array):
    """`array[start:stop]` along the first axis."""
    return array[self.start:self.stop]


def parse_split(text, owner="split"):
  """`text` -> `SplitSlice`; `owner` names the setting in the error.

  Raises:
    ValueError: one line naming `owner`, the value and the syntax, if `text`
      is not `name` or `name[start:stop]` with int (or empty) bounds, or the
      slice is empty whatever the split's size (`start >= stop`, both of
      the same sign).
  """
  match = _PATTERN.fullmatch(text) if isinstance(text, str) else None
  if match is None:
    raise ValueError(f"{owner}={text!r} is not a split: write {_SYNTAX}.")
  name, start, stop = match.groups()
  start = None if start is None else int(start)
  stop = None if stop is None else int(stop)
  if (start is not None and stop is not None and (start < 0) == (stop < 0)
      and start >= stop):
    raise ValueError(f"{owner}={text!r} selects no images ({start} >= "
                     f"{stop}); write {_SYNTAX}.")
  return SplitSlice(name, start, stop)
