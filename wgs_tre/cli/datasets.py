"""``wgs-tre datasets``: register immutable dataset versions and check them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wgs_tre.cli.common import progress_bar, state
from wgs_tre.errors import IntegrityError
from wgs_tre.governance import datasets as ops
from wgs_tre.governance.views import DatasetVersionView
from wgs_tre.types import DatasetKind

app = typer.Typer(help="Versioned, immutable datasets.", no_args_is_help=True)


def _total_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@app.command("register")
def register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name, e.g. wgs-cohort.")],
    path: Annotated[Path, typer.Argument(help="File or directory holding this version.")],
    kind: Annotated[
        str | None,
        typer.Option(
            help="Kind of data, required for a new dataset: "
            + ", ".join(f"{k} ({k.description})" for k in DatasetKind.registered())
            + "."
        ),
    ] = None,
    description: Annotated[str, typer.Option(help="What the dataset is.")] = "",
) -> None:
    """Register the files at PATH as the next version of dataset NAME (steward).

    Every file is hashed (SHA-256) into a manifest kept with the version.
    """
    st = state(ctx)
    context = st.context()
    total = _total_size(path) if path.exists() else 0
    with progress_bar(f"hashing {path.name}", total=total, unit_bytes=True) as bar:
        task = bar.task_ids[0]
        version = ops.register_version(
            context,
            name,
            path,
            kind=kind,
            description=description,
            progress=lambda n: bar.advance(task, n),
        )
    st.done(f"registered {version.label} ({version.files} files, {version.checksum})", version)


def _version_row(v: DatasetVersionView) -> tuple[object, ...]:
    retired = v.retired_at and f"{v.retired_at:%Y-%m-%d}: {v.retired_reason}"
    checksum = v.checksum[:19] + "…"
    return (v.label, v.kind, v.files, v.size_bytes, checksum, v.registered_at, retired)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List every dataset version."""
    st = state(ctx)
    found = ops.list_versions(st.context())
    st.emit(
        found,
        lambda rows: st.table(
            "Dataset versions",
            ["dataset", "kind", "files", "bytes", "checksum", "registered", "retired"],
            [_version_row(v) for v in rows],
        ),
    )


@app.command("show")
def show(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="name@version (or name for the latest).")],
) -> None:
    """Show a version: where it lives, its manifest (every file with its size and SHA-256),
    how many participants it holds, and (stewards, admins) the approvals that cover it."""
    st = state(ctx)
    detail = ops.show_version(st.context(), label)

    def render(_: object) -> None:
        v = detail.version
        st.console.print(
            f"[bold]{v.label}[/bold] ({v.kind}) at {v.uri}\n"
            f"registered {v.registered_at:%Y-%m-%d %H:%M} UTC; {v.files} files, "
            f"{v.size_bytes} bytes; checksum {v.checksum}\n"
            f"participants {detail.participants}"
        )
        if v.retired_at is not None:
            st.console.print(f"[red]retired[/red]      {v.retired_at:%Y-%m-%d}: {v.retired_reason}")
        if detail.approvals is not None:
            covering = [f"{a['project']} ({a['state']})" for a in detail.approvals]
            st.console.print(f"approvals    {', '.join(covering) or 'none'}")
        st.table(
            "Manifest",
            ["file", "bytes", "sha256"],
            [(name, e["size"], e["sha256"]) for name, e in sorted(detail.manifest.items())],
        )

    st.emit(detail, render)


@app.command("verify")
def verify(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="name@version (or name for the latest).")],
) -> None:
    """Re-hash a version's files and compare them with its registered manifest."""
    st = state(ctx)
    problems = ops.verify_version(st.context(), label)
    if problems:
        if st.json:
            st.emit({"dataset": label, "ok": False, "problems": problems})
        raise IntegrityError(f"{label} differs from what was registered: {problems[0]}")
    st.done(f"{label} matches its registered manifest", {"dataset": label, "ok": True})


@app.command("retire")
def retire(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="name@version: the version to retire.")],
    reason: Annotated[
        str, typer.Option(help="Why (researchers see it when their session is refused).")
    ],
) -> None:
    """Retire a version (steward), e.g. after a QC problem or a recall: from now on no new
    application may name it and no session may read it. Its record, files and history stay,
    and projects approved for it keep their other versions. It cannot be undone: publish the
    corrected release as a new version and amend the projects that need it."""
    st = state(ctx)
    version = ops.retire_version(st.context(), label, reason)
    st.done(f"retired {version.label}: {version.retired_reason}", version)
