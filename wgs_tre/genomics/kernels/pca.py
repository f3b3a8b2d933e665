"""Standardised dosages for PCA, and LD thinning.

A dosage is standardised as (x - 2p) / sqrt(2p(1-p)) with p the variant's alternate allele
frequency; a missing call becomes 0 (the mean), as plink2 does for ``--pca``.
"""

from __future__ import annotations

import numba
import numpy as np

from wgs_tre.backends.packed import MISSING, call_code

__all__ = ["ld_thin", "standardise"]


@numba.njit(nogil=True, cache=True)
def _standardise(
    packed: np.ndarray,
    samples: int,
    rows: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    out: np.ndarray,
) -> None:
    table = np.zeros(4, dtype=out.dtype)
    for i in range(rows.shape[0]):
        v = rows[i]
        for code in range(3):
            table[code] = (code - mean[v]) * scale[v]
        table[MISSING] = 0.0
        for j in range(samples):
            out[i, j] = table[call_code(packed, v, j)]


def standardise(
    packed: np.ndarray, samples: int, rows: np.ndarray, mean: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """(len(rows), samples) float32: the chosen rows, centred by ``mean`` and multiplied by
    ``scale`` (per variant of the block), missing calls 0."""
    out = np.empty((len(rows), samples), dtype=np.float32)
    _standardise(packed, samples, np.asarray(rows, dtype=np.int64), mean, scale, out)
    return out


@numba.njit(nogil=True, cache=True)
def _ld_thin(values: np.ndarray, contig: np.ndarray, window: int, r2_max: float) -> np.ndarray:
    rows = values.shape[0]
    kept = np.zeros(rows, dtype=np.bool_)
    norms = np.empty(rows)
    for i in range(rows):
        s = 0.0
        for j in range(values.shape[1]):
            s += values[i, j] * values[i, j]
        norms[i] = s
    recent = np.empty(rows, dtype=np.int64)  # kept rows, newest last
    count = 0
    for i in range(rows):
        if norms[i] == 0.0:
            continue
        keep = True
        for r in range(count - 1, -1, -1):
            other = recent[r]
            if contig[other] != contig[i] or i - other > window:
                break
            dot = 0.0
            for j in range(values.shape[1]):
                dot += values[i, j] * values[other, j]
            if dot * dot > r2_max * norms[i] * norms[other]:
                keep = False
                break
        if keep:
            kept[i] = True
            recent[count] = i
            count += 1
    return kept


def ld_thin(values: np.ndarray, contig: np.ndarray, window: int, r2_max: float) -> np.ndarray:
    """Greedy thinning in genome order: keep a row unless its squared correlation with a row
    already kept among the previous ``window`` rows on the same contig exceeds ``r2_max``
    (plink's ``--indep-pairwise`` idea, with a window counted in variants). ``values`` are
    standardised rows (missing = 0). Returns a boolean mask of kept rows."""
    return _ld_thin(values, contig.astype(np.int64), window, r2_max)
