"""The gate: the one place that decides whether data reaches a project, and audits the decision.

``decide(user, project, dataset version, purpose)`` returns a :class:`Grant` (what may be
dispensed: the dataset version, the participants whose latest consent permits the project's
purpose and organisation type, and the project's pseudonym key) or raises :class:`AccessRefused`
with one of the :class:`Reason` codes. Either way an audit event ``data.access`` records who, which
project and dataset, the decision and the reason; never participant ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from base64 import b32encode
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wgs_tre.consent.registry import permitted_participants
from wgs_tre.duo import Purpose
from wgs_tre.errors import AccessRefused, Reason
from wgs_tre.governance.context import Context
from wgs_tre.governance.datasets import parse_label, retirement
from wgs_tre.governance.identity import Identity
from wgs_tre.governance.rules import ProjectAccess
from wgs_tre.policy import Policies
from wgs_tre.store import Store
from wgs_tre.store.models import (
    DatasetVersion,
    Project,
    ProjectKey,
    dataset_participant,
    utcnow,
)
from wgs_tre.types import Action, DatasetKind, OrgType

__all__ = ["AccessRefused", "Gate", "Grant", "Reason", "pseudonym"]


@dataclass(frozen=True)
class Grant:
    """What the gate allowed: enough for ``dispense`` to build the view, nothing more."""

    user: str
    project: str
    purpose: Purpose
    org_type: OrgType
    dataset: str  # name@version
    kind: DatasetKind
    uri: str
    participants: frozenset[str]  # internal ids: consented and in the dataset version
    key: bytes  # the project's pseudonym key
    at: dt.datetime

    def __repr__(self) -> str:  # keep ids and the key out of logs and tracebacks
        return f"Grant({self.user}, {self.project}, {self.dataset}, {len(self.participants)})"


def pseudonym(key: bytes, participant: str) -> str:
    """The participant's id in one project: keyed HMAC, stable in the project, unlinkable across."""
    digest = hmac.new(key, participant.encode(), hashlib.sha256).digest()
    return "s" + b32encode(digest[:15]).decode().lower()


@dataclass
class Gate:
    """Data access decisions, through the one authorisation decision (``data.access`` on the
    project: role policy, then active membership of an approval in force), audited in the
    transaction that decides. On the host, ``identity`` (who really runs the process) is
    recorded on each decision; the data service leaves it out (its caller is a session's
    token, checked by the hub)."""

    store: Store
    policies: Policies
    identity: Identity | None = None

    def decide(
        self,
        user: str,
        project: str,
        dataset: str,
        *,
        purpose: Purpose | None = None,
        at: dt.datetime | None = None,
    ) -> Grant:
        """Allow or refuse ``user`` reading ``dataset`` (``name`` or ``name@version``) in
        ``project``; audited either way."""
        when = at or utcnow()
        ctx = Context(self.store, self.policies, user, clock=lambda: when, identity=self.identity)
        with ctx.transaction(Action.DATA_ACCESS, project=project, dataset=dataset) as tx:
            grant = _grant(tx.session, tx.found, user, dataset, purpose, when)
            tx.dataset = grant.dataset
            tx.audit(
                "consented participants of an approved dataset",
                details={"sample_count": len(grant.participants), "purpose": grant.purpose.code},
            )
            return grant

    def approved_datasets(self, user: str, project: str) -> list[tuple[str, str]]:
        """(label, kind) of what ``project``'s approval covers, if ``user`` may see it (a
        refusal is audited; listing is not)."""
        ctx = Context(self.store, self.policies, user, identity=self.identity)
        with ctx.transaction(Action.DATA_ACCESS, project=project, audited=False) as tx:
            access: ProjectAccess = tx.found
            return [(v.label, str(v.dataset.kind)) for v in access.approval.dataset_versions]


def _grant(
    session: Session,
    access: ProjectAccess,
    username: str,
    dataset: str,
    purpose: Purpose | None,
    when: dt.datetime,
) -> Grant:
    project, approval = access.project, access.approval
    name, number = parse_label(dataset)
    approved = [
        v
        for v in approval.dataset_versions
        if v.dataset.name == name and (number is None or v.version == number)
    ]
    if not approved:
        raise AccessRefused(Reason.DATASET_NOT_APPROVED, dataset)
    usable = [v for v in approved if v.retirement is None]
    if not usable:
        # The newest approved one says why (a corrected release is a new version to amend to).
        newest = max(approved, key=lambda v: v.version)
        raise AccessRefused(Reason.DATASET_RETIRED, f"{newest.label} {retirement(newest)}")
    version: DatasetVersion = max(usable, key=lambda v: v.version)
    approved_purpose = Purpose(project.purpose_code, project.purpose_disease)
    if purpose is not None and purpose != approved_purpose:
        raise AccessRefused(
            Reason.PURPOSE_MISMATCH, f"{purpose} asked, {approved_purpose} approved"
        )
    org_type = project.organisation.org_type
    consented = permitted_participants(session, approved_purpose, org_type, when)
    in_version = set(
        session.scalars(
            select(dataset_participant.c.participant_id).where(
                dataset_participant.c.dataset_version_id == version.id
            )
        )
    )
    return Grant(
        user=username,
        project=project.slug,
        purpose=approved_purpose,
        org_type=org_type,
        dataset=version.label,
        kind=version.dataset.kind,
        uri=version.uri,
        participants=frozenset(consented & in_version),
        key=_project_key(session, project, when),
        at=when,
    )


def _project_key(session: Session, project: Project, when: dt.datetime) -> bytes:
    """The project's pseudonym key, created on first use; it never leaves the store."""
    found = session.get(ProjectKey, project.id)
    if found is None:
        found = ProjectKey(project_id=project.id, key=secrets.token_bytes(32), created_at=when)
        session.add(found)
        session.flush()
    return found.key
