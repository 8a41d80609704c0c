"""Analyses of the paper: data and latent statistics, graying, the second-order prediction."""
