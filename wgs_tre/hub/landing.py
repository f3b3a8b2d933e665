"""What a signed-in person's TRE page shows, read from the governance store: their account and
roles; a researcher's projects, each with its status and either an open button or the reason it
cannot be opened, and the outputs the airlock released from them (each file a download); a
steward's work waiting (applications to vote on, output requests to review, files brought in
to admit, approvals ending, recent consent withdrawals, the audit chain's last verification); an
expert-panel member's reports awaiting review at their hospital. Reading is not deciding:
nothing here is audited (the spawner decides, and audits, when a session is asked for)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from wgs_tre.audit import AuditRecord, events
from wgs_tre.consent import registry
from wgs_tre.consent.impact import flagged_models
from wgs_tre.governance import Context, cases, projects, users
from wgs_tre.governance.authority import Resource, why_not
from wgs_tre.governance.lookup import find_user
from wgs_tre.governance.rules import request_conflict
from wgs_tre.governance.views import ProjectView
from wgs_tre.hub.refusals import Explanation, explain
from wgs_tre.policy import Policies
from wgs_tre.store import Store
from wgs_tre.store.models import IngressRequest, OutputRequest, Project, utcnow
from wgs_tre.types import (
    Action,
    ApprovalState,
    IngressState,
    OutputRequestState,
    ProjectStatus,
    ReportState,
    Role,
    UserState,
)

__all__ = ["EXPIRING_DAYS", "RECENT_DAYS", "Landing", "ProjectEntry", "ReleaseEntry", "landing_for"]

EXPIRING_DAYS = 30  # a steward's page counts approvals that end within this many days
RECENT_DAYS = 30  # and consent withdrawals recorded within this many days
_REVIEWABLE = (OutputRequestState.SUBMITTED, OutputRequestState.IN_REVIEW)


@dataclass(frozen=True)
class ProjectEntry:
    slug: str
    title: str
    status: str  # ProjectStatus value
    expires: dt.date | None  # of the approval, when there is one
    refusal: Explanation | None  # None: the person may open a session now


@dataclass(frozen=True)
class ReleaseEntry:
    """An output request the airlock released from one of the researcher's projects."""

    ref: str
    project: str
    purpose: str
    released_at: dt.datetime
    files: tuple[str, ...]


@dataclass(frozen=True)
class Landing:
    username: str
    active: bool
    roles: tuple[str, ...]
    projects: tuple[ProjectEntry, ...] = ()  # researchers: the projects they belong to
    released: tuple[ReleaseEntry, ...] = ()  # and what the airlock released from them
    airlock_waiting: int = 0  # stewards: output requests they may review now
    ingress_waiting: int = 0  # stewards: files brought in that they may admit or refuse now
    in_review: int = 0  # stewards: applications awaiting the committee
    awaiting_vote: tuple[str, ...] = ()  # stewards: of those, the ones they may vote on now
    expiring: int = 0  # stewards: active approvals ending within EXPIRING_DAYS
    withdrawals: int | None = None  # stewards: participants who withdrew within RECENT_DAYS
    models_flagged: int | None = None  # stewards: registered models a later withdrawal flagged
    audit_readable: bool = False  # stewards: whether their roles may read the audit log
    last_verify: AuditRecord | None = None  # and, if so, the chain's last verification
    awaiting_review: int | None = None  # panel members: their hospital's reports in review

    def has(self, role: Role | str) -> bool:
        return Role(role).value in self.roles


def _belongs(view: ProjectView, username: str) -> bool:
    people = {view.lead}
    for part in (view.application, view.approval):
        if part is not None:
            people.update(part.members)
    return username in people


def _entry(store: Store, policies: Policies, username: str, view: ProjectView) -> ProjectEntry:
    refusal = why_not(store, policies, username, Action.SESSION_START, Resource.project(view.slug))
    return ProjectEntry(
        view.slug,
        view.title,
        view.status,
        view.approval.expires_at.date() if view.approval else None,
        explain(view.slug, refusal) if refusal else None,
    )


def landing_for(store: Store, policies: Policies, username: str) -> Landing:
    account = users.account_of(store, username)
    if account is None or account.state != UserState.ACTIVE.value:
        return Landing(username, active=False, roles=())
    roles = tuple(account.roles)
    held = frozenset(Role(r) for r in roles)
    visible: list[ProjectView] = []
    if policies.roles.allows(held, Action.PROJECT_LIST):
        visible = projects.list_projects(Context(store, policies, username))
    mine: tuple[ProjectEntry, ...] = ()
    if policies.roles.allows(held, Action.SESSION_START):
        mine = tuple(_entry(store, policies, username, v) for v in visible if _belongs(v, username))
    page = Landing(username, True, roles, mine, _released(store, {p.slug for p in mine}))
    if Role.EXPERT_PANEL in held and policies.roles.allows(held, Action.CASE_LIST):
        awaiting = _awaiting_review(store, policies, username)
        page = dataclasses.replace(page, awaiting_review=awaiting)
    if Role.STEWARD not in held:
        return page
    return _stewards_page(page, store, policies, held, visible)


def _released(store: Store, slugs: set[str]) -> tuple[ReleaseEntry, ...]:
    """The released output requests of these projects, the newest first."""
    if not slugs:
        return ()
    with store.session() as session:
        rows = session.scalars(
            select(OutputRequest)
            .join(Project, OutputRequest.project_id == Project.id)
            .where(Project.slug.in_(slugs), OutputRequest.state == OutputRequestState.RELEASED)
            .order_by(OutputRequest.updated_at.desc())
        )
        return tuple(
            ReleaseEntry(
                r.ref, r.project.slug, r.purpose, r.updated_at, tuple(f.name for f in r.files)
            )
            for r in rows
        )


def _airlock_waiting(store: Store, username: str) -> int:
    """Output requests submitted or in review that this steward may review now: not one they
    are conflicted on (``request_conflict``) or have reviewed in its current submission."""
    with store.session() as session:
        steward = find_user(session, username)
        if steward is None:
            return 0
        waiting = session.scalars(select(OutputRequest).where(OutputRequest.state.in_(_REVIEWABLE)))
        return sum(
            request_conflict(session, steward, r) is None
            and not any(
                v.steward_id == steward.id and v.submission == r.submission for v in r.reviews
            )
            for r in waiting
        )


def _ingress_waiting(store: Store, username: str) -> int:
    """Files brought in, pending, that this steward is free of conflicts to decide."""
    with store.session() as session:
        steward = find_user(session, username)
        if steward is None:
            return 0
        pending = session.scalars(
            select(IngressRequest).where(IngressRequest.state == IngressState.PENDING)
        )
        return sum(request_conflict(session, steward, r) is None for r in pending)


def _awaiting_review(store: Store, policies: Policies, username: str) -> int:
    """Reports of the member's hospital in review (``cases.list_cases``: their hospital's)."""
    listed = cases.list_cases(Context(store, policies, username))
    return sum(case.state is ReportState.IN_REVIEW for case in listed)


def _stewards_page(
    page: Landing,
    store: Store,
    policies: Policies,
    held: frozenset[Role],
    visible: list[ProjectView],
) -> Landing:
    """What awaits a steward; each part only if the policy lets their roles read it (asking
    otherwise would be a refusal, and audited as one)."""
    now = utcnow()
    in_review = [v.slug for v in visible if v.status == ProjectStatus.IN_REVIEW]
    votable = tuple(
        slug
        for slug in in_review
        if why_not(store, policies, page.username, Action.APPLICATION_VOTE, Resource.project(slug))
        is None
    )
    horizon = now + dt.timedelta(days=EXPIRING_DAYS)
    expiring = sum(
        v.approval is not None
        and v.approval.state == ApprovalState.ACTIVE
        and v.approval.expires_at <= horizon
        for v in visible
    )
    withdrawals = verified = models_flagged = None
    if policies.roles.allows(held, Action.CONSENT_READ):
        ctx = Context(store, policies, page.username)
        withdrawals = registry.withdrawals_since(ctx, now - dt.timedelta(days=RECENT_DAYS))
    if policies.roles.allows(held, Action.CONSENT_READ) and policies.roles.allows(
        held, Action.MODEL_LIST
    ):
        with store.session() as session:
            models_flagged = len(flagged_models(session))
    airlock_waiting = (
        _airlock_waiting(store, page.username)
        if policies.roles.allows(held, Action.AIRLOCK_APPROVE)
        else 0
    )
    ingress_waiting = (
        _ingress_waiting(store, page.username)
        if policies.roles.allows(held, Action.AIRLOCK_ADMIT)
        else 0
    )
    audit_readable = policies.roles.allows(held, Action.AUDIT_READ)
    if audit_readable:
        with store.session() as session:
            verified = next(events(session, action=Action.AUDIT_VERIFY.value, last=1), None)
    return dataclasses.replace(
        page,
        in_review=len(in_review),
        awaiting_vote=votable,
        expiring=expiring,
        airlock_waiting=airlock_waiting,
        ingress_waiting=ingress_waiting,
        withdrawals=withdrawals,
        models_flagged=models_flagged,
        audit_readable=audit_readable,
        last_verify=verified,
    )
