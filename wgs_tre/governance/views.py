"""Read-only snapshots of governance objects, safe to use after their transaction ends.

Operations return these instead of ORM rows; the CLI prints them as tables or ``--json``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from wgs_tre.duo import TERMS
from wgs_tre.store.models import (
    Application,
    Approval,
    DatasetVersion,
    Organisation,
    Project,
    User,
)
from wgs_tre.types import ApplicationState, ApprovalState, ProjectStatus

__all__ = [
    "ApplicationView",
    "ApprovalView",
    "DatasetVersionView",
    "OrganisationView",
    "ProjectView",
    "UserView",
    "effective_state",
]


def effective_state(approval: Approval, now: dt.datetime) -> ApprovalState:
    """An approval past its expiry is expired, whether or not the sweep has recorded it yet."""
    if approval.state in (ApprovalState.ACTIVE, ApprovalState.SUSPENDED) and (
        approval.expires_at <= now
    ):
        return ApprovalState.EXPIRED
    return approval.state


@dataclass(frozen=True)
class OrganisationView:
    name: str
    org_type: str

    @classmethod
    def of(cls, org: Organisation) -> OrganisationView:
        return cls(org.name, org.org_type.value)


@dataclass(frozen=True)
class UserView:
    username: str
    full_name: str
    email: str
    organisation: str | None
    roles: list[str]
    state: str

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            user.username,
            user.full_name,
            user.email,
            user.organisation.name if user.organisation else None,
            sorted(r.value for r in user.roles),
            user.state.value,
        )


@dataclass(frozen=True)
class DatasetVersionView:
    name: str
    version: int
    kind: str
    uri: str
    checksum: str
    size_bytes: int
    files: int
    registered_at: dt.datetime
    retired_at: dt.datetime | None = None
    retired_reason: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def of(cls, dv: DatasetVersion) -> DatasetVersionView:
        return cls(
            dv.dataset.name,
            dv.version,
            dv.dataset.kind.value,
            dv.uri,
            dv.checksum,
            dv.size_bytes,
            len(dv.manifest),
            dv.registered_at,
            dv.retirement.retired_at if dv.retirement else None,
            dv.retirement.reason if dv.retirement else None,
        )


@dataclass(frozen=True)
class VoteView:
    steward: str
    vote: str
    comment: str


@dataclass(frozen=True)
class ApplicationView:
    id: int
    project: str
    state: str
    requested_expiry: dt.date
    datasets: list[str]
    members: list[str]
    votes: list[VoteView]
    submitted_at: dt.datetime
    decided_at: dt.datetime | None
    decision_reason: str | None

    @classmethod
    def of(cls, app: Application) -> ApplicationView:
        return cls(
            app.id,
            app.project.slug,
            app.state.value,
            app.requested_expiry,
            [dv.label for dv in app.dataset_versions],
            [u.username for u in app.members],
            [VoteView(v.steward.username, v.vote.value, v.comment) for v in app.votes],
            app.submitted_at,
            app.decided_at,
            app.decision_reason,
        )


@dataclass(frozen=True)
class ApprovalView:
    id: int
    project: str
    state: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    datasets: list[str]
    members: list[str]

    @classmethod
    def of(cls, approval: Approval, now: dt.datetime) -> ApprovalView:
        return cls(
            approval.id,
            approval.project.slug,
            effective_state(approval, now).value,
            approval.granted_at,
            approval.expires_at,
            [dv.label for dv in approval.dataset_versions],
            [u.username for u in approval.members],
        )


@dataclass(frozen=True)
class ProjectView:
    slug: str
    title: str
    purpose: str
    purpose_label: str
    disease: str | None
    organisation: str
    org_type: str
    ethics_ref: str
    lead: str
    status: str
    application: ApplicationView | None
    approval: ApprovalView | None

    @classmethod
    def of(
        cls,
        project: Project,
        application: Application | None,
        approval: Approval | None,
        now: dt.datetime,
    ) -> ProjectView:
        approval_view = ApprovalView.of(approval, now) if approval else None
        if approval_view:
            status = approval_view.state
        elif application:
            submitted = application.state is ApplicationState.SUBMITTED
            status = ProjectStatus.IN_REVIEW.value if submitted else application.state.value
        else:
            status = ProjectStatus.DRAFT.value
        return cls(
            project.slug,
            project.title,
            project.purpose_code,
            TERMS[project.purpose_code].label,
            project.purpose_disease,
            project.organisation.name,
            project.organisation.org_type.value,
            project.ethics_ref,
            project.lead.username,
            status,
            ApplicationView.of(application) if application else None,
            approval_view,
        )
