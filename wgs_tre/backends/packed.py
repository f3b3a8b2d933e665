"""Packed dosages: two bits per call, the compact form every analysis kernel reads.

``call_dosage_packed`` (variants, samples_packed) uint8 holds, for each call, the number of
non-reference alleles (0, 1 or 2) or 3 when the call is missing (either allele missing). Call
``j`` of a row sits in byte ``j // 4`` at bits ``2 * (j % 4)``; a row's unused tail is padded
with 3. A 2,000 x 100,000 matrix is 50 MB before compression instead of 400 MB for
``call_genotype``, which is what lets QC run at plink2 speed (plink2's .pgen packs the same way).
``call_genotype`` stays the record; this is derived from it and can always be rebuilt.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "MISSING",
    "call_code",
    "pack_dosages",
    "packed_width",
    "select_samples",
    "slot_code",
    "unpack_dosages",
]

MISSING = 3


# The layout, stated once: every kernel reads calls through these two (numba inlines them).
@numba.njit(nogil=True, cache=True, inline="always")
def slot_code(byte: np.uint8, slot: int) -> int:
    """The call in ``slot`` (0-3) of a packed byte: 0, 1, 2 or MISSING."""
    return int((byte >> (slot << 1)) & 3)


@numba.njit(nogil=True, cache=True, inline="always")
def call_code(packed: np.ndarray, v: int, j: int) -> int:
    """Call ``j`` of packed row ``v``: 0, 1, 2 or MISSING."""
    return slot_code(packed[v, j >> 2], j & 3)


def packed_width(samples: int) -> int:
    return (samples + 3) // 4


@numba.njit(nogil=True, cache=True)
def _pack(genotypes: np.ndarray, out: np.ndarray) -> None:
    variants, samples = genotypes.shape[0], genotypes.shape[1]
    ploidy = genotypes.shape[2]
    for v in range(variants):
        for j in range(samples):
            code = 0
            for k in range(ploidy):
                allele = genotypes[v, j, k]
                if allele < 0:
                    code = -1
                    break
                if allele > 0:
                    code += 1
            code = MISSING if code < 0 else min(code, 2)  # polyploid counts capped at 2
            out[v, j >> 2] |= code << ((j & 3) << 1)
        for j in range(samples, out.shape[1] * 4):
            out[v, j >> 2] |= MISSING << ((j & 3) << 1)


def pack_dosages(genotypes: np.ndarray) -> np.ndarray:
    """(variants, samples, ploidy) allele indices (-1 missing) -> packed dosages."""
    out = np.zeros((genotypes.shape[0], packed_width(genotypes.shape[1])), dtype=np.uint8)
    _pack(np.ascontiguousarray(genotypes), out)
    return out


@numba.njit(nogil=True, cache=True)
def _select(packed: np.ndarray, columns: np.ndarray, out: np.ndarray) -> None:
    n = columns.shape[0]
    codes = np.empty(packed.shape[1] * 4, dtype=np.uint8)
    for v in range(packed.shape[0]):
        for b in range(packed.shape[1]):  # unpack the row once, then gather from it
            byte = packed[v, b]
            for slot in range(4):
                codes[4 * b + slot] = slot_code(byte, slot)
        full = n // 4
        for b in range(full):
            j = 4 * b
            out[v, b] = (
                codes[columns[j]]
                | (codes[columns[j + 1]] << 2)
                | (codes[columns[j + 2]] << 4)
                | (codes[columns[j + 3]] << 6)
            )
        if full < out.shape[1]:
            byte = 0
            for slot in range(4):
                j = 4 * full + slot
                code = codes[columns[j]] if j < n else MISSING
                byte |= code << (slot << 1)
            out[v, full] = byte


def select_samples(packed: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The packed rows restricted to, and reordered as, the sample ``columns``."""
    out = np.empty((packed.shape[0], packed_width(len(columns))), dtype=np.uint8)
    _select(packed, np.asarray(columns, dtype=np.int32), out)
    return out


@numba.njit(nogil=True, cache=True)
def _unpack(packed: np.ndarray, samples: int, out: np.ndarray) -> None:
    for v in range(packed.shape[0]):
        for j in range(samples):
            out[v, j] = call_code(packed, v, j)


def unpack_dosages(packed: np.ndarray, samples: int) -> np.ndarray:
    """Packed rows -> (variants, samples) uint8 codes: 0, 1, 2 or MISSING (3)."""
    out = np.empty((packed.shape[0], samples), dtype=np.uint8)
    _unpack(packed, samples, out)
    return out
