"""Analyses of the paper, one module each.

  data_statistics     per-dimension means / variances, covariances, norms (Fig. 6, 11)
  latent_statistics   per-dimension mean / std and norms of the codes (Fig. 12-13)
  graying             likelihood of images shrunk toward 128 (Fig. 6c)
  second_order        the second-order prediction of Section 5 (Eq. 5-6)
  jpeg_matching       the JPEG quality that matches a compressed dataset's error
"""

from glow_ood.analysis import data_statistics
from glow_ood.analysis import graying
from glow_ood.analysis import jpeg_matching
from glow_ood.analysis import latent_statistics
from glow_ood.analysis import second_order
