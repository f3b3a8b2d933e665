"""Variant and sample quality control on a governed view (one pass over the genotypes each)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from wgs_tre.genomics.blocks import blocks_of, compute, map_blocks
from wgs_tre.genomics.kernels.qc import hwe_exact, sample_counts, variant_counts
from wgs_tre.variables import check_outputs

VARIANT_OUTPUTS = (
    "variant_n_called", "variant_n_hom_ref", "variant_n_het", "variant_n_hom_alt",
    "variant_n_missing", "variant_call_rate", "variant_alt_allele_frequency", "variant_maf",
    "variant_hwe_p_value",
)  # fmt: skip
SAMPLE_OUTPUTS = (
    "sample_n_called", "sample_call_rate", "sample_n_het", "sample_n_hom_alt",
    "sample_heterozygosity", "sample_observed_hom", "sample_expected_hom", "sample_inbreeding",
)  # fmt: skip

__all__ = ["sample_stats", "variant_stats"]


def _variant_task(packed: np.ndarray, samples: int, midp: bool) -> tuple[np.ndarray, np.ndarray]:
    counts = variant_counts(packed, samples)
    return counts, hwe_exact(counts, midp)


def variant_stats(ds: xr.Dataset, *, hwe_midp: bool = False, progress: bool = True) -> xr.Dataset:
    """Per-variant counts, call rate, alternate allele frequency and Hardy-Weinberg exact test.

    Multi-allelic sites count every non-reference allele as ALT. A call with a missing allele
    (a half call such as ``1|.``) is a missing call, as with plink2's ``--vcf-half-call
    missing``: it has no genotype class, and a view shows it as missing too, so allele counts
    taken from ``call_genotype`` (AN, AC) are ``2 * variant_n_called`` and ``variant_n_het +
    2 * variant_n_hom_alt`` (see ``wgs_tre.dispense.variants``).

    Parameters
    ----------
    ds
        A governed view, from ``open_project().variants()``.
    hwe_midp
        Give the mid-p variant of the HWE exact test, as plink2's ``midp`` and Hail do.
    progress
        Show a progress bar.

    Returns
    -------
    xarray.Dataset
        ``ds`` with, each of dims (variants,): ``variant_n_called``, ``variant_n_hom_ref``,
        ``variant_n_het``, ``variant_n_hom_alt``, ``variant_n_missing`` (int),
        ``variant_call_rate``, ``variant_alt_allele_frequency`` (non-reference alleles over
        called alleles), ``variant_maf`` and ``variant_hwe_p_value`` (exact, two-sided; NaN
        where nothing was called) (float).
    """
    blocks = blocks_of(ds, "variant_stats")
    parts = compute(map_blocks(blocks, _variant_task, hwe_midp), progress=progress)
    counts = np.concatenate([c for c, _ in parts]) if parts else np.zeros((0, 4), np.int64)
    hwe = np.concatenate([h for _, h in parts]) if parts else np.zeros(0)
    out = ds.assign(_variant_variables(counts, hwe, blocks.samples))
    return check_outputs(out, "variant_stats", *VARIANT_OUTPUTS)


def _variant_variables(
    counts: np.ndarray, hwe: np.ndarray, samples: int
) -> dict[str, tuple[str, np.ndarray]]:
    hom_ref, het, hom_alt, missing = counts.T
    called = hom_ref + het + hom_alt
    with np.errstate(invalid="ignore", divide="ignore"):
        alt = np.where(called > 0, (het + 2 * hom_alt) / (2.0 * called), np.nan)
        call_rate = called / samples if samples else np.full(len(called), np.nan)
    return {
        "variant_n_called": ("variants", called),
        "variant_n_hom_ref": ("variants", hom_ref),
        "variant_n_het": ("variants", het),
        "variant_n_hom_alt": ("variants", hom_alt),
        "variant_n_missing": ("variants", missing),
        "variant_call_rate": ("variants", call_rate),
        "variant_alt_allele_frequency": ("variants", alt),
        "variant_maf": ("variants", np.minimum(alt, 1.0 - alt)),
        "variant_hwe_p_value": ("variants", hwe),
    }


def _sample_task(packed: np.ndarray, samples: int) -> np.ndarray:
    counts = variant_counts(packed, samples)
    hom_ref, het, hom_alt, _ = counts.T.astype(np.float64)
    called = hom_ref + het + hom_alt
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (het + 2 * hom_alt) / (2.0 * called)
        # Probability of a homozygous call under HWE (as plink2's --het, without plink 1.9's
        # small-sample correction); monomorphic variants carry no information on inbreeding.
        expected = 1.0 - 2.0 * p * (1.0 - p)
    expected[(called < 2) | (p == 0.0) | (p == 1.0)] = np.nan
    return sample_counts(packed, samples, expected)


def sample_stats(ds: xr.Dataset, *, progress: bool = True) -> xr.Dataset:
    """Per-sample call rate, heterozygosity and inbreeding coefficient.

    Parameters
    ----------
    ds
        A governed view, from ``open_project().variants()``.
    progress
        Show a progress bar.

    Returns
    -------
    xarray.Dataset
        ``ds`` with, each of dims (samples,): ``sample_n_called``, ``sample_n_het``,
        ``sample_n_hom_alt``, ``sample_observed_hom`` (int), ``sample_call_rate``,
        ``sample_heterozygosity`` (heterozygous over called), ``sample_expected_hom`` and
        ``sample_inbreeding`` (method-of-moments F over polymorphic variants,
        (O - E) / (N - E), as plink's ``--het``) (float).
    """
    blocks = blocks_of(ds, "sample_stats")
    parts = compute(map_blocks(blocks, _sample_task), progress=progress)
    sums = np.sum(parts, axis=0) if parts else np.zeros((blocks.samples, 6))
    called, het, hom_alt, informative, expected, observed = sums.T
    with np.errstate(invalid="ignore", divide="ignore"):
        out = ds.assign(
            sample_n_called=("samples", called.astype(np.int64)),
            sample_call_rate=("samples", called / blocks.variants),
            sample_n_het=("samples", het.astype(np.int64)),
            sample_n_hom_alt=("samples", hom_alt.astype(np.int64)),
            sample_heterozygosity=("samples", het / called),
            sample_observed_hom=("samples", observed.astype(np.int64)),
            sample_expected_hom=("samples", expected),
            sample_inbreeding=("samples", (observed - expected) / (informative - expected)),
        )
    return check_outputs(out, "sample_stats", *SAMPLE_OUTPUTS)
