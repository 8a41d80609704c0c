"""A disk that fills or turns read-only, injected at the writes our code makes.

No real disk is filled. Python writes (`open` for writing, which `json`,
`numpy.savez`, matplotlib and PIL all go through) whose path contains one of
`names` are redirected:

  * `full(monkeypatch, names)`: to `/dev/full`, where the kernel itself
    answers every write with `ENOSPC`, as a full disk does (the file is
    opened, the error comes at the first flush);
  * `read_only(monkeypatch, names)`: the open raises
    `OSError(EROFS, "Read-only file system", path)`, as it does on a file
    system mounted read-only.

TensorFlow writes (checkpoints, event files) go through TensorFlow's own
file IO, not Python's `open`: `tensorflow_error` builds the error TensorFlow
raises for them, with the message TF 2.21 gave on a full tmpfs and on a
read-only bind mount (`glow_ood.write_errors` quotes both), and
`failing_checkpoint_saves` makes `tf.train.CheckpointManager.save` fail with
it the way a real save does. Each returns the list of paths it intercepted,
so a test can check that the fault really happened.
"""

import builtins
import errno
import os
import uuid

import tensorflow as tf

__all__ = ["DEV_FULL", "full", "read_only", "tensorflow_error",
           "failing_checkpoint_saves"]

DEV_FULL = "/dev/full"

_WRITE_MODES = set("wax+")


def _intercept(monkeypatch, names, action):
  real_open = builtins.open
  hits = []

  def open_(file, mode="r", *args, **kwargs):
    if (isinstance(file, (str, bytes, os.PathLike)) and
        _WRITE_MODES & set(mode) and
        any(name in os.fsdecode(file) for name in names)):
      hits.append(os.fsdecode(file))
      return action(real_open, os.fsdecode(file), mode, *args, **kwargs)
    return real_open(file, mode, *args, **kwargs)

  monkeypatch.setattr(builtins, "open", open_)
  return hits


def full(monkeypatch, names):
  """Python writes to paths containing any of `names` meet a full disk (ENOSPC)."""
  assert os.path.exists(DEV_FULL), "this Linux has no /dev/full"

  def to_dev_full(real_open, path, mode, *args, **kwargs):
    del path
    return real_open(DEV_FULL, mode.replace("x", "w"), *args, **kwargs)
  return _intercept(monkeypatch, names, to_dev_full)


def read_only(monkeypatch, names):
  """Python writes to paths containing any of `names` meet a read-only file system."""
  def refuse(real_open, path, mode, *args, **kwargs):
    del real_open, mode, args, kwargs
    raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
  return _intercept(monkeypatch, names, refuse)


def tensorflow_error(path, number):
  """The `tf.errors.OpError` TensorFlow's file IO raises writing `path` with `number`.

  ENOSPC gives `ResourceExhaustedError`, EROFS / EACCES `PermissionDeniedError`
  (TensorFlow's mapping of errnos to status codes); the message is
  `"<path>; <strerror> [Op:SaveV2]"`, as TensorFlow words it.
  """
  kind = {errno.ENOSPC: tf.errors.ResourceExhaustedError,
          errno.EROFS: tf.errors.PermissionDeniedError,
          errno.EACCES: tf.errors.PermissionDeniedError}[number]
  return kind(None, None, f"{{{{function_node __wrapped__SaveV2_dtypes_3}}}} "
                          f"{path}; {os.strerror(number)} [Op:SaveV2]")


def failing_checkpoint_saves(monkeypatch, step, number, leave="temp"):
  """`CheckpointManager.save(checkpoint_number=step)` fails with `number`; other steps save.

  What the failed save leaves, as a real one does at each stage:
    `"temp"`: the disk refused the first shard: `ckpt-<step>_temp/` holding
      a partial `.tempstate` file (TF 2.21 on a full tmpfs).
    `"half_written"`: the checkpoint's own files were written and the state
      file names it, but its data file was cut short (the disk filled while
      they were written).
    `"state_file"`: the checkpoint was written whole; the state file's
      temporary `checkpoint.tmp<hex>` was cut short, so the state file still
      names the previous checkpoint.
  Returns the list of prefixes whose save failed.
  """
  real_save = tf.train.CheckpointManager.save
  failed = []

  def save(manager, checkpoint_number=None, **kwargs):
    if checkpoint_number is None or int(checkpoint_number) != step:
      return real_save(manager, checkpoint_number=checkpoint_number, **kwargs)
    prefix = os.path.join(manager.directory, f"ckpt-{step}")
    failed.append(prefix)
    if leave == "temp":
      temp = prefix + "_temp"
      os.makedirs(temp, exist_ok=True)
      shard = os.path.join(
          temp, "part-00000-of-00001.data-00000-of-00001.tempstate1234")
      with open(shard, "wb") as f:
        f.write(b"\0" * 100)
      raise tensorflow_error(shard, number)
    if leave == "half_written":
      real_save(manager, checkpoint_number=step, **kwargs)
      data = prefix + ".data-00000-of-00001"
      with open(data, "rb") as f:
        raw = f.read()
      with open(data, "wb") as f:
        f.write(raw[:len(raw) // 2])
      raise tensorflow_error(data, number)
    assert leave == "state_file", leave
    before = {name: open(os.path.join(manager.directory, name), "rb").read()
              for name in ["checkpoint"]
              if os.path.exists(os.path.join(manager.directory, name))}
    real_save(manager, checkpoint_number=step, **kwargs)
    for name, raw in before.items():   # the rename never happened
      with open(os.path.join(manager.directory, name), "wb") as f:
        f.write(raw)
    temp = os.path.join(manager.directory, f"checkpoint.tmp{uuid.uuid4().hex}")
    with open(temp, "w", encoding="utf-8") as f:
      f.write('model_checkpoint_path: "ckpt-')
    raise tensorflow_error(temp, number)

  monkeypatch.setattr(tf.train.CheckpointManager, "save", save)
  return failed
