"""Parsing VCF record text into arrays: the numeric kernel (numba), separate from orchestration.

:func:`parse_records` walks a buffer of complete VCF lines once: it finds the nine fixed columns
(their byte ranges are returned for the caller to decode the few strings it needs), parses POS,
and decodes every sample's GT (the first FORMAT field, as the VCF spec requires) into allele
indices. It releases the GIL. It stops at the first malformed record and reports where.
:func:`parse_records_reference` is the same contract in plain Python, for tests.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["ERRORS", "FIXED_COLUMNS", "parse_records", "parse_records_reference", "run_starts"]

FIXED_COLUMNS = 9  # CHROM POS ID REF ALT QUAL FILTER INFO FORMAT
TAB, NEWLINE, COLON, DOT, SLASH, PIPE = 9, 10, 58, 46, 47, 124
MISSING, FILL = -1, -2  # FILL pads the second allele of haploid calls

# err[1] codes -> message (err[0] is the line, err[2] the sample column).
ERRORS = {
    1: "fewer than 9 columns",
    2: "POS is not a positive integer",
    3: "FORMAT does not start with GT",
    4: "fewer sample columns than the header names",
    5: "more sample columns than the header names",
    6: "malformed GT value",
    7: "allele index above 127",
    8: "more than 2 alleles in a call (polyploid calls are not supported)",
}


@numba.njit(nogil=True, cache=True)
def parse_records(
    buf: np.ndarray,
    line_starts: np.ndarray,
    n_samples: int,
    genotypes: np.ndarray,
    phased: np.ndarray,
    positions: np.ndarray,
    fields: np.ndarray,
    err: np.ndarray,
) -> int:
    """Fill ``genotypes`` (lines, samples, 2) int8, ``phased`` (lines, samples) bool,
    ``positions`` (lines,) int32 and ``fields`` (lines, 9, 2) byte ranges; return the number of
    lines parsed (all of them unless ``err`` was set)."""
    n_lines = line_starts.shape[0] - 1
    for i in range(n_lines):
        p = line_starts[i]
        end = line_starts[i + 1] - 1  # the newline
        for f in range(FIXED_COLUMNS):
            fields[i, f, 0] = p
            while p < end and buf[p] != TAB:
                p += 1
            fields[i, f, 1] = p
            if p >= end and f < FIXED_COLUMNS - 1:
                err[0], err[1] = i, 1
                return i
            p += 1
        value = 0
        start, stop = fields[i, 1, 0], fields[i, 1, 1]
        if stop == start:
            err[0], err[1] = i, 2
            return i
        for q in range(start, stop):
            c = buf[q]
            if c < 48 or c > 57:
                err[0], err[1] = i, 2
                return i
            value = value * 10 + (c - 48)
        if value <= 0 or value > 2_147_483_647:
            err[0], err[1] = i, 2
            return i
        positions[i] = value
        fs, fe = fields[i, 8, 0], fields[i, 8, 1]
        if (
            fe - fs < 2
            or buf[fs] != 71
            or buf[fs + 1] != 84
            or (fe - fs > 2 and buf[fs + 2] != COLON)
        ):
            err[0], err[1] = i, 3
            return i
        for s in range(n_samples):
            if p > end:
                err[0], err[1], err[2] = i, 4, s
                return i
            # Fast path: the common one-digit diploid call "a|b" or "a/b" ending the field.
            if p + 3 <= end:
                a0, sep, a1, after = buf[p], buf[p + 1], buf[p + 2], buf[p + 3]
                if (
                    48 <= a0 <= 57
                    and 48 <= a1 <= 57
                    and (sep == PIPE or sep == SLASH)  # noqa: SIM109 - numba-friendly
                    and (after == TAB or after == NEWLINE)  # noqa: SIM109
                ):
                    genotypes[i, s, 0] = a0 - 48
                    genotypes[i, s, 1] = a1 - 48
                    phased[i, s] = sep == PIPE
                    p += 4
                    continue
            allele = 0
            is_phased = False
            while True:
                c = buf[p]
                if c == DOT:
                    index = MISSING
                    p += 1
                elif 48 <= c <= 57:
                    index = 0
                    while 48 <= buf[p] <= 57:
                        index = index * 10 + (buf[p] - 48)
                        p += 1
                        if index > 127:
                            err[0], err[1], err[2] = i, 7, s
                            return i
                else:
                    err[0], err[1], err[2] = i, 6, s
                    return i
                if allele >= 2:
                    err[0], err[1], err[2] = i, 8, s
                    return i
                genotypes[i, s, allele] = index
                allele += 1
                c = buf[p]
                if c == PIPE:
                    is_phased = True
                    p += 1
                elif c == SLASH:
                    p += 1
                else:
                    break
            if c != TAB and c != NEWLINE and c != COLON:
                err[0], err[1], err[2] = i, 6, s
                return i
            if allele == 1:
                genotypes[i, s, 1] = FILL
            phased[i, s] = is_phased
            while p < end and buf[p] != TAB:
                p += 1
            p += 1
        if p != end + 1:
            err[0], err[1] = i, 5
            return i
    return int(n_lines)


@numba.njit(nogil=True, cache=True)
def run_starts(buf: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Indices where the bytes of ``spans`` differ from the previous span (0 always included)."""
    starts = np.empty(len(spans), dtype=np.int64)
    count = 0
    for i in range(len(spans)):
        same = i > 0 and spans[i, 1] - spans[i, 0] == spans[i - 1, 1] - spans[i - 1, 0]
        if same:
            a, b = spans[i, 0], spans[i - 1, 0]
            for k in range(spans[i, 1] - spans[i, 0]):
                if buf[a + k] != buf[b + k]:
                    same = False
                    break
        if not same:
            starts[count] = i
            count += 1
    return starts[:count]


def parse_records_reference(
    lines: list[bytes], n_samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain-Python GT and POS parsing of well-formed lines: the oracle for the kernel."""
    genotypes = np.full((len(lines), n_samples, 2), FILL, dtype=np.int8)
    phased = np.zeros((len(lines), n_samples), dtype=bool)
    positions = np.zeros(len(lines), dtype=np.int32)
    for i, line in enumerate(lines):
        columns = line.rstrip(b"\n").split(b"\t")
        positions[i] = int(columns[1])
        for s, sample in enumerate(columns[FIXED_COLUMNS:]):
            gt = sample.split(b":")[0].decode()
            phased[i, s] = "|" in gt
            alleles = gt.replace("|", "/").split("/")
            for a, allele in enumerate(alleles):
                genotypes[i, s, a] = MISSING if allele == "." else int(allele)
    return genotypes, phased, positions
