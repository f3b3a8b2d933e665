"""The QC kernels against plain oracles: genotype counts by unpacking, and the Hardy-Weinberg
exact test by enumerating every heterozygote count with log-gamma (no truncation)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import gammaln

from wgs_tre.backends.packed import pack_dosages
from wgs_tre.genomics.kernels.qc import hwe_exact, variant_counts


@pytest.mark.parametrize("samples", [1, 7, 2_000, 70_001])  # 70,001: more than one lane flush
def test_variant_counts_match_counting_the_calls(samples: int) -> None:
    rng = np.random.default_rng(samples)
    genotypes = rng.choice([-1, 0, 1], size=(6, samples, 2), p=[0.05, 0.6, 0.35]).astype(np.int8)
    genotypes[0] = 1  # all homozygous alternate
    genotypes[1] = -1  # all missing
    dosage = np.where((genotypes < 0).any(axis=2), 3, genotypes.sum(axis=2))
    expected = np.stack([(dosage == code).sum(axis=1) for code in range(4)], axis=1)
    np.testing.assert_array_equal(variant_counts(pack_dosages(genotypes), samples), expected)


def _hwe_enumerated(het: int, hom1: int, hom2: int, midp: bool) -> float:
    n = het + hom1 + hom2
    rare = min(2 * hom1 + het, 2 * hom2 + het)
    hets = np.arange(rare % 2, rare + 1, 2)
    homr = (rare - hets) // 2
    homc = n - hets - homr
    log_p = (hets * np.log(2) + gammaln(n + 1) - gammaln(homr + 1) - gammaln(hets + 1)
             - gammaln(homc + 1) + gammaln(rare + 1) + gammaln(2 * n - rare + 1)
             - gammaln(2 * n + 1))  # fmt: skip
    p = np.exp(log_p - log_p.max())
    observed = p[hets == het][0]
    less = p[p < observed * (1 - 1e-8)].sum()
    tied = p[(p >= observed * (1 - 1e-8)) & (p <= observed * (1 + 1e-8))].sum()
    return float(min(1.0, (less + (0.5 * tied if midp else tied)) / p.sum()))


def test_hwe_exact_matches_full_enumeration() -> None:
    rng = np.random.default_rng(7)
    rows = [(0, 0, 0), (5, 0, 0), (0, 5, 0), (0, 0, 5), (1000, 0, 1000), (0, 2000, 0),
            (1, 0, 1), (1, 1, 0), (0, 1, 1)]  # fmt: skip
    for n in (2, 10, 100, 1_000, 10_000):
        for _ in range(60):
            q = rng.uniform(0.001, 0.999)
            f = rng.choice([0.0, 0.3, -0.3, 0.9])
            inbred = f * q * (1 - q)
            probs = np.clip(
                [(1 - q) ** 2 + inbred, 2 * q * (1 - q) - 2 * inbred, q * q + inbred], 0, None
            )
            rows.append(tuple(rng.multinomial(n, probs / probs.sum())))
    counts = np.array([(hom1, het, hom2, 0) for hom1, het, hom2 in rows], dtype=np.int64)
    for midp in (False, True):
        ours = hwe_exact(counts, midp)
        for (hom1, het, hom2), p in zip(rows, ours, strict=True):
            if hom1 + het + hom2 == 0:
                assert np.isnan(p)
                continue
            expected = _hwe_enumerated(het, hom1, hom2, midp)
            assert p == pytest.approx(expected, rel=1e-9, abs=1e-300), (hom1, het, hom2, midp)
    assert (hwe_exact(counts) < 1e-50).any()  # the far tails are exercised
