"""The self-check a researcher runs before submitting an output to the airlock.

A file is checked by what it is: a table saved by :meth:`CheckedTable.save` (its record of
checks beside it) is checked again from that record; a file of GWAS summary statistics
(plink2's ``*.glm.*``, or a variant, an allele and a statistic among its columns) by
:func:`check_gwas_summary`, reading only the columns that check needs; any other table (CSV,
TSV, whitespace-separated text, any of them gzipped, or Parquet) by :func:`check_row_level`,
with an ``evidence`` finding besides: without a record, how many people stand behind each of
its numbers cannot be told from the file, so a steward must judge it by hand. A file that is
none of these (an image, a PDF) gets one ``evidence`` finding saying the checks cannot read it.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from wgs_tre.airlock.differencing import difference
from wgs_tre.airlock.files import (
    SUMMARY_COLUMNS,
    check_gwas_summary,
    check_row_level,
    gwas_columns_needed,
    looks_like_gwas_summary,
)
from wgs_tre.airlock.pseudonyms import check_pseudonyms
from wgs_tre.airlock.regression import check_regression
from wgs_tre.airlock.rules import DisclosurePolicy, Finding, RuleId
from wgs_tre.airlock.survival import check_survival, survival_columns
from wgs_tre.airlock.tables import CheckedTable, load_table, sidecar_path
from wgs_tre.errors import InvalidInput

__all__ = ["SelfCheck", "self_check"]

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_WHITESPACE = r"\s+"
# What reading a file that is not a table (or a damaged one) raises: a truncated or corrupt
# gzip stream (EOFError, zlib.error), bytes that are not text, rows that do not parse.
_UNREADABLE = (OSError, EOFError, zlib.error, ValueError, csv.Error, pd.errors.ParserError)


@dataclass(frozen=True)
class SelfCheck:
    """What the checks found in one output (nothing found: it may be submitted)."""

    subject: str
    findings: tuple[Finding, ...]

    @property
    def passed(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.passed:
            return f"{self.subject}: passes every disclosure check"
        lines = [f"{self.subject}: {len(self.findings)} finding(s)"]
        return "\n".join(lines + [f"  {f.line()}" for f in self.findings])


def self_check(
    output: CheckedTable | Path | str | Any,
    policy: DisclosurePolicy | None = None,
    *,
    released: Iterable[tuple[str, CheckedTable]] = (),
) -> SelfCheck:
    """Check an output as the airlock will: a :class:`CheckedTable`; the path of a file (a table
    saved with its record, checked again from the record; GWAS summary statistics; any other
    table); or fitted model results (``df_resid``). A table is also compared with the
    ``released`` tables (named, as :func:`released_tables` gives them) for differencing.
    Prints nothing. A saved table changed since it was checked, or a table without its record,
    fails (rule ``evidence``)."""
    earlier = tuple(released)
    if isinstance(output, CheckedTable):
        if policy is not None:
            output = replace(output, policy=policy)
        findings = output.findings + difference(output, earlier)
        return SelfCheck(f"table of {output.index} by {output.columns}", findings)
    if isinstance(output, str | Path):
        path = Path(output)
        return SelfCheck(path.name, _check_file(path, policy or DisclosurePolicy(), earlier))
    return SelfCheck(type(output).__name__, check_regression(output, policy=policy))


def _check_file(
    path: Path, policy: DisclosurePolicy, released: tuple[tuple[str, CheckedTable], ...]
) -> tuple[Finding, ...]:
    if not path.is_file():
        return (Finding(RuleId.EVIDENCE, "no such file", ()),)
    return (*check_pseudonyms(path), *_check_kind(path, policy, released))


def _check_kind(
    path: Path, policy: DisclosurePolicy, released: tuple[tuple[str, CheckedTable], ...]
) -> tuple[Finding, ...]:
    if sidecar_path(path).exists():
        try:
            table = load_table(path, policy)
        except InvalidInput as exc:
            return (Finding(RuleId.EVIDENCE, exc.problem, ()),)
        return table.findings + difference(table, released)
    try:
        reader = _Reader.open(path)
        if looks_like_gwas_summary(reader.columns, path.name):
            return _check_gwas(reader, policy)
        frame = reader.read()
        if survival_columns(frame) is not None:  # a Kaplan-Meier table: its own rules
            return tuple(check_survival(frame, policy))
    except _UNREADABLE as exc:
        message = f"not a table the checks can read ({exc}); a steward will look at it"
        return (Finding(RuleId.EVIDENCE, message, ()),)
    no_record = Finding(
        RuleId.EVIDENCE,
        f"no record of checks ({sidecar_path(path).name}): how many people stand behind each "
        "number cannot be told from the file, so a steward must judge it by hand; make the "
        "table with wgs_tre.airlock.crosstab and save it with .save()",
        (),
    )
    return (*check_row_level(frame, policy), no_record)


def _check_gwas(reader: _Reader, policy: DisclosurePolicy) -> tuple[Finding, ...]:
    """The summary-statistic checks, and the id-like check on the columns that are not summary
    statistics (a GWAS file has a row per variant: the row limit does not apply)."""
    frame = reader.read(gwas_columns_needed(reader.columns))
    findings = list(check_gwas_summary(frame, policy))
    others = [c for c in frame.columns if str(c).upper() not in SUMMARY_COLUMNS]
    if others:
        findings += [
            f for f in check_row_level(frame[others], policy) if f.rule is RuleId.ID_COLUMN
        ]
    return tuple(findings)


@dataclass(frozen=True)
class _Reader:
    """A table file's columns, told from its header, and how to read some or all of them."""

    path: Path
    columns: tuple[str, ...]
    parquet: bool = False
    separator: str = ","

    @classmethod
    def open(cls, path: Path) -> _Reader:
        with path.open("rb") as stream:
            magic = stream.read(4)
        if magic == _PARQUET_MAGIC:
            return cls(path, tuple(pq.read_schema(path).names), parquet=True)
        opener: Any = gzip.open if magic[:2] == _GZIP_MAGIC else open
        with opener(path, "rt", encoding="utf-8", newline="") as text:
            first = text.readline(1 << 20)
        if "\x00" in first or not first.strip():
            raise ValueError("no header line of column names")
        line = first.rstrip("\r\n")
        if "\t" in line:
            separator = "\t"
            names = line.split("\t")
        elif "," in line:
            separator = ","
            names = next(csv.reader([line]))
        else:
            separator = _WHITESPACE
            names = line.split()
        return cls(path, tuple(names), separator=separator)

    def read(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The table, or only ``columns`` of it (C parsers, never the Python engine)."""
        if self.parquet:
            return pd.read_parquet(self.path, columns=columns)
        return pd.read_csv(
            self.path,
            sep=self.separator,
            usecols=columns,
            compression="gzip" if self._gzipped() else None,
            low_memory=False,
        )

    def _gzipped(self) -> bool:
        with self.path.open("rb") as stream:
            return stream.read(2) == _GZIP_MAGIC
