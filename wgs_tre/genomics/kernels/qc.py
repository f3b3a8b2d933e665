"""Genotype counts per variant and per sample, and the Hardy-Weinberg exact test."""

from __future__ import annotations

import numba
import numpy as np

from wgs_tre.backends.packed import MISSING, call_code, slot_code

__all__ = ["hwe_exact", "sample_counts", "variant_counts"]


_LOW_BITS = np.uint64(0x5555555555555555)  # bit 0 of each 2-bit call in a 64-bit word


@numba.njit(nogil=True, cache=True, inline="always")
def _popcount(x: np.uint64) -> np.uint64:
    """Set bits of a word (the classic bit-sliced count; LLVM turns it into one instruction)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@numba.njit(nogil=True, cache=True)
def _variant_counts(packed: np.ndarray, samples: int, out: np.ndarray) -> None:
    """32 calls at a time: in each 64-bit word, code 1 is low bit only, 2 high bit only and 3
    (missing, and the row's padding) both; code 0 is what is left."""
    width = packed.shape[1]
    words = width // 8
    for v in range(packed.shape[0]):
        row = packed[v]
        as_words = row[: words * 8].view(np.uint64)
        het = hom_alt = missing = np.uint64(0)
        for i in range(words):
            low = as_words[i] & _LOW_BITS
            high = (as_words[i] >> np.uint64(1)) & _LOW_BITS
            het += _popcount(low & ~high)
            hom_alt += _popcount(high & ~low)
            missing += _popcount(low & high)
        n1, n2, n3 = int(het), int(hom_alt), int(missing)
        for b in range(words * 8, width):  # the last few bytes, one call at a time
            for slot in range(4):
                code = slot_code(row[b], slot)
                n1 += code == 1
                n2 += code == 2
                n3 += code == MISSING
        out[v, 0] = width * 4 - n1 - n2 - n3
        out[v, 1] = n1
        out[v, 2] = n2
        out[v, 3] = n3 - (width * 4 - samples)


def variant_counts(packed: np.ndarray, samples: int) -> np.ndarray:
    """(variants, 4) int64: homozygous reference, heterozygous, homozygous alternate, missing."""
    out = np.empty((packed.shape[0], 4), dtype=np.int64)
    _variant_counts(np.ascontiguousarray(packed), samples, out)
    return out


@numba.njit(nogil=True, cache=True)
def _sample_counts(
    packed: np.ndarray, samples: int, expected_hom: np.ndarray, out: np.ndarray
) -> None:
    for v in range(packed.shape[0]):
        e = expected_hom[v]
        use = not np.isnan(e)
        for j in range(samples):
            code = call_code(packed, v, j)
            if code == MISSING:
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


# Tail terms below this fraction of the observed outcome's probability are not computed: the
# distribution is log-concave, so past that point the terms fall at least geometrically and
# together cannot move the p-value in double precision.
_NEGLIGIBLE = 1e-18


@numba.njit(nogil=True, cache=True)
def _fill_down(probs: np.ndarray, mid: int, rare: int, genotypes: int, target: int,
               cut: float) -> int:  # fmt: skip
    """Relative probabilities of fewer heterozygotes than ``mid``, down to where they become
    negligible (below ``cut``, or below the one at ``target`` once it is reached). Returns the
    lowest count filled."""
    hets, homr = mid, (rare - mid) // 2
    homc = genotypes - hets - homr
    while hets > 1:
        if hets == target:
            cut = probs[target] * _NEGLIGIBLE
        elif hets < target and probs[hets] < cut:
            break
        probs[hets - 2] = probs[hets] * (hets * (hets - 1) / (4.0 * (homr + 1) * (homc + 1)))
        hets -= 2
        homr += 1
        homc += 1
    return hets


@numba.njit(nogil=True, cache=True)
def _fill_up(probs: np.ndarray, mid: int, rare: int, genotypes: int, target: int,
             cut: float) -> int:  # fmt: skip
    """As ``_fill_down``, towards more heterozygotes; returns the highest count filled."""
    hets, homr = mid, (rare - mid) // 2
    homc = genotypes - hets - homr
    while hets <= rare - 2:
        if hets == target:
            cut = probs[target] * _NEGLIGIBLE
        elif hets > target and probs[hets] < cut:
            break
        probs[hets + 2] = probs[hets] * (4.0 * homr * homc / ((hets + 2.0) * (hets + 1.0)))
        hets += 2
        homr -= 1
        homc -= 1
    return hets


@numba.njit(nogil=True, cache=True)
def _hwe_one(het: int, hom1: int, hom2: int, probs: np.ndarray, midp: bool) -> float:
    """Exact two-sided Hardy-Weinberg p-value (Wigginton, Cutler & Abecasis 2005); with
    ``midp``, outcomes as likely as the observed one count half (Graffelman & Moreno 2013).

    Probabilities are relative to the most likely heterozygote count ``mid``; the observed
    count's side is filled first so the other side can stop once its terms are negligible
    next to the observed one.
    """
    rare_hom, common_hom = min(hom1, hom2), max(hom1, hom2)
    genotypes = het + rare_hom + common_hom
    if genotypes == 0:
        return np.nan
    rare = 2 * rare_hom + het
    mid = rare * (2 * genotypes - rare) // (2 * genotypes)
    if (mid & 1) != (rare & 1):
        mid += 1
    probs[mid] = 1.0
    if het <= mid:
        low = _fill_down(probs, mid, rare, genotypes, het, np.inf)
        high = _fill_up(probs, mid, rare, genotypes, -1, probs[het] * _NEGLIGIBLE)
    else:
        high = _fill_up(probs, mid, rare, genotypes, het, np.inf)
        low = _fill_down(probs, mid, rare, genotypes, rare + 2, probs[het] * _NEGLIGIBLE)
    observed = probs[het]
    total = less = tied = 0.0
    for i in range(low, high + 1, 2):
        total += probs[i]
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
