"""Standardised dosages for PCA, LD thinning, and the pieces of plink2's relationship matrix.

A dosage is standardised as (x - 2p) / sqrt(2p(1-p)) with p the variant's alternate allele
frequency among called alleles; a missing call becomes 0 (the mean), as in plink2's ``--pca``.
"""

from __future__ import annotations

import numba
import numpy as np

from wgs_tre.backends.packed import MISSING, call_code

__all__ = ["finish_pairwise_grm", "ld_thin", "pairwise_counts", "standardise"]


@numba.njit(nogil=True, cache=True, inline="always")
def _table(mean: float, scale: float, table: np.ndarray) -> None:
    """Standardised value of each call code (MISSING -> 0), in ``table``'s precision."""
    for code in range(3):
        table[code] = (code - mean) * scale
    table[MISSING] = 0.0


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
        _table(mean[v], scale[v], table)
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
def _ld_thin(
    packed: np.ndarray,
    samples: int,
    rows: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    contig: np.ndarray,
    window: int,
    r2_max: float,
) -> np.ndarray:
    kept = np.zeros(rows.shape[0], dtype=np.bool_)
    # Only kept rows among the previous ``window`` candidates are compared with, so the last
    # ``window`` kept rows are all that is held: memory does not grow with the block.
    slots = max(window, 1)
    ring = np.empty((slots, samples), dtype=np.float32)
    ring_row = np.empty(slots, dtype=np.int64)
    ring_norm = np.empty(slots)
    row = np.empty(samples, dtype=np.float32)
    table = np.zeros(4, dtype=np.float32)
    count = 0  # rows kept so far; the newest sits in slot (count - 1) % slots
    for i in range(rows.shape[0]):
        v = rows[i]
        _table(mean[v], scale[v], table)
        norm = 0.0
        for j in range(samples):
            x = table[call_code(packed, v, j)]
            row[j] = x
            norm += x * x
        if norm == 0.0:
            continue
        keep = True
        for r in range(count - 1, max(count - slots, 0) - 1, -1):
            slot = r % slots
            other = ring_row[slot]
            if contig[other] != contig[i] or i - other > window:
                break
            dot = 0.0
            for j in range(samples):
                dot += row[j] * ring[slot, j]
            if dot * dot > r2_max * norm * ring_norm[slot]:
                keep = False
                break
        if keep:
            kept[i] = True
            slot = count % slots
            ring[slot, :] = row
            ring_row[slot] = i
            ring_norm[slot] = norm
            count += 1
    return kept


def ld_thin(
    packed: np.ndarray,
    samples: int,
    rows: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    contig: np.ndarray,
    window: int,
    r2_max: float,
) -> np.ndarray:
    """Greedy thinning of the packed ``rows`` (candidates, in genome order), standardised by
    ``mean`` and ``scale`` (per variant of the block): keep a row unless its squared
    correlation with a row already kept among the previous ``window`` candidates on the same
    contig (``contig``: one per candidate) exceeds ``r2_max`` (plink's ``--indep-pairwise``
    idea, with a window counted in variants). Rows without variance are dropped. Returns a
    boolean mask over ``rows``."""
    return _ld_thin(
        packed,
        samples,
        np.asarray(rows, dtype=np.int64),
        mean,
        scale,
        contig.astype(np.int64),
        window,
        r2_max,
    )


@numba.njit(nogil=True, cache=True)
def _pairwise_counts(
    packed: np.ndarray,
    samples: int,
    mean: np.ndarray,
    scale: np.ndarray,
    sparse_max: int,
    both_missing: np.ndarray,
    squares: np.ndarray,
    missing: np.ndarray,
) -> np.ndarray:
    dense = np.zeros(packed.shape[0], dtype=np.bool_)
    absent = np.empty(samples, dtype=np.int64)
    table = np.zeros(4, dtype=np.float64)
    for v in range(packed.shape[0]):
        _table(mean[v], scale[v], table)
        k = 0
        for j in range(samples):
            code = call_code(packed, v, j)
            if code == MISSING:
                absent[k] = j
                k += 1
                missing[j] += 1
            else:
                squares[j] += table[code] * table[code]
        if k > sparse_max:
            dense[v] = True  # many missing calls: left to a matrix product
            continue
        for b in range(1, k):  # column b of the upper triangle, rows a < b
            column = absent[b]
            for a in range(b):
                both_missing[absent[a], column] += 1.0
    return dense


def pairwise_counts(
    packed: np.ndarray,
    samples: int,
    mean: np.ndarray,
    scale: np.ndarray,
    both_missing: np.ndarray,
    squares: np.ndarray,
    missing: np.ndarray,
) -> np.ndarray:
    """Add a block's share of the counts behind plink2's missingness correction: for each pair
    of samples a < b, the variants both miss (into ``both_missing[a, b]``, the upper triangle);
    per sample, its sum of squared standardised dosages (``squares``) and its missing calls
    (``missing``). Pairs of a row with many missing calls cost more one by one than in a
    matrix product: those rows are left out of ``both_missing`` and returned as a mask."""
    sparse_max = max(16, samples // 6)
    return _pairwise_counts(packed, samples, mean, scale, sparse_max, both_missing, squares,
                            missing)  # fmt: skip


@numba.njit(nogil=True, cache=True)
def missing_indicators(packed: np.ndarray, samples: int, rows: np.ndarray) -> np.ndarray:
    """(len(rows), samples) float32: 1 where the call is missing, else 0."""
    out = np.zeros((rows.shape[0], samples), dtype=np.float32)
    for i in range(rows.shape[0]):
        for j in range(samples):
            if call_code(packed, rows[i], j) == MISSING:
                out[i, j] = 1.0
    return out


@numba.njit(nogil=True, cache=True)
def _finish(grm: np.ndarray, squares: np.ndarray, missing: np.ndarray, variants: int) -> int:
    n = grm.shape[0]
    empty = 0
    for b in range(n):
        for a in range(b + 1, n):  # grm[a, b] (lower) holds the sum, grm[b, a] the count
            called = variants - missing[a] - missing[b] + grm[b, a]
            value = grm[a, b] / called if called > 0 else 0.0
            empty += called <= 0
            grm[a, b] = value
            grm[b, a] = value
        called = variants - missing[b]
        grm[b, b] = squares[b] / called if called > 0 else 0.0
        empty += called <= 0
    return empty


def finish_pairwise_grm(
    grm: np.ndarray, squares: np.ndarray, missing: np.ndarray, variants: int
) -> int:
    """In place: from the standardised cross-products (lower triangle) and the counts of
    variants both samples miss (upper triangle), plink2's relationship matrix, each entry
    divided by the number of variants both samples have called (full, symmetric). The
    diagonal comes from ``squares``. Returns the number of pairs with no variant called by
    both (their entries are set to 0)."""
    return int(_finish(grm, squares, missing.astype(np.float64), variants))
