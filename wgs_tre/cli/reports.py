"""``wgs-tre cases`` and ``wgs-tre reports``: hospitals' cases and their reports' review."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import orjson
import typer

from wgs_tre.cli.common import State, state
from wgs_tre.governance import cases
from wgs_tre.governance.cases import CaseSummary, ReportDocument

cases_app = typer.Typer(
    help="Hospitals' cases: participants with sequenced samples, under the hospital's own "
    "patient ids (shown only to that hospital's expert panel).",
    no_args_is_help=True,
)
app = typer.Typer(
    help="Case reports: generate versions, review (submit, comment, return, sign off), export.",
    no_args_is_help=True,
)

Ref = Annotated[str, typer.Argument(help="The case's reference (C-XXXXXX, see `cases list`).")]


@cases_app.command("import")
def import_(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="The hospital's FHIR JSON or NDJSON files.")],
    hospital: Annotated[str, typer.Option(help="The hospital's organisation (`orgs list`).")],
    identifier_system: Annotated[
        str | None,
        typer.Option(
            help="The Patient identifier system of its record numbers "
            "(default: the identifier whose system ends in /mrn)."
        ),
    ] = None,
) -> None:
    """Register a hospital's cases from its FHIR export (steward): one case per Patient, with
    its record number and its encounter diagnosis. All or nothing; importing again adds only
    new patients."""
    from wgs_tre.reports.cases import cases_from_fhir

    st = state(ctx)
    entries = cases_from_fhir(files, identifier_system=identifier_system)
    added = cases.register_cases(st.context(), hospital, entries)
    st.done(
        f"{len(added)} new cases of {hospital} ({len(entries) - len(added)} already registered)",
        added,
    )


def _case_rows(rows: list[CaseSummary]) -> list[tuple[object, ...]]:
    return [
        (
            c.ref,
            c.hospital,
            c.hospital_patient_id or "",
            c.kind.value,
            c.diagnosis,
            (c.state.value if c.state else "no report"),
            c.versions,
        )
        for c in rows
    ]


@cases_app.command("list")
def list_(
    ctx: typer.Context,
    refs: Annotated[
        bool, typer.Option("--refs", help="Print only the case references, one per line.")
    ] = False,
) -> None:
    """The cases you may see: a panel member their hospital's (with its patient ids), a
    steward every hospital's (without them)."""
    st = state(ctx)
    rows = cases.list_cases(st.context())
    if refs and not st.json:
        for row in rows:
            print(row.ref)
        return
    st.emit(
        rows,
        lambda r: st.table(
            "Cases",
            ["case", "hospital", "patient id", "kind", "diagnosis", "report", "versions"],
            _case_rows(r),
        ),
    )


def _show(st: State, document: ReportDocument) -> None:
    case, content = document.case, document.content
    st.console.print(
        f"[bold]{case.ref}[/] {case.hospital} {case.hospital_patient_id or ''} - "
        f"{content['diagnosis']['name']} ({content['diagnosis']['code']})"
    )
    st.console.print(
        f"{document.state.value}; version {document.version} of {len(document.versions)}"
    )
    st.console.print(content["summary"])
    from wgs_tre.reports.export import COLUMNS, cell

    st.table(
        "Reported variants",
        [name for name, _ in COLUMNS],
        [[cell(f, name) for name, _ in COLUMNS] for f in content["findings"]],
    )
    for note in document.notes:
        st.console.print(
            f"v{note.version} {note.kind} by {note.author} "
            f"{note.written_at:%Y-%m-%d %H:%M}: {note.text}"
        )


@app.command("generate")
def generate(
    ctx: typer.Context,
    ref: Ref,
    variants: Annotated[str, typer.Option(help="Variant dataset (name or name@version).")] = "wgs",
    clinical: Annotated[
        str | None, typer.Option(help="Clinical dataset for the case's background.")
    ] = None,
    somatic: Annotated[
        str | None, typer.Option(help="Tumour calls (a somatic dataset), read for cancer cases.")
    ] = None,
    note: Annotated[
        str, typer.Option(help="Your words, after the summary (what a revision answers).")
    ] = "",
) -> None:
    """Build the case's report from its genotypes and store it as a new version (steward): the
    first, another draft, or the revision of a returned report. Never edits a version."""
    from wgs_tre.reports.build import generate as build

    st = state(ctx)
    number = build(
        st.context(), ref, variants=variants, clinical=clinical, somatic=somatic, note=note
    )
    st.done(f"version {number} of the report of {ref}", {"case": ref, "version": number})


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Ref,
    version: Annotated[
        int | None, typer.Option(help="A version number (default: the latest).")
    ] = None,
) -> None:
    """Show a report (its hospital's expert panel; audited)."""
    st = state(ctx)
    st.emit(cases.view(st.context(), ref, version), lambda d: _show(st, d))


@app.command("submit")
def submit(ctx: typer.Context, ref: Ref) -> None:
    """Send the latest version for review by the case's hospital's panel (steward)."""
    st = state(ctx)
    st.emit(cases.submit(st.context(), ref), lambda d: st.done(f"{ref}: {d.state.value}"))


@app.command("comment")
def comment(
    ctx: typer.Context, ref: Ref, text: Annotated[str, typer.Argument(help="The comment.")]
) -> None:
    """Comment on the version in review (panel member of the case's hospital)."""
    st = state(ctx)
    st.emit(cases.comment(st.context(), ref, text), lambda d: st.done(f"{ref}: comment recorded"))


@app.command("return")
def return_(
    ctx: typer.Context, ref: Ref, reasons: Annotated[str, typer.Argument(help="What to change.")]
) -> None:
    """Return the report to its author with reasons (panel member of the case's hospital)."""
    st = state(ctx)
    st.emit(
        cases.return_report(st.context(), ref, reasons),
        lambda d: st.done(f"{ref}: {d.state.value}"),
    )


@app.command("sign-off")
def sign_off(
    ctx: typer.Context,
    ref: Ref,
    note: Annotated[str, typer.Option(help="A note recorded with the sign-off.")] = "",
) -> None:
    """Sign off the latest version (panel member of the case's hospital); it cannot change after."""
    st = state(ctx)
    st.emit(
        cases.sign_off(st.context(), ref, note),
        lambda d: st.done(f"{ref}: signed off version {d.version}"),
    )


@app.command("export")
def export(
    ctx: typer.Context,
    ref: Ref,
    pdf: Annotated[Path | None, typer.Option(help="Write the PDF here.")] = None,
    fhir: Annotated[
        Path | None, typer.Option(help="Write the FHIR R4 DiagnosticReport (JSON) here.")
    ] = None,
) -> None:
    """Export a signed-off report as PDF and/or FHIR DiagnosticReport (panel member; audited)."""
    from wgs_tre.errors import InvalidInput
    from wgs_tre.reports.export import diagnostic_report, pdf_bytes

    if pdf is None and fhir is None:
        raise InvalidInput("--pdf/--fhir", "name at least one file to write")
    st = state(ctx)
    document = cases.export(st.context(), ref)
    content = pdf_bytes(document)
    written = []
    if pdf is not None:
        _write_whole(pdf, content)
        written.append(str(pdf))
    if fhir is not None:
        resource = diagnostic_report(document, content)
        _write_whole(fhir, orjson.dumps(resource, option=orjson.OPT_INDENT_2))
        written.append(str(fhir))
    st.done(f"{ref} version {document.version}: wrote {', '.join(written)}", written)


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``path`` so that an interruption leaves the old file or the new one, never half."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
