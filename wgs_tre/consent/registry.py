"""The consent registry: importing FHIR Consent files, and asking who may be used for what.

An import is all or nothing: every resource in the file is validated first, then everything is
written in one transaction with its audit events. The same file (by SHA-256) cannot be imported
twice; a Consent id and version already stored from another file is refused too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from wgs_tre import duo
from wgs_tre.consent.fhir import ConsentFacts, read_consents
from wgs_tre.consent.rules import in_force, latest_at, permits_use
from wgs_tre.errors import AlreadyImported, InvalidInput, NotFound
from wgs_tre.governance.context import Context
from wgs_tre.store.models import ConsentImport, ConsentRecord, Participant
from wgs_tre.types import Action, OrgType

__all__ = [
    "ConsentStatus",
    "ImportReport",
    "history",
    "import_file",
    "latest_by_participant",
    "participant_status",
    "permitted_participants",
    "status_summary",
    "withdrawals_since",
]


@dataclass(frozen=True)
class ImportReport:
    file: str
    sha256: str
    consents: int
    withdrawals: int
    new_participants: int


def import_file(ctx: Context, path: Path) -> ImportReport:
    """Validate every Consent in ``path`` and store them all, or nothing."""
    ctx.check(Action.CONSENT_IMPORT)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(str(path), exc.strerror or "cannot read") from None
    sha256 = hashlib.sha256(data).hexdigest()
    facts = read_consents(path, data)
    with ctx.transaction(Action.CONSENT_IMPORT) as tx:
        earlier = tx.session.scalar(select(ConsentImport).where(ConsentImport.sha256 == sha256))
        if earlier is not None:
            raise AlreadyImported(
                path.name,
                f"this file was already imported on {earlier.imported_at:%Y-%m-%d %H:%M} UTC "
                f"as {earlier.filename} (sha256 {sha256[:12]}…); nothing was changed",
            )
        _refuse_stored_versions(tx.session, facts)
        known = set(tx.session.scalars(select(Participant.id)))
        new = sorted({f.participant for f in facts} - known)
        tx.session.add_all(Participant(id=p) for p in new)
        batch = ConsentImport(
            sha256=sha256,
            filename=path.name,
            imported_by=tx.user.id,
            imported_at=tx.now,
            record_count=len(facts),
        )
        tx.session.add(batch)
        tx.session.flush()
        records = [_record(f, batch.id) for f in facts]
        tx.session.add_all(records)
        tx.session.flush()
        withdrawals = [r for r in records if r.withdrawn]
        for record in withdrawals:
            # The record id lets a steward find the participant; the log never names them.
            tx.audit(
                "consent withdrawn",
                action=Action.CONSENT_WITHDRAWAL,
                details={"consent_record": record.id, "import": batch.id},
            )
        tx.audit(
            f"imported {len(records)} consent records from {path.name}",
            details={
                "import": batch.id,
                "sha256": sha256,
                "records": len(records),
                "withdrawals": len(withdrawals),
                "newly_registered": len(new),
            },
        )
        return ImportReport(path.name, sha256, len(records), len(withdrawals), len(new))


def _refuse_stored_versions(session: Session, facts: list[ConsentFacts]) -> None:
    ids = {f.fhir_id for f in facts}
    stored = {
        (fhir_id, version)
        for fhir_id, version in session.execute(
            select(ConsentRecord.fhir_id, ConsentRecord.fhir_version).where(
                ConsentRecord.fhir_id.in_(ids)
            )
        )
    }
    for fact in facts:
        if (fact.fhir_id, fact.fhir_version) in stored:
            raise AlreadyImported(
                fact.where,
                f"Consent/{fact.fhir_id} version {fact.fhir_version} is already in the "
                "registry; a changed consent needs a new version (meta.versionId)",
            )


def _record(fact: ConsentFacts, import_id: int) -> ConsentRecord:
    return ConsentRecord(
        participant_id=fact.participant,
        fhir_id=fact.fhir_id,
        fhir_version=fact.fhir_version,
        recorded=fact.recorded,
        status=fact.status,
        withdrawn=fact.withdrawn,
        permissions=sorted(fact.permissions),
        modifiers=sorted(fact.modifiers),
        diseases=sorted(fact.diseases),
        recontact=fact.recontact,
        valid_from=fact.valid_from,
        valid_until=fact.valid_until,
        import_id=import_id,
        resource=fact.resource,
    )


def _versions_in_registry_order(
    session: Session, participant: str | None = None
) -> Iterator[ConsentRecord]:
    # The stored FHIR resource is for history and audit, not for deciding: leave it unloaded.
    query = (
        select(ConsentRecord)
        .options(defer(ConsentRecord.resource))
        .order_by(ConsentRecord.participant_id, ConsentRecord.id)
    )
    if participant is not None:
        query = query.where(ConsentRecord.participant_id == participant)
    yield from session.scalars(query.execution_options(yield_per=5000))


def latest_by_participant(session: Session, at: dt.datetime) -> dict[str, ConsentRecord | None]:
    """For every participant, the consent version that applies at ``at`` (None: none yet)."""
    latest: dict[str, ConsentRecord | None] = {
        p: None for p in session.scalars(select(Participant.id))
    }
    current: list[ConsentRecord] = []
    for record in _versions_in_registry_order(session):
        if current and current[0].participant_id != record.participant_id:
            latest[current[0].participant_id] = latest_at(current, at)
            current = []
        current.append(record)
    if current:
        latest[current[0].participant_id] = latest_at(current, at)
    return latest


def permitted_participants(
    session: Session, purpose: duo.Purpose, org_type: OrgType, at: dt.datetime
) -> set[str]:
    """Internal ids of the participants whose consent at ``at`` permits this use.

    Only the gate (and the steward's CLI) call this; the ids never leave the governance side.
    """
    return {
        participant
        for participant, version in latest_by_participant(session, at).items()
        if permits_use(version, purpose, org_type, at)
    }


@dataclass(frozen=True)
class ConsentStatus:
    participants: int
    no_consent: int
    withdrawn: int
    in_force: int
    permitted: int | None  # for the asked purpose and organisation type, if any
    # with every_use: {purpose short code: {organisation type: usable participants}}
    by_use: dict[str, dict[str, int]] | None = None


# The purposes a project may declare that need no disease (DS is counted per disease asked).
EVERY_USE = sorted(
    duo.TERMS[code].short for code in duo.PURPOSE_CODES if duo.TERMS[code].short != "DS"
)


def status_summary(
    ctx: Context,
    *,
    purpose: duo.Purpose | None = None,
    org_type: OrgType | None = None,
    at: dt.datetime | None = None,
    every_use: bool = False,
) -> ConsentStatus:
    """Counts over the cohort; with a purpose and organisation type, how many may be used;
    with ``every_use``, that count for every purpose in :data:`EVERY_USE` and organisation
    type at once."""
    if (purpose is None) != (org_type is None):
        raise InvalidInput("status", "give both a purpose and an organisation type, or neither")
    with ctx.transaction(Action.CONSENT_READ, audited=False) as tx:
        when = at or tx.now
        latest = latest_by_participant(tx.session, when)
        versions = [v for v in latest.values() if v is not None]

        def usable(use: duo.Purpose, kind: OrgType) -> int:
            return sum(permits_use(v, use, kind, when) for v in versions)

        permitted = None
        if purpose is not None and org_type is not None:
            permitted = usable(purpose, org_type)
        by_use = None
        if every_use:
            by_use = {
                short: {kind.value: usable(duo.Purpose.parse(short), kind) for kind in OrgType}
                for short in EVERY_USE
            }
        return ConsentStatus(
            participants=len(latest),
            no_consent=len(latest) - len(versions),
            withdrawn=sum(v.withdrawn for v in versions),
            in_force=sum(in_force(v, when) for v in versions),
            permitted=permitted,
            by_use=by_use,
        )


@dataclass(frozen=True)
class ConsentVersion:
    fhir_id: str
    fhir_version: str
    recorded: dt.datetime
    status: str
    withdrawn: bool
    permissions: list[str]
    modifiers: list[str]
    diseases: list[str]
    recontact: bool | None
    applies_now: bool

    @classmethod
    def of(cls, record: ConsentRecord, applies: bool) -> ConsentVersion:
        return cls(
            record.fhir_id,
            record.fhir_version,
            record.recorded,
            record.status,
            record.withdrawn,
            list(record.permissions),
            list(record.modifiers),
            list(record.diseases),
            record.recontact,
            applies,
        )


def withdrawals_since(ctx: Context, since: dt.datetime) -> int:
    """How many participants recorded a withdrawal at or after ``since`` (a count, for the
    steward's page; who they are is ``consent history``, which is audited)."""
    with ctx.transaction(Action.CONSENT_READ, audited=False) as tx:
        withdrawn = select(ConsentRecord.participant_id).where(
            ConsentRecord.withdrawn, ConsentRecord.recorded >= since
        )
        return len(set(tx.session.scalars(withdrawn)))


def history(ctx: Context, participant: str) -> list[ConsentVersion]:
    """Every consent version of a participant, oldest first, marking the one that applies now."""
    with ctx.transaction(Action.CONSENT_READ) as tx:
        if tx.session.get(Participant, participant) is None:
            raise NotFound("participant", participant)
        records = list(_versions_in_registry_order(tx.session, participant))
        current = latest_at(records, tx.now)
        tx.audit("read a participant's consent history", details={"versions": len(records)})
        return [ConsentVersion.of(r, r is current) for r in records]


def participant_status(
    ctx: Context, participant: str, purpose: duo.Purpose, org_type: OrgType, at: dt.datetime
) -> bool:
    with ctx.transaction(Action.CONSENT_READ) as tx:
        if tx.session.get(Participant, participant) is None:
            raise NotFound("participant", participant)
        records = list(_versions_in_registry_order(tx.session, participant))
        allowed = permits_use(latest_at(records, at), purpose, org_type, at)
        tx.audit(f"checked one participant's consent for {purpose}")
        return allowed
