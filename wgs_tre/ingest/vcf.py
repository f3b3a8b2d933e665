"""``wgs-tre ingest vcf``: a VCF into a registered VCF Zarr dataset version."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from wgs_tre.backends.vcf import read_vcf
from wgs_tre.backends.vcf_zarr import VcfZarrWriter
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

__all__ = ["ingest_vcf"]


def ingest_vcf(
    ctx: Context,
    path: Path,
    dataset: str,
    *,
    root: Path,
    description: str = "",
    progress: Callable[[int], None] | None = None,
) -> DatasetVersionView:
    """Convert ``path`` to VCF Zarr under ``root/dataset`` and register it as the next version.

    ``progress`` is called after each step with how many bytes of ``path`` (compressed, if it
    is) have been read so far; the file's size is the total.
    """
    check_name(dataset)  # before anything is read or written
    ctx.check(Action.DATASET_REGISTER)
    registered = partial(
        version_locations, ctx, action=Action.DATASET_REGISTER, name=dataset
    )  # what a sweep of stale staging must leave alone
    with staging(root, dataset, registered=registered) as stage:
        with read_vcf(path, progress) as (header, chunks):
            writer = VcfZarrWriter(stage.path, header, source=path.name)
            try:
                for chunk in chunks:
                    writer.append(chunk)
            except BaseException:
                writer.abort()
                raise
            writer.close()
        return register_version(
            ctx,
            dataset,
            stage.path,
            kind=DatasetKind.VARIANTS,
            description=description or f"ingested from {path.name}",
            manifest=build_manifest(stage.path),
            participants=header.samples,
            place=stage.place,
        )
