"""``wgs-tre audit``: verify the hash chain, export it to a SIEM, look at recent events."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from wgs_tre import audit as log
from wgs_tre.audit.export import ExportFormat, export_lines
from wgs_tre.cli.common import progress_bar, state
from wgs_tre.errors import IntegrityError, InvalidInput
from wgs_tre.types import Action

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def _anchor(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise InvalidInput(f"--anchor {text!r}", "expected SEQ:HASH, e.g. 42:3f1a…(64 hex digits)")
    return int(seq), digest


@app.command("verify")
def verify(
    ctx: typer.Context,
    anchor: Annotated[
        list[str] | None,
        typer.Option(help="SEQ:HASH of an event as recorded outside the store (e.g. by a SIEM)."),
    ] = None,
) -> None:
    """Check the whole chain; exit 7 and name the first bad event if it was tampered with."""
    st = state(ctx)
    context = st.context()
    anchors = dict(_anchor(a) for a in anchor or [])
    context.check(Action.AUDIT_VERIFY)
    with progress_bar("verifying audit chain", total=None) as bar:
        task = bar.task_ids[0]
        report = log.verify_store(
            context.store, anchors=anchors, progress=lambda n: bar.update(task, completed=n)
        )
    if not report.ok:
        if st.json:
            st.emit(report)
        # Report first: recording the verdict appends to the chain, which may be what is broken.
        with contextlib.suppress(IntegrityError), context.transaction(Action.AUDIT_VERIFY) as tx:
            tx.audit(report.summary())
        raise IntegrityError(report.summary())
    st.emit(report, lambda r: st.console.print(f"[green]✓[/green] {r.summary()}"))
    with context.transaction(Action.AUDIT_VERIFY) as tx:
        tx.audit(report.summary())


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")] = (
        ExportFormat.JSONL
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    after: Annotated[int, typer.Option(help="Only events after this sequence number.")] = 0,
) -> None:
    """Export events, one per line, as JSON Lines or CEF for a SIEM."""
    st = state(ctx)
    context = st.context()
    with context.transaction(Action.AUDIT_EXPORT) as tx:
        tx.audit(f"exported audit events after {after} as {fmt.value}")
        tx.session.flush()
        lines = export_lines(log.events(tx.session, after=after), fmt)
        if output is None:
            for line in lines:
                sys.stdout.write(line + "\n")
            return
        if not output.parent.is_dir():
            raise InvalidInput(f"--output {output}", f"no such directory: {output.parent}")
        tmp = output.with_name(output.name + ".part")
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                count = sum(1 for line in lines if fh.write(line + "\n") is not None)
            tmp.replace(output)  # readers never see a half-written export
        except OSError as exc:
            raise InvalidInput(f"--output {output}", exc.strerror or str(exc)) from None
        finally:
            tmp.unlink(missing_ok=True)
    st.done(f"wrote {count} events to {output}", {"events": count, "output": str(output)})


@app.command("tail")
def tail(
    ctx: typer.Context,
    lines: Annotated[int, typer.Option("-n", help="How many of the newest events.")] = 20,
    project: Annotated[str | None, typer.Option(help="Only this project's events.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this user's events.")] = None,
) -> None:
    """Show the newest audit events."""
    st = state(ctx)
    context = st.context()
    with context.transaction(Action.AUDIT_READ, audited=False) as tx:
        found = list(log.events(tx.session, last=lines, project=project, actor=actor))
    st.emit(
        [r.as_dict() for r in found],
        lambda _: st.table(
            "Audit events",
            ["seq", "time (UTC)", "actor", "action", "project", "decision", "reason"],
            [
                (
                    r.seq,
                    r.time[:19],
                    r.actor,
                    r.action,
                    r.project or r.dataset,
                    r.decision,
                    r.reason,
                )
                for r in found
            ],
            wrap="reason",
        ),
    )
