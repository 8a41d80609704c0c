"""Analyses of the paper: data and latent statistics, graying, the second-order prediction."""

from glow_ood.analysis.data_statistics import DataStatistics
from glow_ood.analysis.data_statistics import channel_variance_difference
from glow_ood.analysis.data_statistics import data_statistics
from glow_ood.analysis.graying import GrayingCurve
from glow_ood.analysis.graying import graying_curve
from glow_ood.analysis.latent_statistics import LatentStatistics
from glow_ood.analysis.latent_statistics import latent_statistics
from glow_ood.analysis.second_order import SecondOrderAnalysis
from glow_ood.analysis.second_order import first_order_term
from glow_ood.analysis.second_order import hessian_diagonal
from glow_ood.analysis.second_order import hessian_prediction
from glow_ood.analysis.second_order import paper_dimension_weights
from glow_ood.analysis.second_order import paper_prediction
