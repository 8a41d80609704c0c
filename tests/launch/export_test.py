"""`launch/export.py` end to end: one tiny run per family, served by plain TensorFlow.

Each family trains 2 steps on toy data through `launch/train.py` (in this
process, `tests.launch.in_process`), chosen so that every export path is
taken: the Glow pads 6x6 images to 8x8, keeps EMA weights and carves a
validation split (typicality is fitted on it); the VAE tiles gray images to
RGB; the PixelCNN uses its images as stored (typicality on the test split).
`launch/evaluate.py` then writes scores.npz, `launch/export.py` the
SavedModels, and ONE fresh Python process, in which `glow_ood` and
`bijectors` cannot be imported, reloads all three, scores the same images and
prints `saved_model_cli show --all`. Its numbers must be scores.npz's to
1e-5. All of that is the end-to-end tier (`slow`); the error paths that
need no run are in the default suite.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests import launcher_error_line
from tests.launch import in_process
from tests.toy_data import write_dataset
from glow_ood import configs
from glow_ood import data
from glow_ood import likelihood_terms
from glow_ood import runs
from glow_ood import scores as scores_lib
from glow_ood.export import calibration
from glow_ood.runs import folder as run_folder

FAMILIES = ("glow", "pixelcnn", "vae")
OOD = "constant:128"
TOLERANCE = 1e-5

# The family's smoke flagfile, then what makes each take its own export path.
_RUN_FLAGS = {
    "glow": ["--flagfile=launch/flagfiles/smoke.cfg", "--dataset=toy6",
             "--pad_to=8", "--image_shape=8,8,1", "--validation_size=16",
             "--ema_decay=0.9"],
    "pixelcnn": ["--flagfile=launch/flagfiles/smoke_pixelcnn.cfg",
                 "--dataset=toy", "--pad_to=0", "--image_shape=8,8,1"],
    "vae": ["--flagfile=launch/flagfiles/smoke_vae.cfg", "--dataset=toy",
            "--pad_to=0", "--to_rgb", "--image_shape=8,8,3"],
}

# Runs in a fresh interpreter, from another folder: glow_ood and bijectors
# are made unimportable (the project is installed in editable mode, so a
# finder that refuses them comes first on sys.meta_path).
_PLAIN_TF_SCRIPT = textwrap.dedent("""
    import contextlib, importlib.abc, io, json, os, sys

    class _Refuse(importlib.abc.MetaPathFinder):
      def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("glow_ood", "bijectors"):
          raise ImportError("blocked in this test: " + name)
        return None

    sys.meta_path.insert(0, _Refuse())
    for name in ("glow_ood", "bijectors"):
      try:
        __import__(name)
        raise SystemExit(name + " is importable")
      except ImportError:
        pass

    import numpy as np
    import tensorflow as tf
    from tensorflow.python.tools import saved_model_cli

    jobs = json.loads(sys.argv[1])
    out = {}
    for family, job in jobs.items():
      scorer = tf.saved_model.load(job["export"])
      images = np.load(job["images"])
      out[family] = {"signatures": sorted(scorer.signatures)}
      for name in images.files:
        signature = ("pad_like_training" if name.endswith("/raw")
                     else "serving_default")
        result = scorer.signatures[signature](
            images=tf.constant(images[name]))
        for key, value in result.items():
          np.save(os.path.join(job["output"], name.replace("/", "_") + "."
                               + key + ".npy"), value.numpy())
      out[family]["metadata"] = json.loads(
          scorer.signatures["metadata"]()["json"].numpy().decode())
      listing = io.StringIO()
      with contextlib.redirect_stdout(listing):
        saved_model_cli._show_all(job["export"])  # saved_model_cli show --all
      out[family]["saved_model_cli"] = listing.getvalue()
    out["leaked"] = sorted(m for m in sys.modules
                           if m.split(".")[0] in ("glow_ood", "bijectors"))
    print(json.dumps(out))
""")


class Family:
  """One family's run, its evaluation, its export and the images both scored."""

  def __init__(self, family, root, data_dir):
    self.family = family
    self.workdir = os.path.join(root, family)
    self.export_dir = os.path.join(root, "exports", family)
    result = in_process.run(
        "launch/train.py", *_RUN_FLAGS[family], f"--data_dir={data_dir}",
        "--data_source=npz", f"--eval_datasets={OOD}", "--train_steps=2",
        "--checkpoint_every=2", "--log_every=2", "--init_batch_size=32",
        "--eval_num_examples=16", "--strategy=one_device", "--devices=/cpu:0",
        "--num_samples=0", f"--workdir={self.workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    self.evaluation = os.path.join(root, "evaluations", family)
    result = in_process.run(
        "launch/evaluate.py", f"--workdir={self.workdir}",
        f"--output_dir={self.evaluation}", "--num_examples=32",
        f"--datasets={OOD}", "--num_samples=0", "--graying_factors=",
        "--num_bootstrap=10")
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(os.path.join(self.evaluation, "scores.npz")) as arrays:
      self.scores = dict(arrays)
    # The reload below checks every export; the export's own reload check
    # (--verify, 3-7 s here) runs for one family.
    self.export = in_process.run(
        "launch/export.py", f"--workdir={self.workdir}",
        f"--output_dir={self.export_dir}",
        "--verify" if family == "vae" else "--noverify")
    assert self.export.returncode == 0, self.export.stderr[-3000:]
    self.config = config = run_folder.read_config(self.workdir,
                                                  configs.TrainConfig)
    # The images evaluate.py scored, loaded as it loads them.
    self.sets = data.load_evaluation_sets(
        config.data, (OOD,), image_shape=config.model.image_shape,
        num_examples=32)
    self.dataset = config.data.dataset
    test = calibration.load_fit_images(config, "test", 32)
    assert np.array_equal(test.images, self.sets[f"{self.dataset}/test"])
    self.raw_test = test.raw_images
    self.images_file = os.path.join(root, f"{family}_images.npz")
    raw = ({f"{self.dataset}/test/raw": self.raw_test}
           if self.raw_test.shape[1:] != test.images.shape[1:] else {})
    np.savez(self.images_file, **self.sets, **raw)
    self.served_dir = os.path.join(root, "served", family)
    os.makedirs(self.served_dir)

  def served(self, name, key):
    return np.load(os.path.join(self.served_dir,
                                f"{name.replace('/', '_')}.{key}.npy"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("launch_export_test"))
  data_dir = os.path.join(root, "data")
  write_dataset(data_dir, num_test=32)
  write_dataset(data_dir, name="toy6", num_test=32, shape=(6, 6, 1))
  families = {f: Family(f, root, data_dir) for f in FAMILIES}
  jobs = {f: dict(export=x.export_dir, images=x.images_file,
                  output=x.served_dir) for f, x in families.items()}
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  result = subprocess.run(
      [sys.executable, "-c", _PLAIN_TF_SCRIPT, json.dumps(jobs)],
      cwd=root, env=env, capture_output=True, text=True, timeout=300,
      check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  served = json.loads(result.stdout.strip().splitlines()[-1])
  return families, served


@pytest.mark.slow
def test_plain_tensorflow_never_imported_the_project(exported):
  _, served = exported
  assert served["leaked"] == []


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_served_numbers_are_evaluate_pys(exported, family):
  families, _ = exported
  x = families[family]
  terms = ["discrete_log_prob", "bits_per_dim"]
  if family == "glow":
    terms += ["log_prob_z", "log_det", "log_prob_z_per_level",
              "log_det_per_level"]
  if family == "vae":
    terms += ["log_prob_stderr"]
  for name in x.sets:
    for term in terms:
      expected = x.scores[f"{family}/{name}/{term}"]
      got = x.served(name, "log_prob" if term == "discrete_log_prob"
                     else term)
      np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE,
                                 err_msg=f"{family} {name} {term}")


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_signatures_per_family(exported, family):
  families, served = exported
  expected = {"log_prob", "bits_per_dim", "typicality", "input_complexity",
              "serving_default", "metadata"}
  if family == "glow":
    expected |= {"decomposition", "pad_like_training"}
  if family == "vae":
    expected |= {"pad_like_training"}
  assert set(served[family]["signatures"]) == expected
  listing = served[family]["saved_model_cli"]
  for name in expected:
    assert f"signature_def['{name}']" in listing
  shape = "(-1, 8, 8, 3)" if family == "vae" else "(-1, 8, 8, 1)"
  assert "dtype: DT_UINT8" in listing and shape in listing
  stdout = families[family].export.stdout
  assert f"Signatures: {', '.join(['log_prob', 'bits_per_dim'])}" in stdout
  assert f"Written to {families[family].export_dir}/" in stdout
  if family == "vae":
    assert "Verified: the reloaded SavedModel gives" in stdout
  if family != "glow":
    assert ("Left out: decomposition (a " + family + " model has no "
            "decomposition of log p(x))") in stdout


# The PixelCNN run uses its images as stored: it has no such signature
# (test_signatures_per_family checks that it is left out).
@pytest.mark.slow
@pytest.mark.parametrize("family", ["glow", "vae"])
def test_pad_like_training_serves_the_datasets_own_images(exported, family):
  families, _ = exported
  x = families[family]
  assert x.raw_test.shape[1:] == ((6, 6, 1) if family == "glow" else
                                  (8, 8, 1))
  name = f"{x.dataset}/test"
  for key in ("log_prob", "bits_per_dim", "typicality", "input_complexity"):
    np.testing.assert_array_equal(x.served(f"{name}/raw", key),
                                  x.served(name, key))


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_typicality_is_fitted_on_the_held_out_split(exported, family):
  families, served = exported
  x = families[family]
  metadata = served[family]["metadata"]
  fitted = metadata["typicality"]
  split = "validation" if family == "glow" else "test"
  assert fitted["fitted_on"]["split"] == split
  assert fitted["fitted_on"]["dataset"] == x.dataset
  # The same fit in Python, the way glow_ood.scores.Typicality fits it, on
  # log P(image) from launch/evaluate.py (test split) or the Python scorer.
  images = calibration.load_fit_images(x.config, split, 2000).images
  if split == "test":
    log_prob = x.scores[f"{family}/{x.dataset}/test/discrete_log_prob"]
    assert len(log_prob) == len(images)
  else:
    model = runs.load_run(x.workdir).model
    log_prob = likelihood_terms.LikelihoodTermsEvaluator(model)(images).discrete_log_prob
  score = scores_lib.Typicality().fit(
      scores_lib.Features(discrete_log_prob=log_prob))
  assert fitted["fitted_on"]["num_examples"] == len(images)
  np.testing.assert_allclose(fitted["entropy"], score.entropy, rtol=1e-9)
  np.testing.assert_allclose(fitted["threshold"], score.threshold,
                             rtol=1e-9)
  name = f"{x.dataset}/test"
  features = scores_lib.Features(
      discrete_log_prob=x.scores[f"{family}/{name}/discrete_log_prob"])
  np.testing.assert_allclose(x.served(name, "typicality"), score(features),
                             atol=TOLERANCE, rtol=0)
  np.testing.assert_array_equal(x.served(name, "is_ood"),
                                x.served(name, "typicality")
                                > fitted["threshold"])
  assert ("higher for inputs that look more out-of-distribution"
          in metadata["sign_convention"])
  outputs = metadata["signatures"]["typicality"]["outputs"]
  assert "Higher = more out-of-distribution" in outputs["typicality"]
  weights = metadata["run"]["weights"]
  assert ("exponential moving average" in weights) == (family == "glow")


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_input_complexity_is_the_python_scores(exported, family):
  families, _ = exported
  x = families[family]
  for name, images in x.sets.items():
    features = scores_lib.Features(
        discrete_log_prob=x.scores[f"{family}/{name}/discrete_log_prob"],
        num_dims=int(np.prod(images.shape[1:])), images=images)
    python = scores_lib.InputComplexity()(features)
    served = x.served(name, "input_complexity")
    python_bits = scores_lib.compressed_bits(images)
    same = x.served(name, "png_bits") == python_bits
    if name.startswith("constant:"):
      assert same.all()
    # Identical where libpng and Pillow write PNGs of the same length, else
    # off by exactly their difference (glow_ood.export.image_ops).
    np.testing.assert_allclose(served[same], python[same], atol=TOLERANCE,
                               rtol=0)
    np.testing.assert_allclose(
        served - python, (python_bits - x.served(name, "png_bits"))
        / features.num_dims, atol=TOLERANCE, rtol=0)


def test_existing_output_dir_is_refused_and_untouched(tmp_path):
  target = tmp_path / "taken"
  target.mkdir()
  (target / "keep.txt").write_text("mine")
  result = in_process.run("launch/export.py", f"--workdir={tmp_path}",
                          f"--output_dir={target}")
  line = launcher_error_line(result, "launch/export.py")
  assert "exists and is not empty; an export never overwrites" in line
  assert os.listdir(target) == ["keep.txt"]


def test_missing_run_fails_with_one_line(tmp_path):
  result = in_process.run("launch/export.py",
                          f"--workdir={tmp_path / 'nothing'}",
                          f"--output_dir={tmp_path / 'out'}")
  line = launcher_error_line(result, "launch/export.py")
  assert "does not exist; pass the folder of a trained run" in line
  assert not os.path.exists(tmp_path / "out")


@pytest.mark.slow
def test_validation_split_of_a_run_without_one_is_refused(exported, tmp_path):
  families, _ = exported
  result = in_process.run("launch/export.py",
                          f"--workdir={families['pixelcnn'].workdir}",
                          f"--output_dir={tmp_path / 'out'}",
                          "--typicality_fit_split=validation")
  line = launcher_error_line(result, "launch/export.py")
  assert "the run has no validation split" in line
  assert not os.path.exists(tmp_path / "out")


def test_export_config_flags_match_the_dataclass():
  assert configs.ExportConfig().typicality_fit_split == "auto"
  with pytest.raises(ValueError, match="typicality_fit_split"):
    configs.ExportConfig(typicality_fit_split="train_set")
