"""Governed genomics on variant views: QC, association, PCA, annotation and plots.

In the style of sgkit: each function takes the xarray Dataset that
``wgs_tre.open_project().variants()`` returns and gives back that Dataset with new variables
whose names carry their dimensions (``variant_*``, ``sample_*``). Inputs are validated with an
error naming what is wrong. The numeric kernels (``wgs_tre.genomics.kernels``) read two-bit
packed dosages block by block, so memory stays bounded whatever the number of variants; Dask runs
the blocks on local threads or on the cluster built by ``wgs_tre.compute``.
"""

from wgs_tre.genomics.annotation import annotate, top_hits, variant_table
from wgs_tre.genomics.association import Firth, gwas_linear, gwas_logistic
from wgs_tre.genomics.export import plink2_glm_table, write_plink2_glm
from wgs_tre.genomics.pca import pca
from wgs_tre.genomics.plots import genomic_inflation, manhattan, qq
from wgs_tre.genomics.qc import sample_stats, variant_stats

__all__ = [
    "Firth",
    "annotate",
    "genomic_inflation",
    "gwas_linear",
    "gwas_logistic",
    "manhattan",
    "pca",
    "plink2_glm_table",
    "qq",
    "sample_stats",
    "top_hits",
    "variant_stats",
    "variant_table",
    "write_plink2_glm",
]
