"""glow-ood: Glow in TensorFlow 2 / TFP for out-of-distribution research."""

import setuptools

setuptools.setup(
    name="glow-ood",
    version="0.1.0",
    description=("Glow (Kingma & Dhariwal 2018) in TF2/TFP, reproducing and "
                 "extending 'Do Deep Generative Models Know What They Don't "
                 "Know?' (Nalisnick et al. 2019)."),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["bijectors", "bijectors.*",
                                               "glow_ood", "glow_ood.*",
                                               "launch", "launch.*"]),
    python_requires=">=3.10",
    # Verified together: TF 2.21 + TFP 0.25 + tf-keras 2.21 (see
    # glow_ood/environment.py, which checks the installed pair at import).
    install_requires=[
        "tensorflow>=2.18,<2.22",
        "tensorflow-probability>=0.25,<0.26",
        "tf-keras>=2.18,<2.22",
        "tensorflow-datasets>=4.9,<5",
        "tensorboard>=2.18",
        "absl-py>=1.0",
        "numpy>=1.26",
        "matplotlib>=3.7",
        "Pillow>=9",
        # glow_ood.scores: DoSE (KernelDensity, OneClassSVM, PCA) and the
        # latents' goodness-of-fit tests (scipy.stats).
        "scikit-learn>=1.5,<2",
        "scipy>=1.11",
    ],
    extras_require={"test": ["pytest>=7", "pytest-xdist>=3"]},
    # One console script per launcher: `glow-ood-train` is
    # `python launch/train.py`, from any folder.
    entry_points={"console_scripts": [
        f"glow-ood-{name.replace('_', '-')}=launch.{name}:console_main"
        for name in ("train", "evaluate", "analyze_data", "ood_benchmark",
                     "train_ensemble", "two_moons")] + [
                         "glow-ood-export=launch.export:console_main"]},
)
