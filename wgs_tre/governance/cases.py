"""Cases and their reports: who sees which case under which identifier, and the review steps.

A case is a participant with sequenced samples, registered by a steward for the hospital that
sent them, with the hospital's own patient id. That id is shown to the hospital's own people
(its expert panel) and to no one else: a steward's case list leaves it out, and the research
side never sees it (it is not in any dataset).

A report's content is built elsewhere (:mod:`wgs_tre.reports`); here it is stored as a new
version (never an edit), and moved through the review (:data:`~wgs_tre.governance.transitions.
REPORT`) by governed, audited steps. Viewing a report is audited too. The rule deciding every
step is :func:`wgs_tre.governance.rules.case_step`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import func, select

from wgs_tre.errors import InvalidInput, NotFound
from wgs_tre.governance.authority import Resource
from wgs_tre.governance.context import Context, Tx
from wgs_tre.governance.datasets import get_version
from wgs_tre.governance.refs import random_ref
from wgs_tre.governance.rules import CaseAccess
from wgs_tre.governance.transitions import REPORT, verb
from wgs_tre.store.models import Case, CaseReport, Organisation, Participant, ReportNote
from wgs_tre.store.models import ReportVersion as VersionRow
from wgs_tre.types import Action, CaseKind, ReportState, Role

__all__ = [
    "CaseEntry",
    "CaseSubject",
    "CaseSummary",
    "ReportDocument",
    "VersionInfo",
    "add_version",
    "case_subject",
    "comment",
    "content_sha256",
    "export",
    "list_cases",
    "register_cases",
    "return_report",
    "sign_off",
    "submit",
    "view",
]

MAX_NOTE = 4000  # characters in a comment or a return's reasons


@dataclass(frozen=True)
class CaseEntry:
    """A case as its hospital's records give it (see ``wgs_tre.reports.cases``)."""

    participant: str
    hospital_patient_id: str
    diagnosis: str  # ICD-10 code
    where: str = ""  # where it was read, for errors

    @property
    def kind(self) -> CaseKind:
        return CaseKind.CANCER if self.diagnosis.startswith("C") else CaseKind.RARE_DISEASE


@dataclass(frozen=True)
class CaseSummary:
    """A line of a case list. ``hospital_patient_id`` is None unless the reader is of the
    case's hospital."""

    ref: str
    hospital: str
    hospital_patient_id: str | None
    kind: CaseKind
    diagnosis: str
    state: ReportState | None  # None: no report generated yet
    versions: int
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class VersionInfo:
    number: int
    sha256: str
    author: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Note:
    version: int
    kind: str  # comment, return, sign_off
    text: str
    author: str
    written_at: dt.datetime


@dataclass(frozen=True)
class ReportDocument:
    """A report as its hospital's panel sees it: the case under the hospital's identifier, the
    review state, all versions, the notes, and one version's content."""

    case: CaseSummary
    state: ReportState
    versions: list[VersionInfo]
    notes: list[Note]
    version: int
    content: dict[str, Any]

    @property
    def signed_off(self) -> Note | None:
        return next((n for n in self.notes if n.kind == verb(Action.REPORT_SIGN_OFF)), None)


def content_sha256(content: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _new_ref(taken: set[str]) -> str:
    return random_ref("C", taken)


def register_cases(ctx: Context, hospital: str, entries: Sequence[CaseEntry]) -> list[str]:
    """Register ``hospital``'s cases; returns the new cases' references. A case already
    registered the same way is left as it is; any conflict refuses the whole import."""
    with ctx.transaction(Action.CASE_REGISTER) as tx:
        org = tx.session.scalars(select(Organisation).filter_by(name=hospital)).one_or_none()
        if org is None:
            raise NotFound("organisation", hospital)
        known = set(tx.session.scalars(select(Participant.id)))
        existing = {c.participant_id: c for c in tx.session.scalars(select(Case))}
        by_mrn = {(c.hospital_id, c.hospital_patient_id): c for c in existing.values()}
        taken = {c.ref for c in existing.values()}
        added: list[str] = []
        for entry in entries:
            _check_entry(entry, org, known, existing, by_mrn)
            if entry.participant in existing:
                continue  # registered before, identically
            ref = _new_ref(taken)
            taken.add(ref)
            case = Case(
                ref=ref,
                participant_id=entry.participant,
                hospital_id=org.id,
                hospital_patient_id=entry.hospital_patient_id,
                kind=entry.kind,
                diagnosis=entry.diagnosis,
                registered_by=tx.user.id,
                registered_at=tx.now,
            )
            tx.session.add(case)
            existing[entry.participant] = by_mrn[(org.id, entry.hospital_patient_id)] = case
            added.append(ref)
        tx.audit(
            f"{len(added)} cases of {hospital} registered",
            details={"hospital": hospital, "added": len(added), "given": len(entries)},
        )
        return added


def _check_entry(
    entry: CaseEntry,
    org: Organisation,
    known: set[str],
    existing: dict[str, Case],
    by_mrn: dict[tuple[int, str], Case],
) -> None:
    where = entry.where or entry.hospital_patient_id
    if not entry.hospital_patient_id or not entry.diagnosis:
        raise InvalidInput(where, "a case needs the hospital's patient id and a diagnosis code")
    if entry.participant not in known:
        raise InvalidInput(where, "this patient is not a participant of the programme")
    before = existing.get(entry.participant)
    if before is not None and (before.hospital_id, before.hospital_patient_id) != (
        org.id,
        entry.hospital_patient_id,
    ):
        raise InvalidInput(
            where, f"the participant is already case {before.ref} of {before.hospital.name}"
        )
    other = by_mrn.get((org.id, entry.hospital_patient_id))
    if other is not None and other.participant_id != entry.participant:
        raise InvalidInput(where, f"this patient id is already case {other.ref}")


def _sees_patient_ids(reader_org: int | None, case: Case) -> bool:
    return reader_org is not None and reader_org == case.hospital_id


def _summary(
    case: Case, report: CaseReport | None, org_id: int | None, versions: int
) -> CaseSummary:
    return CaseSummary(
        ref=case.ref,
        hospital=case.hospital.name,
        hospital_patient_id=case.hospital_patient_id if _sees_patient_ids(org_id, case) else None,
        kind=case.kind,
        diagnosis=case.diagnosis,
        state=report.state if report else None,
        versions=versions,
        updated_at=report.updated_at if report else None,
    )


def list_cases(ctx: Context) -> list[CaseSummary]:
    """The cases the actor may see: stewards all (without hospitals' patient ids), everyone
    else their own hospital's."""
    with ctx.transaction(Action.CASE_LIST, audited=False) as tx:
        query = select(Case).order_by(Case.hospital_id, Case.registered_at, Case.ref)
        if Role.STEWARD not in tx.user.roles:
            query = query.where(Case.hospital_id == tx.user.organisation_id)
        cases = list(tx.session.scalars(query))
        reports = {
            r.case_id: r
            for r in tx.session.scalars(
                select(CaseReport).where(CaseReport.case_id.in_([c.id for c in cases]))
            )
        }
        counts = dict(
            tx.session.execute(
                select(VersionRow.report_id, func.count())
                .where(VersionRow.report_id.in_([r.id for r in reports.values()]))
                .group_by(VersionRow.report_id)
            ).all()
        )
        summaries = []
        for case in cases:
            report = reports.get(case.id)
            count = counts.get(report.id, 0) if report else 0
            summaries.append(_summary(case, report, tx.user.organisation_id, count))
        return summaries


@dataclass(frozen=True)
class CaseSubject:
    """What building a case's report reads: the participant's data in the named dataset
    versions. Hub-side only: ``participant`` is an internal id."""

    ref: str
    participant: str
    kind: CaseKind
    diagnosis: str
    variants: str  # label, name@version
    variants_uri: str
    clinical: str | None
    clinical_uri: str | None
    somatic: str | None = None  # the tumour calls, for a cancer case
    somatic_uri: str | None = None

    def __repr__(self) -> str:  # keep the internal id out of logs and tracebacks
        return f"CaseSubject({self.ref}, {self.variants}, {self.clinical}, {self.somatic})"

    @property
    def sources(self) -> list[str]:
        return [s for s in (self.variants, self.clinical, self.somatic) if s]


def case_subject(
    ctx: Context, ref: str, variants: str, clinical: str | None, somatic: str | None = None
) -> CaseSubject:
    """Decide (before the work) that the actor may generate ``ref``'s report now, and resolve
    the dataset versions it is built from (the latest not retired, unless a version is named;
    tumour calls for a cancer case only). A refusal is audited; an allowed check is not (the
    version it makes is)."""
    with _step(ctx, Action.REPORT_GENERATE, ref, audited=False) as tx:
        case = tx.found.case
        genotypes = get_version(tx.session, variants, in_use=True)
        tables = get_version(tx.session, clinical, in_use=True) if clinical else None
        cancer = case.kind is CaseKind.CANCER
        tumour = get_version(tx.session, somatic, in_use=True) if somatic and cancer else None
        return CaseSubject(
            ref=ref,
            participant=case.participant_id,
            kind=case.kind,
            diagnosis=case.diagnosis,
            variants=genotypes.label,
            variants_uri=genotypes.uri,
            clinical=tables.label if tables else None,
            clinical_uri=tables.uri if tables else None,
            somatic=tumour.label if tumour else None,
            somatic_uri=tumour.uri if tumour else None,
        )


def _step(ctx: Context, action: Action, ref: str, *, audited: bool = True) -> Any:
    return ctx.transaction(action, resource=Resource.case(ref), audited=audited)


def add_version(ctx: Context, ref: str, content: dict[str, Any], *, sources: str = "") -> int:
    """Store ``content`` as the case report's next version; returns its number."""
    with _step(ctx, Action.REPORT_GENERATE, ref) as tx:
        found: CaseAccess = tx.found
        report = found.report
        if report is None:
            report = CaseReport(case_id=found.case.id, state=ReportState.DRAFT, updated_at=tx.now)
            tx.session.add(report)
            tx.session.flush()
        else:
            report.state = REPORT.next(report.state, Action.REPORT_GENERATE, ref)
            report.updated_at = tx.now
        number = len(report.versions) + 1
        digest = content_sha256(content)
        tx.session.add(
            VersionRow(
                report_id=report.id,
                number=number,
                content=content,
                sha256=digest,
                created_by=tx.user.id,
                created_at=tx.now,
            )
        )
        tx.dataset = sources[:120] or None
        tx.audit(
            f"version {number} of the report of {ref}",
            details={"case": ref, "version": number, "sha256": digest},
        )
        return number


def _document(tx: Tx, found: CaseAccess, version: int | None) -> ReportDocument:
    report = found.report
    assert report is not None  # the rule refuses a step on a case without a report
    tx.session.refresh(report)
    numbers = [v.number for v in report.versions]
    chosen = numbers[-1] if version is None else version
    if chosen not in numbers:
        raise NotFound(f"version of the report of {found.case.ref}", chosen)
    row = report.versions[numbers.index(chosen)]
    return ReportDocument(
        case=_summary(found.case, report, tx.user.organisation_id, len(report.versions)),
        state=report.state,
        versions=[
            VersionInfo(v.number, v.sha256, v.author.username, v.created_at)
            for v in report.versions
        ],
        notes=[
            Note(n.version, n.kind, n.text, n.author.username, n.written_at) for n in report.notes
        ],
        version=chosen,
        content=dict(row.content),
    )


def view(ctx: Context, ref: str, version: int | None = None) -> ReportDocument:
    """One version of the report (the latest by default); every view is audited."""
    with _step(ctx, Action.REPORT_VIEW, ref) as tx:
        document = _document(tx, tx.found, version)
        tx.audit(
            f"viewed version {document.version}", details={"case": ref, "version": document.version}
        )
        return document


def _review_step(
    ctx: Context, action: Action, ref: str, text: str, *, required: bool
) -> ReportDocument:
    text = text.strip()
    if required and not text:
        raise InvalidInput(
            "text", f"the {verb(action)} is empty: write what the author should know"
        )
    if len(text) > MAX_NOTE:
        raise InvalidInput("text", f"{len(text)} characters; at most {MAX_NOTE}")
    with _step(ctx, action, ref) as tx:
        found: CaseAccess = tx.found
        report = found.report
        assert report is not None
        latest = report.versions[-1].number
        report.state = REPORT.next(report.state, action, ref)
        report.updated_at = tx.now
        if action is not Action.REPORT_SUBMIT:
            tx.session.add(
                ReportNote(
                    report_id=report.id,
                    version=latest,
                    kind=verb(action),
                    text=text,
                    author_id=tx.user.id,
                    written_at=tx.now,
                )
            )
        tx.session.flush()
        tx.audit(
            f"{verb(action)} version {latest}",
            details={"case": ref, "version": latest, "state": report.state.value},
        )
        return _document(tx, found, None)


def submit(ctx: Context, ref: str) -> ReportDocument:
    """Send the latest version for review by the case's hospital's panel."""
    return _review_step(ctx, Action.REPORT_SUBMIT, ref, "", required=False)


def comment(ctx: Context, ref: str, text: str) -> ReportDocument:
    return _review_step(ctx, Action.REPORT_COMMENT, ref, text, required=True)


def return_report(ctx: Context, ref: str, reasons: str) -> ReportDocument:
    """Send the report back to its author with ``reasons``: a new version answers them."""
    return _review_step(ctx, Action.REPORT_RETURN, ref, reasons, required=True)


def sign_off(ctx: Context, ref: str, note: str = "") -> ReportDocument:
    """Sign off the latest version: from then on the report cannot change."""
    return _review_step(ctx, Action.REPORT_SIGN_OFF, ref, note, required=False)


def export(ctx: Context, ref: str) -> ReportDocument:
    """The signed-off version, for a PDF or FHIR export (audited; refused before sign-off)."""
    with _step(ctx, Action.REPORT_EXPORT, ref) as tx:
        document = _document(tx, tx.found, None)
        tx.audit(
            f"exported version {document.version}",
            details={"case": ref, "version": document.version},
        )
        return document
