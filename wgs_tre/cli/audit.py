"""``wgs-tre audit``: verify the hash chain, sign checkpoints of it, export it to a SIEM, look
at recent events."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from wgs_tre import audit as log
from wgs_tre.audit import checkpoint
from wgs_tre.audit.export import ExportFormat, export_lines
from wgs_tre.cli.common import progress_bar, state
from wgs_tre.errors import IntegrityError, InvalidInput
from wgs_tre.governance import verification
from wgs_tre.types import Action

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("keygen")
def keygen(ctx: typer.Context) -> None:
    """Create the Ed25519 key that signs audit checkpoints (once, as the audit signer).

    The key goes to WGS_TRE_AUDIT_SIGNING_KEY (default: audit/signing.key in the data
    directory, mode 0600) and its public key beside it (.pub). Keep the key readable by the
    audit signer's account alone, and the public key writable by root alone: whoever can
    replace it can sign a rewritten log.
    """
    st = state(ctx)
    context = st.context()
    path = st.settings.signing_key_path
    with context.transaction(Action.AUDIT_KEYGEN) as tx:
        key = checkpoint.generate_key(path)
        tx.audit(f"new audit signing key {key}", details={"key": key})
    st.done(f"audit signing key {key} written to {path}", {"key": key, "path": str(path)})


@app.command("checkpoint")
def sign(ctx: typer.Context) -> None:
    """Sign the audit head now (run it from a timer as the audit signer, e.g. hourly).

    The signed checkpoint is appended to WGS_TRE_AUDIT_CHECKPOINTS (outside the database) and
    recorded in the chain; `audit verify` then reports any rewrite of the events it covers.
    `audit verify` and `audit export` sign one too when the signing key is readable.
    """
    st = state(ctx)
    context = st.context()
    context.check(Action.AUDIT_CHECKPOINT)
    key_path = st.settings.signing_key_path
    if not key_path.exists():
        raise InvalidInput(
            str(key_path), "no audit signing key here; create it with `wgs-tre audit keygen`"
        )
    signed = verification.sign_checkpoint(context, st.settings)
    if signed is None:
        raise InvalidInput(str(key_path), "this account may not read the audit signing key")
    st.done(f"signed checkpoint of event {signed.seq} ({signed.hash})", signed.as_dict())


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
    """Check the whole chain; exit 7 and name the first bad event if it was tampered with.

    Every signed checkpoint (see `audit checkpoint`) is checked too, so a chain rewritten and
    re-hashed since a checkpoint is reported. When the signing key is readable, a new checkpoint
    of the verified head is signed."""
    st = state(ctx)
    context = st.context()
    anchors = dict(_anchor(a) for a in anchor or [])
    with progress_bar("verifying audit chain", total=None) as bar:
        task = bar.task_ids[0]
        verdict = verification.check(
            context, st.settings, anchors, progress=lambda n: bar.update(task, completed=n)
        )
    latest = verdict.checkpoint
    result = {**verdict.report.__dict__, "checkpoint": latest.as_dict() if latest else None}
    if not verdict.report.ok:
        if st.json:
            st.emit(result)
        # Report first: recording the verdict appends to the chain, which may be what is broken.
        verification.record_verdict(context, verdict.report.summary())
        raise IntegrityError(verdict.report.summary())
    st.emit(result, lambda r: st.console.print(f"[green]✓[/green] {verdict.summary()}"))
    verification.record_verdict(context, verdict.report.summary())
    verification.sign_checkpoint(context, st.settings)


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
    project: Annotated[str | None, typer.Option(help="Only this project's events.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this user's events.")] = None,
    since: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
            help="Only events at or after this time (UTC).",
        ),
    ] = None,
) -> None:
    """Export events, one per line, as JSON Lines or CEF for a SIEM.

    Filters combine (all must hold). When the signing key is readable, a checkpoint of the head
    is signed afterwards."""
    st = state(ctx)
    context = st.context()
    since = since.replace(tzinfo=dt.UTC) if since else None
    chosen = {"after": after, "project": project, "actor": actor, "since": since}
    with context.transaction(Action.AUDIT_EXPORT) as tx:  # audited before anything leaves
        shown = ", ".join(f"{k} {v}" for k, v in chosen.items() if v)
        tx.audit(f"exported audit events ({shown or 'all'}) as {fmt.value}")
    context.store.chain_audit(durable=True)  # PostgreSQL: the chain so far, on disk
    with context.store.session() as session:  # one snapshot, this export's own event included
        found = log.events(session, after=after, project=project, actor=actor, since=since)
        lines = export_lines(found, fmt)
        if output is None:
            for line in lines:
                sys.stdout.write(line + "\n")
        else:
            count = _write_export(lines, output)
    verification.sign_checkpoint(context, st.settings)
    if output is not None:
        st.done(f"wrote {count} events to {output}", {"events": count, "output": str(output)})


def _write_export(lines: Iterator[str], output: Path) -> int:
    """Write ``lines`` to ``output`` whole or not at all; how many were written."""
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
    return count


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
        # details as an object, not the canonical string the chain hashes (export keeps that)
        [{**r.as_dict(), "details": json.loads(r.details)} for r in found],
        lambda _: st.table(
            "Audit events",
            ["seq", "time (UTC)", "actor", "action", "project", "dataset", "decision", "reason"],
            [
                (
                    r.seq,
                    r.time[:19],
                    _who(r),
                    r.action,
                    r.project,
                    r.dataset,
                    r.decision,
                    r.reason,
                )
                for r in found
            ],
            wrap="reason",
        ),
    )


def _who(event: log.AuditRecord) -> str:
    """The account, and the OS account that acted when it was another (root's ``--as``, a hub
    token)."""
    os_account = json.loads(event.details).get("os_account")
    return event.actor if os_account in (None, event.actor) else f"{event.actor} (by {os_account})"
