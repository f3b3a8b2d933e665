"""``wgs-tre ingest``: pipeline outputs into registered dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wgs_tre.cli.common import jsonable, progress_bar, state

app = typer.Typer(help="Ingest pipeline outputs as new dataset versions.", no_args_is_help=True)


@app.command("vcf")
def vcf(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="VCF file (.vcf, .vcf.gz or bgzipped).")],
    dataset: Annotated[str, typer.Option(help="Dataset name; the version number is assigned.")],
    description: Annotated[str, typer.Option(help="What this release is.")] = "",
) -> None:
    """Convert a VCF to VCF Zarr and register it as the next version of DATASET (steward).

    Sample names must be the programme's participant ids. Malformed input stops with the file,
    line and sample named, and nothing is registered; an interrupted ingest leaves no version.
    """
    from wgs_tre.ingest.vcf import ingest_vcf  # the data stack loads only when needed

    st = state(ctx)
    context = st.context()
    size = path.stat().st_size if path.is_file() else None
    with progress_bar(f"ingesting {path.name}", total=size, unit_bytes=True) as bar:
        version = ingest_vcf(
            context,
            path,
            dataset,
            root=st.settings.data_dir / "datasets",
            description=description,
            progress=lambda done: bar.update(bar.task_ids[0], completed=done),
        )
    st.done(f"registered {version.label}: {version.uri} ({version.size_bytes} bytes)", version)


@app.command("fhir")
def fhir(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="FHIR JSON Bundles or NDJSON files.")],
    dataset: Annotated[str, typer.Option(help="Dataset name; the version number is assigned.")],
    mapping: Annotated[
        Path, typer.Option(help="CSV mapping hospital-local codes to standard codes.")
    ],
    description: Annotated[str, typer.Option(help="What this release is.")] = "",
) -> None:
    """Validate FHIR R4 clinical resources, map local codes, and register tidy Parquet tables
    (patients, conditions, observations, medications, specimens, questionnaire, survival) as the
    next version of DATASET (steward). A bad resource, a Patient without an id or a subject that
    is not a Patient of the input stops with its file, entry and field named, and nothing is
    registered. Resources of other types are skipped and counted by type in the result.
    """
    from wgs_tre.ingest.fhir import ingest_fhir  # the data stack loads only when needed

    st = state(ctx)
    result = ingest_fhir(
        st.context(),
        paths,
        dataset,
        mapping=mapping,
        root=st.settings.data_dir / "datasets",
        description=description,
    )
    version = result.version
    message = f"registered {version.label}: {version.files} tables"
    if result.skipped:
        counts = ", ".join(
            f"{n} {kind}" + (" (not a FHIR R4 resource type)" if kind in result.unknown else "")
            for kind, n in result.skipped.items()
        )
        message += f"; skipped resources no table uses: {counts}"
    st.done(
        message,
        {**jsonable(version), "skipped": result.skipped, "unknown_types": result.unknown},
    )
