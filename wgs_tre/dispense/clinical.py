"""Clinical datasets: one Parquet table per FHIR resource family (``wgs_tre.clinical.fhir``).

The project's view of a table holds the consenting participants only, under the same pseudonyms
as its genotypes (so the two join on ``sample_id``), without direct identifiers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from wgs_tre.access import Grant, pseudonym
from wgs_tre.clinical.fhir import TABLES
from wgs_tre.dispense.kinds import Dispenser, Progress
from wgs_tre.errors import InvalidInput

__all__ = ["ClinicalDispenser", "clinical_view"]


def _table(part: str | None) -> str:
    if part is None or part not in TABLES:
        raise InvalidInput(f"table {part!r}", f"choose one of {', '.join(TABLES)}")
    return part


def clinical_view(grant: Grant, table: str) -> pd.DataFrame:
    """One table of a clinical dataset version, as the project sees it."""
    frame = pd.read_parquet(Path(grant.uri) / f"{_table(table)}.parquet")
    if frame.empty:
        return frame
    frame = frame[frame["participant_id"].isin(grant.participants)].copy()
    frame.insert(0, "sample_id", [pseudonym(grant.key, p) for p in frame["participant_id"]])
    frame = frame.drop(columns=["participant_id"])
    if "birth_date" in frame:  # a quasi-identifier: the year is enough for research
        frame["birth_year"] = pd.to_datetime(frame.pop("birth_date")).dt.year
    return frame.sort_values("sample_id", kind="stable").reset_index(drop=True)


class ClinicalDispenser(Dispenser):
    kind = "clinical"  # described where the built-in kinds are named (types.DatasetKind)

    def view(self, grant: Grant, part: str | None = None) -> pd.DataFrame:
        return clinical_view(grant, _table(part))

    def write(self, grant: Grant, directory: Path, progress: Progress | None = None) -> None:
        for table in TABLES:
            clinical_view(grant, table).to_parquet(directory / f"{table}.parquet", index=False)

    def read(self, directory: Path, part: str | None = None) -> pd.DataFrame:
        return pd.read_parquet(directory / f"{_table(part)}.parquet")
