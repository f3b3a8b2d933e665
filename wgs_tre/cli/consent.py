"""``wgs-tre consent``: import FHIR Consents and ask the registry who may be used for what."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from wgs_tre.cli.common import progress_bar, state
from wgs_tre.consent import registry
from wgs_tre.consent.impact import Impact, impact
from wgs_tre.duo import Purpose
from wgs_tre.types import OrgType

app = typer.Typer(help="The consent registry (FHIR R4 Consent, DUO codes).", no_args_is_help=True)


@app.command("import")
def import_(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="FHIR JSON (Bundle or Consent) or NDJSON files.")
    ],
) -> None:
    """Import Consent resources (steward). Each file is all or nothing, and only once."""
    st = state(ctx)
    context = st.context()
    reports = []
    with progress_bar("importing consent", total=len(files)) as bar:
        for path in files:
            reports.append(registry.import_file(context, path))
            bar.advance(bar.task_ids[0])
    for report in reports if not st.json else []:
        st.done(
            f"{report.file}: {report.consents} consent records, {report.withdrawals} "
            f"withdrawals, {report.new_participants} new participants"
        )
    if st.json:
        st.emit(reports)


@app.command("status")
def status(
    ctx: typer.Context,
    purpose: Annotated[
        str | None, typer.Option(help="Count who may be used for this DUO purpose (GRU, HMB…).")
    ] = None,
    disease: Annotated[str | None, typer.Option(help="ICD-10 code, for DS purposes.")] = None,
    org_type: Annotated[
        OrgType | None, typer.Option(help="…by an organisation of this type.")
    ] = None,
    at: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="As of this time (UTC)."),
    ] = None,
    every_use: Annotated[
        bool,
        typer.Option(
            "--every-use",
            help=f"Also count who may be used for every purpose ({', '.join(registry.EVERY_USE)})"
            " by every organisation type, in one table.",
        ),
    ] = False,
) -> None:
    """Summarise consent over the cohort (steward)."""
    st = state(ctx)
    when = at.replace(tzinfo=dt.UTC) if at else None
    use = Purpose.parse(purpose, disease, where="--purpose") if purpose else None
    summary = registry.status_summary(
        st.context(), purpose=use, org_type=org_type, at=when, every_use=every_use
    )
    rows = [
        ("participants", summary.participants),
        ("no consent on record", summary.no_consent),
        ("withdrawn or refused", summary.withdrawn),
        ("consent in force", summary.in_force),
    ]
    if summary.permitted is not None and use is not None and org_type is not None:
        rows.append((f"usable for {use} by {org_type.value}", summary.permitted))

    def render(_: object) -> None:
        st.table("Consent", ["", "count"], rows)
        if summary.by_use is not None:
            kinds = [kind.value for kind in OrgType]
            st.table(
                "Usable participants by purpose and organisation type",
                ["purpose", *kinds],
                [(short, *(counts[k] for k in kinds)) for short, counts in summary.by_use.items()],
            )

    st.emit(summary, render)


@app.command("history")
def history(
    ctx: typer.Context,
    participant: Annotated[str, typer.Argument(help="Internal participant id.")],
) -> None:
    """Every consent version of one participant, marking the one in force (steward; audited)."""
    st = state(ctx)
    versions = registry.history(st.context(), participant)
    st.emit(
        versions,
        lambda rows: st.table(
            "Consent history (latest applies)",
            ["", "Consent", "recorded", "status", "permissions", "modifiers", "recontact"],
            [
                (
                    "→" if v.applies_now else "",
                    f"{v.fhir_id}/{v.fhir_version}",
                    f"{v.recorded:%Y-%m-%d %H:%M}",
                    "withdrawn" if v.withdrawn else v.status,
                    " ".join(v.permissions) + (f" ({' '.join(v.diseases)})" if v.diseases else ""),
                    " ".join(v.modifiers),
                    {True: "yes", False: "no", None: ""}[v.recontact],
                )
                for v in rows
            ],
        ),
    )


@app.command("impact")
def impact_(
    ctx: typer.Context,
    participant: Annotated[str, typer.Argument(help="Internal participant id.")],
) -> None:
    """What a withdrawal touches: dataset versions with the participant's data, projects approved
    to use them, outputs those projects released and prognosis models trained on those versions
    (steward; audited). New opens already exclude them."""
    st = state(ctx)
    report = impact(st.context(), participant)

    def render(r: Impact) -> None:
        st.console.print(f"consent: {r.consent_status}")
        st.console.print(f"dataset versions: {', '.join(r.dataset_versions) or 'none'}")
        st.table(
            "Projects approved to use those versions",
            ["project", "approval", "datasets"],
            [(p.project, p.approval_state, ", ".join(p.datasets)) for p in r.projects],
        )
        st.console.print(f"released outputs: {', '.join(r.released_outputs) or 'none recorded'}")
        st.console.print(f"registered models: {', '.join(r.models) or 'none'}")

    st.emit(report, render)
