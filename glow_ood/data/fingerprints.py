"""What a run's images are: a fingerprint of every source it reads, kept in its config.json.

    recorded = of_run(config.data, config.eval_datasets)
    # {"fashion_mnist/train": {"source": "npz", "file": "fashion_mnist_train.npz",
    #      "path": "/data/fashion_mnist_train.npz", "size": 26459162,
    #      "sha256": "9d0b...", "images": {"crc32": 123, "bytes": 47040128},
    #      "mtime_ns": ..., "ctime_ns": ...},
    #  "fashion_mnist/test": {...}, "mnist/test": {...},
    #  "svhn_cropped/test": {"source": "tfds", "name": "svhn_cropped",
    #                        "split": "test", "version": "3.1.0"}}

One entry per source the run reads, keyed `"<dataset>/<source split>"`: the
in-distribution dataset's train and test splits (`DataConfig.train_split` /
`test_split`, slices of one split share its entry; "validation" is carved
from train) and each evaluation set's test split. Special inputs are
fingerprinted by the dataset they are made from ("jpeg:cifar10:75" reads
cifar10's test split); generated ones ("constant:128", "uniform_random")
have nothing to fingerprint (their name, seed and shape are config fields).

  * A local npz file: its size, the sha256 of its bytes, and the CRC-32 and
    size of its `images` array as the zip directory records them, so a file
    written again with the same images (its bytes differ by the zip's
    timestamps) is the same data, said once. The sha256 is computed once per
    file and reused while its path, size, mtime and ctime stay the same
    (from the run's own record, `known`, or from this process's earlier
    calls): a resume on unchanged data hashes nothing.
  * tensorflow_datasets: name, version (of the builder that reads it) and
    split.
Which source a name reads follows `glow_ood.data.sources.load_source`
(`source="auto"`: the npz file if present, else tfds), so a run that read
tfds and now finds an npz file of the same name sees a change of source.
`RECORD_KEY` is the key of the record in config.json
(`glow_ood.runs.folder.write_config`); runs written before it have none.
"""

import hashlib
import os
import zipfile

from glow_ood.configs import split_names
from glow_ood.data import loading
from glow_ood.data import sources
from glow_ood.data import special
from glow_ood.runs import folder as run_folder

__all__ = ["RECORD_KEY", "DataChangedError", "of_datasets", "of_run",
           "training_keys", "compare", "describe", "check_resume",
           "evaluation_warnings"]

RECORD_KEY = run_folder.DATA_FINGERPRINTS_KEY
# Stat fields that must be unchanged for a cached sha256 to be reused.
_STAMP = ("path", "size", "mtime_ns", "ctime_ns")
# `{(path, size, mtime_ns, ctime_ns): (sha256, images)}` of this process.
_HASHED = {}


class DataChangedError(ValueError):
  """A run would resume on other images than it was trained on."""


def _base_and_split(config, name, split):
  """`(real dataset, source split name)` that `name`'s `split` reads, or
  `None` for a generated dataset."""
  parsed = special.parse(name)
  if parsed is not None and parsed.is_generated:
    return None
  base = name if parsed is None else parsed.base
  named = loading.dataset_config(config, name)
  return base, split_names.parse_split(
      getattr(named, f"{split}_split")).name


def _npz(path, known):
  stat = os.stat(path)
  stamp = dict(path=path, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
               ctime_ns=stat.st_ctime_ns)
  key = tuple(stamp[name] for name in _STAMP)
  if key not in _HASHED:
    if known and known.get("sha256") and all(
        known.get(name) == stamp[name] for name in _STAMP):
      _HASHED[key] = (known["sha256"], known.get("images"))
    else:
      digest = hashlib.sha256()
      with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
          digest.update(chunk)
      try:
        with zipfile.ZipFile(path) as archive:
          info = archive.getinfo("images.npy")
          images = {"crc32": info.CRC, "bytes": info.file_size}
      except (zipfile.BadZipFile, KeyError, OSError):
        images = None
      _HASHED[key] = (digest.hexdigest(), images)
  sha256, images = _HASHED[key]
  return {"source": "npz", "file": os.path.basename(path), **stamp,
          "sha256": sha256, "images": images}


def _tfds(name, split, data_dir):
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    version = str(tfds.builder(name, data_dir=data_dir).info.version)
  except Exception:  # pylint: disable=broad-except
    version = None   # loading it has worked: tfds names it no version
  return {"source": "tfds", "name": name, "split": split, "version": version}


def of_datasets(config, names, splits=("test",), known=None):
  """`{"<dataset>/<split>": fingerprint}` of the sources `names` read.

  Args:
    config: `DataConfig` (`data_dir`, `source`, the in-distribution splits).
    names: dataset names, real or special.
    splits: `"train"` and / or `"test"`, read of each name (a name made from
      `config.dataset` reads `config`'s own splits, others the whole split).
    known: a record written before (config.json's), whose sha256s are reused
      for files with the same path, size, mtime and ctime.
  """
  data_dir = config.data_dir or sources.default_data_dir()
  known = known or {}
  found = {}
  for name in names:
    for split in splits:
      source = _base_and_split(config, name, split)
      if source is None or f"{source[0]}/{source[1]}" in found:
        continue
      base, split_name = source
      key = f"{base}/{split_name}"
      path = os.path.abspath(os.path.join(data_dir,
                                          f"{base}_{split_name}.npz"))
      if config.source != "tfds" and os.path.exists(path):
        found[key] = _npz(path, known.get(key))
      elif config.source != "npz":
        found[key] = _tfds(base, split_name, config.tfds_data_dir)
  return found


def of_run(config, eval_datasets=(), known=None):
  """`of_datasets` of what training reads: `config.dataset`'s train and test
  splits, then each of `eval_datasets`' test split."""
  found = of_datasets(config, [config.dataset], ("train", "test"), known)
  for key, value in of_datasets(config, eval_datasets, known=known).items():
    found.setdefault(key, value)
  return found


def training_keys(config):
  """The keys of the in-distribution sources (what the weights and the
  plateau rule's test bits/dim come from)."""
  return set(of_datasets(config, [config.dataset], ("train", "test")))


def describe(entry):
  """One entry in words: `"toy_train.npz (2,048 bytes, sha256 0a1b2c3d4e5f)"`."""
  if entry.get("source") == "npz":
    return (f"{entry.get('path') or entry.get('file')} ({entry.get('size'):,} "
            f"bytes, sha256 {str(entry.get('sha256'))[:12]})")
  return (f"tensorflow_datasets {entry.get('name')!r} version "
          f"{entry.get('version')}, split {entry.get('split')!r}")


def compare(old, new):
  """`"same"`, `"rewritten"` (an npz file's bytes changed, its images did not)
  or `"changed"`."""
  if old.get("source") != new.get("source"):
    return "changed"
  if new.get("source") == "npz":
    if old.get("size") == new.get("size") and (
        old.get("sha256") == new.get("sha256")):
      return "same"
    if old.get("images") and old.get("images") == new.get("images"):
      return "rewritten"
    return "changed"
  same = all(old.get(k) == new.get(k) for k in ("name", "split", "version"))
  return "same" if same else "changed"


def _change(key, old, new):
  if old.get("source") == new.get("source") == "npz" and (
      old.get("path") == new.get("path")):
    return (f"{key} ({new['path']}) was {old.get('size'):,} bytes, sha256 "
            f"{str(old.get('sha256'))[:12]}, and is {new['size']:,} bytes, "
            f"sha256 {new['sha256'][:12]} now")
  return f"{key} was {describe(old)} and is {describe(new)} now"


def check_resume(payload, config, eval_datasets, workdir):
  """Checks that a resumed run reads the data its config.json records.

  Args:
    payload: the run's config.json (a dict), with `RECORD_KEY` or without
      (a run written before fingerprints).
    config: the resumed run's `DataConfig`; `eval_datasets` its evaluation
      sets.
    workdir: the run folder, for the messages.

  Returns:
    Lines to print: that a run without a record resumes unchecked; that a
    file was written again with the same images; that an evaluation set
    changed (its bits/dim before and after do not compare).

  Raises:
    DataChangedError: the in-distribution train or test data changed; one
      line naming each change and what to do.
  """
  recorded = payload.get(RECORD_KEY)
  if recorded is None:
    config_file = os.path.join(workdir, run_folder.CONFIG_FILE)
    return [f"{config_file} records no data fingerprints (the run was "
            "trained before glow-ood recorded them): resuming without "
            "checking its data, which is recorded from now on."]
  current = of_run(config, eval_datasets, known=recorded)
  training = training_keys(config)
  refused, lines = [], []
  for key, new in current.items():
    old = recorded.get(key)
    status = "same" if old is None else compare(old, new)
    if status == "changed" and key in training:
      refused.append(_change(key, old, new))
    elif status == "changed":
      lines.append(f"Warning: the evaluation set {_change(key, old, new)}: "
                   "its bits/dim before and after this resume do not "
                   "compare.")
    elif status == "rewritten":
      lines.append(f"{new['path']} was written again with the same images "
                   f"({key}: sha256 {str(old.get('sha256'))[:12]} before, "
                   f"{new['sha256'][:12]} now); resuming.")
  if refused:
    raise DataChangedError(
        f"{workdir} was trained on other data than it would resume on: "
        + "; ".join(refused) + ". To resume, give it the data it was "
        "trained on (restore the files, or read them where and how it did: "
        "--data_dir, --data_source); to train on the new data, use a new "
        f"--workdir, with --init_from={workdir} to start from this run's "
        "weights.")
  return lines


def evaluation_warnings(payload, config, names, workdir):
  """Warning lines for the datasets an evaluation scores that differ from
  what the run recorded when it trained (nothing for a run without a
  record, or for sets it never read).

  Args:
    payload: the run's config.json (a dict).
    config: the `DataConfig` the evaluation reads with.
    names: the datasets scored besides `config.dataset`'s train and test.
    workdir: the run folder, for the message.
  """
  recorded = payload.get(RECORD_KEY)
  if not recorded:
    return []
  current = of_run(config, names, known=recorded)
  return [f"Warning: {workdir} is scored on other data than it was trained "
          f"and evaluated on: {_change(key, recorded[key], new)}; its "
          "numbers are not those of that data."
          for key, new in current.items()
          if key in recorded and compare(recorded[key], new) == "changed"]
