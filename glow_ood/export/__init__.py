"""A trained run as a SavedModel OOD scorer that serves with TensorFlow alone.

    python launch/export.py --workdir=runs/fashion_mnist_glow_cpu --output_dir=exports/fmnist

`export_run(run, ExportConfig(), output_dir)` writes the run's model (EMA
weights where the run kept them) with serving signatures on uint8 images:
log P(image), bits/dim, Glow's decomposition, the typicality test fitted on
the run's held-out split and input complexity (`serving`). Modules:

  terms        scores.npz's per-example numbers as graph ops
  image_ops    training's padding / tiling and PNG lengths, in the graph
  serving      `ServingModule`: the signatures and what each output means
  calibration  the fit images and the typicality fit
  exporter     `export_run`: fit, build, save, reload and verify
"""

from glow_ood.export.exporter import check_output_dir
from glow_ood.export.exporter import export_run
from glow_ood.export.exporter import INFO_FILE
from glow_ood.export.serving import OUTPUTS
from glow_ood.export.serving import ServingModule
from glow_ood.export.serving import TypicalityFit

__all__ = ["export_run", "check_output_dir", "INFO_FILE", "OUTPUTS",
           "ServingModule", "TypicalityFit"]
