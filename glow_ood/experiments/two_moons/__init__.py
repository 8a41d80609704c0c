"""Appendix C of Nalisnick et al. (2019): RealNVP on two moons copied to D dimensions."""

from glow_ood.experiments.two_moons import data
from glow_ood.experiments.two_moons import experiment
from glow_ood.experiments.two_moons import realnvp
from glow_ood.configs.two_moons import TwoMoonsConfig
from glow_ood.experiments.two_moons.experiment import run
