"""Checks of outputs that are not tables of cells: GWAS summary statistics, and files that look
row-level.

A GWAS summary statistic is released per variant only if enough people carry the minor allele
(``gwas_min_minor_allele_count``), and the file must hold no column of one sample's genotypes.
Any file with more rows than ``row_limit``, or with a column that names its rows one by one (an
identifier, a pseudonym), looks like row-level data, which the airlock does not release. ACRO
has none of these rules; their thresholds are this project's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from wgs_tre.airlock.rules import DisclosurePolicy, Finding, Fix, RuleId

__all__ = [
    "SUMMARY_COLUMNS",
    "check_gwas_summary",
    "check_row_level",
    "gwas_columns_needed",
    "looks_like_gwas_summary",
    "minor_allele_counts",
]

# Columns of plink2's .glm files and of common summary-statistic formats: never per-sample.
_SUMMARY_NAMES = (
    "#CHROM CHROM CHR POS BP ID SNP RSID VARIANT_ID REF ALT A1 A2 AX PROVISIONAL_REF? OMITTED "
    "A1_CT A1_CASE_CT A1_CTRL_CT OBS_CT ALLELE_CT A1_FREQ A1_CASE_FREQ A1_CTRL_FREQ AF EAF MAF "
    "FREQ N MAC FIRTH? TEST BETA OR SE LOG(OR)_SE T_STAT Z_STAT P LOG10_P ERRCODE"
)
SUMMARY_COLUMNS = frozenset(_SUMMARY_NAMES.split())
_ID_COLUMNS = ("ID", "SNP", "RSID", "VARIANT_ID")
_VARIANT_KEYS = frozenset(_ID_COLUMNS)
_CHROMOSOMES = frozenset({"#CHROM", "CHROM", "CHR"})
_POSITIONS = frozenset({"POS", "BP"})
_ALLELES = frozenset({"REF", "ALT", "A1", "A2", "AX"})
_STATISTICS = frozenset({"BETA", "OR", "SE", "LOG(OR)_SE", "T_STAT", "Z_STAT", "P", "LOG10_P"})
_COUNTS = ("MAC", "OBS_CT", "N", "A1_CT", "A1_FREQ", "AF", "EAF", "MAF")
_NEEDED = frozenset(_COUNTS + _ID_COLUMNS)
_GENOTYPE = re.compile(r"^[0-9.][/|][0-9.]$")
_ID_NAME = re.compile(
    r"(^|_)(id|iid|fid|eid|pid|sample|participant|pseudonym|patient|person|nhs_number)(_|$)",
    re.IGNORECASE,
)


def minor_allele_counts(frame: pd.DataFrame) -> pd.Series | None:
    """Each variant's minor-allele count, from ``MAC``; from ``A1_CT`` and ``OBS_CT`` (plink2:
    A1 alleles counted among ``2 x OBS_CT``); or from a frequency (``A1_FREQ``, ``AF``, ``EAF``,
    ``MAF``) times ``2 x N`` (``OBS_CT`` or ``N``), rounded to a whole count. None if the file
    has none of these."""
    cols = {c.upper(): c for c in frame.columns}
    if "MAC" in cols:
        return frame[cols["MAC"]].astype(float)
    n_col = cols.get("OBS_CT") or cols.get("N")
    if n_col is None:
        return None
    alleles = 2 * frame[n_col].astype(float)
    if "A1_CT" in cols:
        a1 = frame[cols["A1_CT"]].astype(float)
        return np.minimum(a1, alleles - a1)
    for name in ("A1_FREQ", "AF", "EAF", "MAF"):
        if name in cols:
            freq = frame[cols[name]].astype(float)
            return np.rint(np.minimum(freq, 1 - freq) * alleles)
    return None


def _variant_names(frame: pd.DataFrame, at: np.ndarray) -> list[str]:
    """The names of the variants in rows ``at`` (their ID, or their row number)."""
    cols = {c.upper(): c for c in frame.columns}
    for name in _ID_COLUMNS:
        if name in cols:
            return [str(v) for v in frame[cols[name]].to_numpy()[at]]
    return [f"row {i + 1}" for i in at]


def looks_like_gwas_summary(columns: Iterable[str], name: str = "") -> bool:
    """Whether a file with these column names (or this file name: plink2's ``*.glm.*``) holds
    GWAS summary statistics: a variant (an ID, or a chromosome and position), an allele and an
    association statistic."""
    upper = {str(c).upper() for c in columns}
    if ".glm." in name.lower():
        return True
    variant = bool(upper & _VARIANT_KEYS) or bool(upper & _CHROMOSOMES and upper & _POSITIONS)
    return variant and bool(upper & _ALLELES) and bool(upper & _STATISTICS)


def gwas_columns_needed(columns: Iterable[str]) -> list[str]:
    """The columns :func:`check_gwas_summary` reads from a file with these columns: those
    allele counts come from, the variant's ID, and every column that is not a summary
    statistic (which may be a sample's)."""
    return [
        c for c in columns if str(c).upper() in _NEEDED or str(c).upper() not in SUMMARY_COLUMNS
    ]


def _per_sample(column: pd.Series, sample_ids: frozenset[str]) -> bool:
    if str(column.name) in sample_ids:
        return True
    if str(column.name).upper() in SUMMARY_COLUMNS:
        return False
    values = column.dropna()
    if values.empty:
        return False
    if pd.api.types.is_numeric_dtype(values):
        return bool(values.isin([0, 1, 2]).all())  # genotype calls as 0/1/2
    return bool(values.astype(str).str.match(_GENOTYPE).all())  # as 0/1, 1|0


def check_gwas_summary(
    frame: pd.DataFrame,
    policy: DisclosurePolicy | None = None,
    *,
    sample_ids: Iterable[str] = (),
) -> tuple[Finding, ...]:
    """Findings for a GWAS summary-statistic file: variants whose minor-allele count is below
    ``gwas_min_minor_allele_count`` (fewer fail, as the cell threshold), a file whose allele
    counts cannot be told, and columns of one sample's genotypes (named in ``sample_ids``, or
    holding only genotype calls)."""
    policy = policy or DisclosurePolicy()
    findings = []
    mac = minor_allele_counts(frame)
    if mac is None:
        findings.append(
            Finding(
                RuleId.MINOR_ALLELE_COUNT,
                "no allele counts to check: add MAC, A1_CT and OBS_CT, or a frequency and N",
                (),
            )
        )
    else:
        low = (mac < policy.gwas_min_minor_allele_count) | mac.isna()
        if low.any():
            names = _variant_names(frame, np.flatnonzero(low.to_numpy()))
            findings.append(
                Finding(
                    RuleId.MINOR_ALLELE_COUNT,
                    f"fewer than {policy.gwas_min_minor_allele_count} minor alleles (or unknown)",
                    (Fix.SUPPRESS,),
                    tuple((name, "MAC") for name in names),
                )
            )
    samples = frozenset(sample_ids)
    per_sample = [str(c) for c in frame.columns if _per_sample(frame[c], samples)]
    if per_sample:
        findings.append(
            Finding(
                RuleId.PER_SAMPLE,
                "a column holds one sample's genotypes: remove it",
                (Fix.SUPPRESS,),
                tuple(("all rows", c) for c in per_sample),
            )
        )
    return tuple(findings)


def _id_like(column: pd.Series, min_rows: int) -> bool:
    if _ID_NAME.search(str(column.name)):
        return True
    values = column.dropna()
    if len(values) < min_rows or not values.is_unique:
        return False
    if pd.api.types.is_integer_dtype(values):
        # Row numbers (a run of consecutive numbers) or long numeric identifiers; distinct
        # counts in a table are neither.
        consecutive = int(values.max()) - int(values.min()) == len(values) - 1
        return consecutive or bool((values.abs() >= 100_000).all())
    if pd.api.types.is_numeric_dtype(values):
        return False  # estimates are distinct too
    return bool(values.astype(str).str.contains(r"\d").all())  # codes such as P000123


def check_row_level(
    frame: pd.DataFrame, policy: DisclosurePolicy | None = None, *, keys: Iterable[str] = ()
) -> tuple[Finding, ...]:
    """Findings for a file that looks row-level: more rows than ``row_limit``, or a column that
    is id-like (named like an identifier or pseudonym, or, over at least ``min_cell_count``
    rows, distinct on every row: row numbers, long numbers, or codes with digits). ``keys`` are
    columns allowed to be distinct per row (a variant's ID, a gene)."""
    policy = policy or DisclosurePolicy()
    findings = []
    if len(frame) > policy.row_limit:
        findings.append(
            Finding(
                RuleId.ROW_LEVEL,
                f"{len(frame)} rows, more than the {policy.row_limit} an aggregate output has",
                (Fix.AGGREGATE,),
            )
        )
    allowed = set(keys)
    id_like = [
        str(c)
        for c in frame.columns
        if str(c) not in allowed and _id_like(frame[c], policy.min_cell_count)
    ]
    if id_like:
        findings.append(
            Finding(
                RuleId.ID_COLUMN,
                "a column identifies rows one by one (people, samples or pseudonyms)",
                (Fix.AGGREGATE, Fix.SUPPRESS),
                tuple(("all rows", c) for c in id_like),
            )
        )
    return tuple(findings)
