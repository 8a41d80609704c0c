"""Tests of glow-ood, mirroring the tree: tests/bijectors, tests/glow_ood/<package>, tests/launch."""

import os

# The repository root (the launchers run from here).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
