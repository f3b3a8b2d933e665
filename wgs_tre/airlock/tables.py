"""Tables built from raw data that keep the evidence their disclosure checks need.

:func:`crosstab` tabulates a DataFrame as ``pandas.crosstab`` does and returns a
:class:`CheckedTable`: the table, each cell's evidence and the findings. The table can have a fix
applied (:meth:`CheckedTable.suppress`, :meth:`CheckedTable.round`) and be saved as CSV beside a
JSON record of its evidence (``<name>.csv.checks.json``), from which :func:`load_table` checks it
again without the raw data. The record holds each cell's count, total and largest values: it
stays inside the TRE with the request, for the airlock, and is not released.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wgs_tre.airlock.checks import CellEvidence, TableKind, check_cells
from wgs_tre.airlock.rules import Cell, DisclosurePolicy, Finding, Fix, RuleId
from wgs_tre.errors import InvalidInput

__all__ = ["SIDECAR_SUFFIX", "CheckedTable", "crosstab", "load_table", "sidecar_path"]

SIDECAR_SUFFIX = ".checks.json"
_FORMAT = "wgs-tre-airlock-table/1"
_AGGFUNCS = {"count": TableKind.FREQUENCY, "sum": TableKind.SUM, "mean": TableKind.MEAN}


def sidecar_path(path: Path) -> Path:
    """Where the record of checks of the table saved at ``path`` is kept."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


@dataclass(frozen=True)
class CheckedTable:
    """A table with the evidence of its cells, its findings and any fix applied to it.

    ``suppressed`` are the cells blanked; ``rounded_to`` the base the other counts were rounded
    to (the rounding profile), or None.
    """

    kind: TableKind
    index: str
    columns: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    cells: tuple[CellEvidence, ...]
    policy: DisclosurePolicy = field(default_factory=DisclosurePolicy)
    suppressed: frozenset[Cell] = frozenset()
    rounded_to: int | None = None

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        """What the rules find in the table as made, before any fix."""
        return check_cells(self.kind, self.cells, self.policy)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """What is still disclosive once the applied fix is taken into account."""
        # Rounding protects small counts only if it is at least as coarse as the policy's
        # profile and the count is above the profile's suppression limit.
        profile = self.policy.rounding
        rounded: set[Cell] = set()
        if self.rounded_to is not None and self.rounded_to >= profile.base:
            rounded = {c.cell for c in self.cells if c.count > profile.suppress_at_most}
        open_findings = []
        for finding in self.all_findings:
            protected = rounded if finding.rule in (RuleId.THRESHOLD, RuleId.ZEROS) else set()
            left = tuple(
                c for c in finding.cells if c not in self.suppressed and c not in protected
            )
            if left:
                open_findings.append(replace(finding, cells=left))
        return tuple(open_findings)

    @property
    def passed(self) -> bool:
        return not self.findings

    @property
    def table(self) -> pd.DataFrame:
        """The table as it would be released: suppressed cells blank (NaN), counts rounded."""
        row_at = {label: i for i, label in enumerate(self.rows)}
        col_at = {label: j for j, label in enumerate(self.cols)}
        n = len(self.cells)
        at_row = np.fromiter((row_at[c.row] for c in self.cells), dtype=np.intp, count=n)
        at_col = np.fromiter((col_at[c.column] for c in self.cells), dtype=np.intp, count=n)
        count = np.fromiter((c.count for c in self.cells), dtype=float, count=n)
        if self.kind is TableKind.FREQUENCY:
            value = count
            if self.rounded_to is not None:
                value = np.round(count / self.rounded_to) * self.rounded_to
        else:
            total = np.fromiter((c.total for c in self.cells), dtype=float, count=n)
            # pandas leaves an empty cell of sums or means blank
            with np.errstate(divide="ignore", invalid="ignore"):
                value = total if self.kind is TableKind.SUM else total / count
            value = np.where(count == 0, np.nan, value)
        if self.suppressed:
            hidden = np.fromiter((c.cell in self.suppressed for c in self.cells), bool, count=n)
            value = np.where(hidden, np.nan, value)
        values = np.full((len(self.rows), len(self.cols)), np.nan)
        values[at_row, at_col] = value
        frame = pd.DataFrame(
            values,
            index=pd.Index(self.rows, name=self.index),
            columns=pd.Index(self.cols, name=self.columns),
        )
        if self.kind is TableKind.FREQUENCY and not frame.isna().to_numpy().any():
            frame = frame.astype(int)
        return frame

    def suppress(self, also: Iterable[Cell] = ()) -> CheckedTable:
        """The table with every cell that fails a rule blanked, and the cells ``also`` (those a
        finding outside the table's own rules names, such as differencing)."""
        failing = {c for finding in self.all_findings for c in finding.cells}
        extra = set(also)
        known = {c.cell for c in self.cells}
        if not extra <= known:
            unknown = ", ".join(f"({r}, {c})" for r, c in sorted(extra - known))
            raise InvalidInput("suppress", f"not cells of this table: {unknown}")
        return replace(self, suppressed=self.suppressed | failing | extra)

    def round(self) -> CheckedTable:
        """A frequency table rounded by the policy's profile: small counts blanked, the rest
        rounded to the nearest multiple of the profile's base."""
        if self.kind is not TableKind.FREQUENCY:
            raise InvalidInput(
                "round", f"only counts are rounded; this is a table of {self.kind.value}s"
            )
        profile = self.policy.rounding
        small = {c.cell for c in self.cells if c.count <= profile.suppress_at_most}
        return replace(self, suppressed=self.suppressed | small, rounded_to=profile.base)

    def apply(self, fix: Fix) -> CheckedTable:
        """The table with ``fix`` applied (suppress or round; aggregate is the researcher's)."""
        if fix is Fix.SUPPRESS:
            return self.suppress()
        if fix is Fix.ROUND:
            return self.round()
        raise InvalidInput(
            "fix", f"{fix.value!r} cannot be applied automatically; valid: suppress, round"
        )

    def summary(self) -> str:
        findings = self.findings
        head = f"{self.kind.value} table of {self.index} by {self.columns}: "
        if not findings:
            return head + "passes every disclosure check"
        return head + f"{len(findings)} finding(s)\n" + "\n".join(f.line() for f in findings)

    def save(self, path: Path) -> Path:
        """Write the table as CSV to ``path`` and its record of checks beside it; returns the
        record's path."""
        path = Path(path)
        self.table.to_csv(path)
        record = {
            "format": _FORMAT,
            "csv_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "kind": self.kind.value,
            "index": self.index,
            "columns": self.columns,
            "rows": list(self.rows),
            "cols": list(self.cols),
            "suppressed": sorted([list(c) for c in self.suppressed]),
            "rounded_to": self.rounded_to,
            "checked_with": self.policy.model_dump(),
            "findings": [f.line() for f in self.findings],
            "cells": [
                {
                    "row": c.row,
                    "column": c.column,
                    "count": c.count,
                    "total": c.total,
                    "largest": list(c.largest),
                    "negative": c.negative,
                }
                for c in self.cells
            ],
        }
        side = sidecar_path(path)
        side.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        return side


def load_table(
    path: Path, policy: DisclosurePolicy | None = None, *, record: Path | None = None
) -> CheckedTable:
    """The table saved at ``path``, rebuilt from its record of checks (beside it, or at
    ``record``) and checked against ``policy`` (ACRO's defaults if None). Raises
    :class:`InvalidInput` if the record is missing or unreadable, or if the CSV has changed
    since it was saved."""
    path = Path(path)
    side = Path(record) if record is not None else sidecar_path(path)
    if not path.is_file():
        raise InvalidInput(str(path), "no such file")
    if not side.exists():
        raise InvalidInput(
            str(path),
            f"no record of checks ({side.name}); make the table with "
            "wgs_tre.airlock.crosstab and save it with .save()",
        )
    try:
        saved = json.loads(side.read_text(encoding="utf-8"))
        if saved.get("format") != _FORMAT:
            raise ValueError(f"format is not {_FORMAT}")
        if hashlib.sha256(path.read_bytes()).hexdigest() != saved["csv_sha256"]:
            raise InvalidInput(
                str(path),
                "the file has changed since it was checked; make it again and save it with .save()",
            )
        table = CheckedTable(
            kind=TableKind(saved["kind"]),
            index=str(saved["index"]),
            columns=str(saved["columns"]),
            rows=tuple(saved["rows"]),
            cols=tuple(saved["cols"]),
            cells=tuple(
                CellEvidence(
                    row=str(c["row"]),
                    column=str(c["column"]),
                    count=int(c["count"]),
                    total=float(c["total"]),
                    largest=tuple(float(v) for v in c["largest"]),
                    negative=bool(c["negative"]),
                )
                for c in saved["cells"]
            ),
            policy=policy or DisclosurePolicy(),
            suppressed=frozenset((str(r), str(c)) for r, c in saved["suppressed"]),
            rounded_to=saved["rounded_to"],
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(str(side), f"unreadable record of checks: {exc}") from None
    _check_describes(table, path, side)
    return table


def _check_describes(table: CheckedTable, path: Path, side: Path) -> None:
    """The record is written in the session, by code the TRE does not trust, so it is a claim:
    what the file shows must be what the record renders (a count table's cells are its
    counts; sums and means their totals). A record made up to pass the checks for another
    table is refused. (The contributors behind a sum or mean, and the largest values, stay the
    record's word until tables are made outside the session.)"""
    try:
        # Every field as text, the header too: labels compare as the record writes them.
        shown = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InvalidInput(str(path), f"not a table: {exc}") from None
    try:
        expected = table.table
    except KeyError as exc:
        raise InvalidInput(
            str(side), f"unreadable record of checks: a cell names {exc}, not listed"
        ) from None
    header, labels = list(shown.iloc[0, 1:]), list(shown.iloc[1:, 0])
    if labels != list(expected.index) or header != list(expected.columns):
        raise InvalidInput(
            str(path), "its rows or columns are not those its record of checks names"
        )
    text = np.char.strip(shown.iloc[1:, 1:].to_numpy(dtype=str))
    value = pd.to_numeric(pd.Series(text.ravel()), errors="coerce").to_numpy(float)
    value = value.reshape(text.shape)
    claimed = expected.to_numpy(dtype=float)
    blank = np.isnan(claimed)
    with np.errstate(invalid="ignore"):
        same = np.where(blank, text == "", np.isclose(value, claimed, rtol=1e-9))
    if same.all():
        return
    i, j = np.argwhere(~same)[0]
    shown_value = str(text[i, j]) or "blank"
    said = "blank" if blank[i, j] else expected.iat[i, j]
    raise InvalidInput(
        str(path),
        f"cell ({expected.index[i]}, {expected.columns[j]}) is {shown_value} but its record of "
        f"checks says {said}: the record does not describe this table",
    )


def _labels(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return list(series.cat.categories)
    return sorted(series.dropna().unique())


def _values_evidence(row: str, column: str, values: pd.Series, keep: int) -> CellEvidence:
    vals = np.sort(values.to_numpy(dtype=float))[::-1]
    return CellEvidence(
        row,
        column,
        len(vals),
        total=float(vals.sum()),
        largest=tuple(float(v) for v in vals[:keep]),
        negative=bool((vals < 0).any()),
    )


def crosstab(
    data: pd.DataFrame,
    index: str,
    columns: str,
    values: str | None = None,
    aggfunc: str | None = None,
    *,
    policy: DisclosurePolicy | None = None,
) -> CheckedTable:
    """Tabulate ``data`` by the columns ``index`` (rows) and ``columns``, as ``pandas.crosstab``
    does: counts, or ``aggfunc`` ("count", "sum" or "mean") of the column ``values``. Every
    combination of labels gets a cell (empty ones too); rows with a missing label are left
    out. Checked against ``policy`` (ACRO's defaults if None)."""
    policy = policy or DisclosurePolicy()
    for name in (index, columns, values):
        if name is not None and name not in data.columns:
            raise InvalidInput(f"column {name!r}", "not in the data")
    if (values is None) != (aggfunc is None) and aggfunc != "count":
        raise InvalidInput("crosstab", "give both values and aggfunc, or neither")
    kind = _AGGFUNCS.get(aggfunc or "count")
    if kind is None:
        raise InvalidInput(f"aggfunc {aggfunc!r}", f"valid: {', '.join(_AGGFUNCS)}")
    if kind is not TableKind.FREQUENCY:
        assert values is not None
        if not pd.api.types.is_numeric_dtype(data[values]):
            raise InvalidInput(f"column {values!r}", "is not numeric")
        if data[values].isna().any():
            raise InvalidInput(f"column {values!r}", "has missing values; drop or fill them")
    rows, cols = _labels(data[index]), _labels(data[columns])
    keep = max(policy.nk_n, 2)
    groups = data.groupby([index, columns], observed=True, dropna=True)
    evidence: dict[tuple[Any, Any], CellEvidence]
    if kind is TableKind.FREQUENCY:
        evidence = {
            (row, col): CellEvidence(str(row), str(col), int(size))
            for (row, col), size in groups.size().items()
        }
    else:
        assert values is not None
        evidence = {
            (row, col): _values_evidence(str(row), str(col), group[values], keep)
            for (row, col), group in groups
        }
    cells = tuple(evidence.get((r, c), CellEvidence(str(r), str(c), 0)) for r in rows for c in cols)
    return CheckedTable(
        kind=kind,
        index=index,
        columns=columns,
        rows=tuple(str(r) for r in rows),
        cols=tuple(str(c) for c in cols),
        cells=cells,
        policy=policy,
    )
