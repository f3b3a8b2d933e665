"""The project's view of a clinical table: consenting participants only, under the same
pseudonyms as its genotypes (so the two join on ``sample_id``), without direct identifiers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from wgs_tre.access import Grant, pseudonym
from wgs_tre.clinical.fhir import TABLES
from wgs_tre.errors import InvalidInput

__all__ = ["clinical_view"]


def clinical_view(grant: Grant, table: str) -> pd.DataFrame:
    if grant.kind != "clinical":
        raise InvalidInput(f"dataset {grant.dataset}", f"is {grant.kind} data, not clinical")
    if table not in TABLES:
        raise InvalidInput(f"table {table!r}", f"choose one of {', '.join(TABLES)}")
    frame = pd.read_parquet(Path(grant.uri) / f"{table}.parquet")
    if frame.empty:
        return frame
    frame = frame[frame["participant_id"].isin(grant.participants)].copy()
    frame.insert(0, "sample_id", [pseudonym(grant.key, p) for p in frame["participant_id"]])
    frame = frame.drop(columns=["participant_id"])
    if "birth_date" in frame:  # a quasi-identifier: the year is enough for research
        frame["birth_year"] = pd.to_datetime(frame.pop("birth_date")).dt.year
    return frame.sort_values("sample_id", kind="stable").reset_index(drop=True)
