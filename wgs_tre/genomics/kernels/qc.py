"""Genotype counts per variant and per sample, and the Hardy-Weinberg exact test."""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["hwe_exact", "sample_counts", "variant_counts"]


def _code_counts() -> np.ndarray:
    """For each byte value, how many of its four calls are 0, 1, 2 and missing (3)."""
    table = np.zeros((256, 4), dtype=np.int64)
    for byte in range(256):
        for slot in range(4):
            table[byte, (byte >> (2 * slot)) & 3] += 1
    return table


_CODE_COUNTS = _code_counts()


@numba.njit(nogil=True, cache=True)
def _variant_counts(packed: np.ndarray, samples: int, table: np.ndarray, out: np.ndarray) -> None:
    padding = packed.shape[1] * 4 - samples
    for v in range(packed.shape[0]):
        c0 = c1 = c2 = c3 = 0
        for b in range(packed.shape[1]):
            byte = packed[v, b]
            c0 += table[byte, 0]
            c1 += table[byte, 1]
            c2 += table[byte, 2]
            c3 += table[byte, 3]
        out[v, 0] = c0
        out[v, 1] = c1
        out[v, 2] = c2
        out[v, 3] = c3 - padding


def variant_counts(packed: np.ndarray, samples: int) -> np.ndarray:
    """(variants, 4) int64: homozygous reference, heterozygous, homozygous alternate, missing."""
    out = np.empty((packed.shape[0], 4), dtype=np.int64)
    _variant_counts(packed, samples, _CODE_COUNTS, out)
    return out


@numba.njit(nogil=True, cache=True)
def _sample_counts(
    packed: np.ndarray, samples: int, expected_hom: np.ndarray, out: np.ndarray
) -> None:
    for v in range(packed.shape[0]):
        e = expected_hom[v]
        use = not np.isnan(e)
        for j in range(samples):
            code = (packed[v, j >> 2] >> ((j & 3) << 1)) & 3
            if code == 3:
                continue
            out[j, 0] += 1.0
            if code == 1:
                out[j, 1] += 1.0
            elif code == 2:
                out[j, 2] += 1.0
            if use:
                out[j, 3] += 1.0
                out[j, 4] += e
                if code != 1:
                    out[j, 5] += 1.0


def sample_counts(packed: np.ndarray, samples: int, expected_hom: np.ndarray) -> np.ndarray:
    """(samples, 6) float64 sums over the block's variants: called, heterozygous, homozygous
    alternate; and, over variants whose ``expected_hom`` (probability of a homozygous call)
    is not NaN: called, expected homozygous, observed homozygous."""
    out = np.zeros((samples, 6), dtype=np.float64)
    _sample_counts(packed, samples, np.asarray(expected_hom, dtype=np.float64), out)
    return out


@numba.njit(nogil=True, cache=True)
def _hwe_one(het: int, hom1: int, hom2: int, probs: np.ndarray, midp: bool) -> float:
    """Exact two-sided Hardy-Weinberg p-value (Wigginton, Cutler & Abecasis 2005); with
    ``midp``, outcomes as likely as the observed one count half (Graffelman & Moreno 2013)."""
    rare_hom, common_hom = min(hom1, hom2), max(hom1, hom2)
    genotypes = het + rare_hom + common_hom
    if genotypes == 0:
        return np.nan
    rare = 2 * rare_hom + het
    probs[: rare + 1] = 0.0
    mid = rare * (2 * genotypes - rare) // (2 * genotypes)
    if (mid & 1) != (rare & 1):
        mid += 1
    probs[mid] = 1.0
    total = 1.0
    hets, homr = mid, (rare - mid) // 2
    homc = genotypes - hets - homr
    while hets > 1:
        probs[hets - 2] = probs[hets] * hets * (hets - 1) / (4.0 * (homr + 1) * (homc + 1))
        total += probs[hets - 2]
        hets -= 2
        homr += 1
        homc += 1
    hets, homr = mid, (rare - mid) // 2
    homc = genotypes - hets - homr
    while hets <= rare - 2:
        probs[hets + 2] = probs[hets] * 4.0 * homr * homc / ((hets + 2.0) * (hets + 1.0))
        total += probs[hets + 2]
        hets += 2
        homr -= 1
        homc -= 1
    observed = probs[het]
    less = 0.0
    tied = 0.0
    for i in range(rare + 1):
        if probs[i] < observed * (1.0 - 1e-8):
            less += probs[i]
        elif probs[i] <= observed * (1.0 + 1e-8):  # equal within rounding
            tied += probs[i]
    return min(1.0, (less + (0.5 * tied if midp else tied)) / total)


@numba.njit(nogil=True, cache=True)
def _hwe(counts: np.ndarray, out: np.ndarray, midp: bool) -> None:
    probs = np.empty(2 * int(counts[:, :3].sum(axis=1).max()) + 2, dtype=np.float64)
    for v in range(counts.shape[0]):
        out[v] = _hwe_one(counts[v, 1], counts[v, 0], counts[v, 2], probs, midp)


def hwe_exact(counts: np.ndarray, midp: bool = False) -> np.ndarray:
    """Per-variant HWE exact p-values from ``variant_counts`` rows (NaN with no called sample)."""
    out = np.empty(counts.shape[0], dtype=np.float64)
    if len(counts):
        _hwe(np.ascontiguousarray(counts, dtype=np.int64), out, midp)
    return out
