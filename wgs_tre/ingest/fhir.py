"""``wgs-tre ingest fhir``: FHIR clinical Bundles into a registered set of Parquet tables."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from wgs_tre.clinical.fhir import CodeMap, read_clinical
from wgs_tre.governance.context import Context
from wgs_tre.governance.datasets import (
    build_manifest,
    check_name,
    register_version,
    version_locations,
)
from wgs_tre.governance.views import DatasetVersionView
from wgs_tre.ingest.staging import staging
from wgs_tre.types import Action, DatasetKind

__all__ = ["ClinicalIngest", "ingest_fhir"]


@dataclass(frozen=True)
class ClinicalIngest:
    """The registered version, and what the input held that no table uses: ``skipped`` counts
    resources by type, ``unknown`` names the skipped types that are not FHIR R4 resources."""

    version: DatasetVersionView
    skipped: dict[str, int]
    unknown: list[str]


def ingest_fhir(
    ctx: Context,
    paths: list[Path],
    dataset: str,
    *,
    mapping: Path,
    root: Path,
    description: str = "",
) -> ClinicalIngest:
    """Validate, map and tabulate ``paths``; register the tables as the next version."""
    check_name(dataset)  # before anything is read or written
    ctx.check(Action.DATASET_REGISTER)
    codes = CodeMap.read(mapping)
    tables = read_clinical(paths, codes)
    registered = partial(
        version_locations, ctx, action=Action.DATASET_REGISTER, name=dataset
    )  # what a sweep of stale staging must leave alone
    with staging(root, dataset, registered=registered) as stage:
        stage.path.mkdir()
        for name, frame in tables.frames().items():
            frame.to_parquet(stage.path / f"{name}.parquet", index=False)
        shutil.copy(mapping, stage.path / "code-mapping.csv")  # the mapping used, for provenance
        version = register_version(
            ctx,
            dataset,
            stage.path,
            kind=DatasetKind.CLINICAL,
            description=description or f"ingested from {', '.join(p.name for p in paths)}",
            manifest=build_manifest(stage.path),
            participants=sorted(tables.participants),
            place=stage.place,
        )
    skipped = dict(sorted(tables.skipped.items()))
    return ClinicalIngest(version, skipped, sorted(tables.unknown))
