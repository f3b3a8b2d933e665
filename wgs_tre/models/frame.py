"""The analysis table: one row per participant (a per-project pseudonym), the survival outcome
and the features a model may use, with where it came from.

Every model in ``wgs_tre.models`` takes one. A plain DataFrame is accepted too (published data
sets, teaching), but only a table built from a project's governed views by
:func:`wgs_tre.models.analysis_table` carries provenance, so only its models can be saved to
the registry, and only its fits are audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from wgs_tre.errors import InvalidInput

__all__ = ["AnalysisTable", "FitRecord", "Provenance", "as_table"]

TIME, EVENT, ID = "time", "event", "sample_id"


@dataclass(frozen=True)
class Provenance:
    """Where a table came from: what a saved model records, and what a load is checked against."""

    project: str
    datasets: tuple[str, ...]  # name@version of every dataset version read
    participants: int
    events: int
    # When the data was read: a consent withdrawal imported later flags the model.
    read_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True)
class FitRecord:
    """What one fit's audit event says: never a row, a value or a pseudonym."""

    model: str  # cox | forest | kaplan_meier | log_rank | cross_validation
    features: tuple[str, ...]
    participants: int
    events: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnalysisTable:
    """``frame`` holds ``time`` (days, float), ``event`` (bool) and ``features``; ``sample_id``
    when built from a project. ``on_fit`` is called once per fit (the audit event)."""

    frame: pd.DataFrame
    features: tuple[str, ...]
    provenance: Provenance | None = None
    on_fit: Callable[[FitRecord], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for column in (TIME, EVENT, *self.features):
            if column not in self.frame:
                raise InvalidInput(f"column {column!r}", "is not in the analysis table")

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def events(self) -> int:
        return int(self.frame[EVENT].sum())

    def select(self, features: Sequence[str] | None) -> AnalysisTable:
        """The same table with only ``features`` (all when None), in that order."""
        if features is None:
            return self
        unknown = [f for f in features if f not in self.features]
        if unknown:
            raise InvalidInput(
                f"feature {unknown[0]!r}",
                f"is not in the analysis table (its features: {', '.join(self.features)})",
            )
        return replace(self, features=tuple(features))

    def assign(self, **columns: Any) -> AnalysisTable:
        """The same table with new feature columns (pandas' ``assign``: values or functions
        of the frame), keeping its provenance and audit; e.g. carriers of a variant:
        ``table.assign(carrier=lambda f: (f["dosage_chr1_33339_C_A"] > 0).astype(int))``."""
        clash = [name for name in columns if name in (ID, TIME, EVENT)]
        if clash:
            raise InvalidInput(f"column {clash[0]!r}", "is the table's own: choose another name")
        added = tuple(name for name in columns if name not in self.features)
        return replace(self, frame=self.frame.assign(**columns), features=self.features + added)

    def rows(self, index: Any) -> AnalysisTable:
        """A subset of the rows (cross-validation folds), same features and provenance."""
        return replace(self, frame=self.frame.iloc[index].reset_index(drop=True))

    def record(self, model: str, features: Sequence[str], **options: Any) -> None:
        if self.on_fit is not None:
            self.on_fit(FitRecord(model, tuple(features), len(self), self.events, options))


def as_table(
    data: AnalysisTable | pd.DataFrame,
    *,
    time: str = TIME,
    event: str = EVENT,
    features: Sequence[str] | None = None,
) -> AnalysisTable:
    """``data`` as an analysis table; a DataFrame's ``time`` and ``event`` columns are named
    by the arguments, its features default to every other numeric column."""
    if isinstance(data, AnalysisTable):
        return data.select(features)
    if not isinstance(data, pd.DataFrame):
        raise InvalidInput("data", f"expected an analysis table or a DataFrame, not {type(data)}")
    for column in (time, event):
        if column not in data:
            raise InvalidInput(f"column {column!r}", "is not in the table (name it: time=, event=)")
    frame = data.rename(columns={time: TIME, event: EVENT})
    if features is None:
        features = [
            c for c in frame.columns
            if c not in (TIME, EVENT, ID) and pd.api.types.is_numeric_dtype(frame[c])
        ]  # fmt: skip
    return AnalysisTable(frame, tuple(features))
