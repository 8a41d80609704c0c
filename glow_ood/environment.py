"""Fails early, with the fix, when the installed TensorFlow stack is known not to work."""

import importlib.metadata
import os

__all__ = ["check_versions", "use_onednn", "SUPPORTED"]

# (tensorflow major.minor, tensorflow-probability major.minor) pairs known to
# work together with tf-keras of the same minor as tensorflow. TFP 0.25 was
# released against TF 2.18 and is verified here with TF 2.21.
SUPPORTED = {
    "2.18": "0.25", "2.19": "0.25", "2.20": "0.25", "2.21": "0.25",
}
_INSTALL = ('pip install "tensorflow>=2.18,<2.22" '
            '"tensorflow-probability>=0.25,<0.26" "tf-keras>=2.18,<2.22"')


def _minor(version):
  return ".".join(version.split(".")[:2])


def _installed(package):
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return None


def use_onednn():
  """Turns on TensorFlow's oneDNN kernels (`TF_ENABLE_ONEDNN_OPTS=1`) unless the user chose.

  TensorFlow enables them by default only on some x86 CPUs (those with
  AVX-512 or newer); on AVX2-only machines (e.g. AMD Zen 3) it runs Eigen's
  kernels, whose convolution gradients are 1.5-2.5x slower
  (`benchmarks/throughput.py` prints the measured difference). Must run
  before TensorFlow is imported; an explicit `TF_ENABLE_ONEDNN_OPTS=0` is
  kept.
  """
  os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def check_versions():
  """Raises `ImportError` naming the fix if TF / TFP / tf-keras do not fit together.

  Must run before TensorFlow is imported: it also sets `TF_USE_LEGACY_KERAS=1`
  (TFP's networks and ours must not be Keras 3 objects).
  """
  os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
  use_onednn()
  tf_version = _installed("tensorflow") or _installed("tensorflow-cpu")
  tfp_version = _installed("tensorflow-probability")
  keras_version = _installed("tf-keras") or _installed("tf_keras")
  problems = []
  if tf_version is None:
    problems.append("tensorflow is not installed")
  if tfp_version is None:
    problems.append("tensorflow-probability is not installed")
  if keras_version is None:
    problems.append("tf-keras is not installed (TFP needs it on TF >= 2.16)")
  if not problems:
    wanted = SUPPORTED.get(_minor(tf_version))
    if wanted is None:
      problems.append(f"tensorflow {tf_version} is not a verified version "
                      f"(verified: {', '.join(sorted(SUPPORTED))})")
    elif _minor(tfp_version) != wanted:
      problems.append(f"tensorflow {tf_version} needs tensorflow-probability "
                      f"{wanted}.x, found {tfp_version}")
    if _minor(keras_version) != _minor(tf_version):
      problems.append(f"tf-keras {keras_version} does not match tensorflow "
                      f"{tf_version} (same major.minor needed)")
  if problems and not os.environ.get("GLOW_OOD_SKIP_VERSION_CHECK"):
    raise ImportError(
        "glow_ood: " + "; ".join(problems) + f". Fix: {_INSTALL} (or set "
        "GLOW_OOD_SKIP_VERSION_CHECK=1 to try anyway).")
