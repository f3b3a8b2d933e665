"""Resources' own rules: what decides an action on one resource once the role policy allows it.

``policies/roles.yaml`` says whether a role may do an action at all; a rule says whether this
user may do it to this resource now: is alice an active member of lung-cancer's approval, is sam
free of conflicts with its application and has the committee voted enough. A rule returns what it
looked at (the operation then works on the same rows) or raises: :class:`AccessRefused` (or a
subclass) with a reason code, :class:`NotFound`, :class:`InvalidTransition`.

:data:`wgs_tre.governance.authority.RULES` names the rule of each action; adding a governed
resource (a case report, an output request) is a rule here and a line there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from wgs_tre.errors import (
    AccessRefused,
    AlreadyExists,
    ConflictOfInterest,
    NotFound,
    QuorumNotMet,
    Reason,
)
from wgs_tre.governance.lookup import get_project, latest_application, latest_approval
from wgs_tre.governance.transitions import APPLICATION, APPROVAL, INGRESS, OUTPUT_REQUEST, REPORT
from wgs_tre.governance.views import effective_state
from wgs_tre.policy import Policies
from wgs_tre.store.models import (
    Application,
    Approval,
    Case,
    CaseReport,
    IngressRequest,
    OutputRequest,
    Project,
    User,
)
from wgs_tre.types import Action, ApprovalState, Role, Vote

__all__ = [
    "CaseAccess",
    "ProjectAccess",
    "Rule",
    "active_member",
    "approval_step",
    "case_step",
    "conflict_of_interest",
    "decider",
    "ingress_step",
    "lead",
    "project_member_ids",
    "request_conflict",
    "request_step",
    "voter",
]

# (session, policies, user, resource name, now) -> what the rule found
Rule = Callable[[Session, Policies, User, str, dt.datetime], object]

_NO_MAX_DAYS = "the review policy sets no maximum approval length (review.yaml max_approval_days)"
_STATE_REASONS = {
    ApprovalState.EXPIRED: Reason.EXPIRED,
    ApprovalState.SUSPENDED: Reason.SUSPENDED,
    ApprovalState.REVOKED: Reason.REVOKED,
}


@dataclass(frozen=True)
class ProjectAccess:
    """A member's way in: the project and the approval in force."""

    project: Project
    approval: Approval


def active_member(
    session: Session, policies: Policies, user: User, slug: str, when: dt.datetime
) -> ProjectAccess:
    """The user is a member of the project's approval, and the approval is in force."""
    project = get_project(session, slug)
    approval = latest_approval(session, project)
    application = latest_application(session, project)
    people = approval.members if approval else application.members if application else []
    if all(member.id != user.id for member in people):
        raise AccessRefused(Reason.NOT_A_MEMBER, f"{user.username} in {slug}")
    if approval is None:
        raise AccessRefused(Reason.NO_APPROVAL, slug)
    state = effective_state(approval, when)
    if state in _STATE_REASONS:
        raise AccessRefused(_STATE_REASONS[state], slug)
    return ProjectAccess(project, approval)


def lead(
    session: Session, policies: Policies, user: User, slug: str, when: dt.datetime
) -> Application:
    """The user leads the project, whose application can still be withdrawn."""
    project = get_project(session, slug)
    if project.lead_id != user.id:
        raise AccessRefused(Reason.NOT_THE_LEAD, f"{project.lead.username} leads {slug}")
    return _application_at(session, project, Action.APPLICATION_WITHDRAW)


def conflict_of_interest(steward: User, application: Application) -> str | None:
    """Why this steward may not review this application, or None."""
    project = application.project
    if steward.id == project.lead_id or any(m.id == steward.id for m in application.members):
        return f"{steward.username} is a member of project {project.slug}"
    if steward.organisation_id is not None and steward.organisation_id == project.organisation_id:
        org = project.organisation.name
        return f"{steward.username} belongs to the applicant's organisation ({org})"
    return None


def _application_at(session: Session, project: Project, action: Action) -> Application:
    application = latest_application(session, project)
    if application is None:
        raise NotFound("application for project", project.slug)
    APPLICATION.next(application.state, action, project.slug)  # raises unless allowed
    return application


def _reviewable(session: Session, user: User, slug: str, action: Action) -> Application:
    application = _application_at(session, get_project(session, slug), action)
    conflict = conflict_of_interest(user, application)
    if conflict:
        raise ConflictOfInterest(conflict)
    return application


def voter(
    session: Session, policies: Policies, user: User, slug: str, when: dt.datetime
) -> Application:
    """A steward without conflicts who has not voted on the application in review."""
    application = _reviewable(session, user, slug, Action.APPLICATION_VOTE)
    if any(v.steward_id == user.id for v in application.votes):
        raise AlreadyExists(f"vote of {user.username} on", slug)
    return application


def tally(policies: Policies, application: Application) -> tuple[int, int, int]:
    """(quorum, approving, rejecting), once the quorum of ``policies/review.yaml`` is met."""
    quorum = policies.review.quorum
    if quorum is None:
        raise QuorumNotMet("the review policy sets no quorum, so nothing can be decided")
    approvals = sum(v.vote is Vote.APPROVE for v in application.votes)
    rejections = sum(v.vote is Vote.REJECT for v in application.votes)
    if approvals + rejections < quorum:
        raise QuorumNotMet(f"{approvals + rejections} of the {quorum} votes needed have been cast")
    return quorum, approvals, rejections


def decider(action: Action) -> Rule:
    """Approving or rejecting: a steward without conflicts, and the votes decide it that way."""
    approving = action is Action.APPLICATION_APPROVE

    def rule(
        session: Session, policies: Policies, user: User, slug: str, when: dt.datetime
    ) -> Application:
        application = _reviewable(session, user, slug, action)
        if approving and policies.review.max_approval_days is None:
            raise AccessRefused(Reason.POLICY_UNSET, _NO_MAX_DAYS)
        _, approvals, rejections = tally(policies, application)
        if (approvals <= rejections) if approving else (rejections < approvals):
            verb = "approve" if approving else "reject"
            raise QuorumNotMet(
                f"{approvals} approving and {rejections} rejecting votes: no majority to {verb}"
            )
        return application

    return rule


def approval_step(action: Action) -> Rule:
    """A step in the approval's life cycle that its state allows now."""

    def rule(
        session: Session, policies: Policies, user: User, slug: str, when: dt.datetime
    ) -> Approval:
        if action is Action.APPROVAL_RENEW and policies.review.max_approval_days is None:
            raise AccessRefused(Reason.POLICY_UNSET, _NO_MAX_DAYS)
        approval = latest_approval(session, get_project(session, slug))
        if approval is None:
            raise NotFound("approval for project", slug)
        APPROVAL.next(effective_state(approval, when), action)  # raises unless allowed
        return approval

    return rule


@dataclass(frozen=True)
class CaseAccess:
    """A case and its report (None before the first version is generated)."""

    case: Case
    report: CaseReport | None


# What the programme's stewards do to any hospital's case; everything else on a case only its
# own hospital's people do (sign-off is granted to the expert panel alone, by the role policy).
_ANY_HOSPITAL_FOR_STEWARDS = {Action.REPORT_GENERATE, Action.REPORT_SUBMIT}


def case_step(action: Action) -> Rule:
    """An action on a case's report: the case exists, the user is of its hospital (stewards
    generate and submit for any), and the report's state allows the step."""

    def rule(
        session: Session, policies: Policies, user: User, ref: str, when: dt.datetime
    ) -> CaseAccess:
        case = session.query(Case).filter_by(ref=ref).one_or_none()
        if case is None:
            raise NotFound("case", ref)
        steward = Role.STEWARD in user.roles and action in _ANY_HOSPITAL_FOR_STEWARDS
        if not steward and user.organisation_id != case.hospital_id:
            raise AccessRefused(Reason.OTHER_HOSPITAL, f"{ref} is a case of {case.hospital.name}")
        report = session.query(CaseReport).filter_by(case_id=case.id).one_or_none()
        if report is None and action is not Action.REPORT_GENERATE:
            raise NotFound("report for case", ref)
        if report is not None and action is not Action.REPORT_VIEW:
            REPORT.next(report.state, action, ref)  # raises unless the step is allowed
        return CaseAccess(case, report)

    return rule


# What only the requester does to an output request; what only stewards free of conflicts do
# (reviewing once per submission, and releasing).
_REQUESTER_STEPS = {Action.AIRLOCK_ADD_FILE, Action.AIRLOCK_SUBMIT, Action.AIRLOCK_WITHDRAW}
_REVIEW_STEPS = {Action.AIRLOCK_APPROVE, Action.AIRLOCK_REQUEST_CHANGES, Action.AIRLOCK_REJECT}
_STEWARD_STEPS = _REVIEW_STEPS | {Action.AIRLOCK_RELEASE}


def project_member_ids(session: Session, project: Project) -> set[int]:
    """Everyone who belongs to the project: its lead, and the members of its latest
    application and approval (an amended approval may differ from the application)."""
    ids = {project.lead_id}
    for record in (latest_application(session, project), latest_approval(session, project)):
        if record is not None:
            ids |= {member.id for member in record.members}
    return ids


def request_conflict(
    session: Session, steward: User, request: OutputRequest | IngressRequest
) -> str | None:
    """Why this steward may not review this output (or ingress) request, or None: they made
    it, belong to its project, or (as for the project's application) to the applicant's
    organisation."""
    project = request.project
    if steward.id == request.requester_id:
        kind = "output" if isinstance(request, OutputRequest) else "ingress"
        return f"{steward.username} made {kind} request {request.ref}"
    if steward.id in project_member_ids(session, project):
        return f"{steward.username} is a member of project {project.slug}"
    application = latest_application(session, project)
    return conflict_of_interest(steward, application) if application else None


def request_step(action: Action) -> Rule:
    """An action on an output request: the request exists; the requester alone adds files,
    submits (while still an active member of the project) and withdraws; a steward free of
    conflicts reviews, once per submission, and releases; the project's active members
    download what was released; its members and stewards view it; and the request's state
    allows the step (:data:`OUTPUT_REQUEST`)."""

    def rule(
        session: Session, policies: Policies, user: User, ref: str, when: dt.datetime
    ) -> OutputRequest:
        request = session.query(OutputRequest).filter_by(ref=ref).one_or_none()
        if request is None:
            raise NotFound("output request", ref)
        slug = request.project.slug
        if action in _REQUESTER_STEPS:
            if user.id != request.requester_id:
                detail = f"{request.requester.username} made output request {ref}"
                raise AccessRefused(Reason.NOT_THE_REQUESTER, detail)
            if action is not Action.AIRLOCK_WITHDRAW:
                active_member(session, policies, user, slug, when)
        elif action in _STEWARD_STEPS:
            conflict = request_conflict(session, user, request)
            if conflict:
                raise ConflictOfInterest(conflict)
            mine = [r for r in request.reviews if r.submission == request.submission]
            if action in _REVIEW_STEPS and any(r.steward_id == user.id for r in mine):
                raise AccessRefused(
                    Reason.ALREADY_REVIEWED,
                    f"{user.username} on submission {request.submission} of {ref}",
                )
        elif action is Action.AIRLOCK_DOWNLOAD:
            active_member(session, policies, user, slug, when)
        elif Role.STEWARD not in user.roles and user.id not in project_member_ids(
            session, request.project
        ):
            raise AccessRefused(Reason.NOT_A_MEMBER, f"{user.username} in {slug}")
        if action is not Action.AIRLOCK_VIEW:
            OUTPUT_REQUEST.next(request.state, action, ref)  # raises unless allowed
        return request

    return rule


def ingress_step(action: Action) -> Rule:
    """An action on a file brought in (an ingress request): it exists; a steward free of
    conflicts (:func:`request_conflict`) admits or refuses it while its state allows
    (:data:`INGRESS`); its project's members and the stewards view it."""

    def rule(
        session: Session, policies: Policies, user: User, ref: str, when: dt.datetime
    ) -> IngressRequest:
        request = session.query(IngressRequest).filter_by(ref=ref).one_or_none()
        if request is None:
            raise NotFound("ingress request", ref)
        if action is Action.AIRLOCK_VIEW_IN:
            if Role.STEWARD not in user.roles and user.id not in project_member_ids(
                session, request.project
            ):
                raise AccessRefused(
                    Reason.NOT_A_MEMBER, f"{user.username} in {request.project.slug}"
                )
            return request
        conflict = request_conflict(session, user, request)
        if conflict:
            raise ConflictOfInterest(conflict)
        INGRESS.next(request.state, action, ref)  # raises unless allowed
        return request

    return rule
