"""The data-use review committee: steward votes, quorum, and the decision.

A steward who is a member (or the lead) of the application, or who belongs to the applicant's
organisation, has a conflict of interest and may neither vote nor decide. An application is
approved when at least ``quorum`` eligible votes were cast and more approve than reject; rejected
when the quorum is met and rejecting votes are at least as many. Both numbers come from
``policies/review.yaml``; without them nothing can be approved.
"""

from __future__ import annotations

import datetime as dt

from wgs_tre.errors import AlreadyExists, ConflictOfInterest, NotFound, QuorumNotMet, Refused
from wgs_tre.governance.context import Context, Tx
from wgs_tre.governance.projects import get_project, latest_application, project_view
from wgs_tre.governance.transitions import APPLICATION
from wgs_tre.governance.views import ProjectView
from wgs_tre.store.models import Application, Approval, ReviewVote
from wgs_tre.types import Action, ApprovalState, Vote

__all__ = ["approve", "conflict_of_interest", "reject", "vote"]


def conflict_of_interest(tx: Tx, application: Application) -> str | None:
    """Why the acting steward may not review this application, or None."""
    steward = tx.user
    project = application.project
    if steward.id == project.lead_id or any(m.id == steward.id for m in application.members):
        return f"{steward.username} is a member of project {project.slug}"
    if steward.organisation_id is not None and steward.organisation_id == project.organisation_id:
        org = project.organisation.name
        return f"{steward.username} belongs to the applicant's organisation ({org})"
    return None


def _application_under_review(tx: Tx, slug: str, action: Action) -> Application:
    project = get_project(tx.session, slug)
    application = latest_application(tx.session, project)
    if application is None:
        raise NotFound("application for project", slug)
    APPLICATION.next(application.state, action)  # raises unless the step is allowed
    conflict = conflict_of_interest(tx, application)
    if conflict:
        raise ConflictOfInterest(f"conflict of interest: {conflict}")
    return application


def vote(ctx: Context, slug: str, choice: Vote, comment: str = "") -> ProjectView:
    with ctx.transaction(Action.APPLICATION_VOTE, project=slug) as tx:
        application = _application_under_review(tx, slug, Action.APPLICATION_VOTE)
        if any(v.steward_id == tx.user.id for v in application.votes):
            raise AlreadyExists(f"vote of {tx.user.username} on", slug)
        tx.session.add(
            ReviewVote(
                application_id=application.id,
                steward_id=tx.user.id,
                vote=choice,
                comment=comment,
                cast_at=tx.now,
            )
        )
        tx.session.flush()
        tx.session.refresh(application)
        tx.audit(f"voted {choice.value}" + (f": {comment}" if comment else ""))
        return project_view(tx, application.project)


def _tally(ctx: Context, application: Application) -> tuple[int, int, int]:
    quorum = ctx.policies.review.quorum
    if quorum is None:
        raise QuorumNotMet("the review policy sets no quorum, so nothing can be decided")
    approvals = sum(v.vote is Vote.APPROVE for v in application.votes)
    rejections = sum(v.vote is Vote.REJECT for v in application.votes)
    if approvals + rejections < quorum:
        raise QuorumNotMet(f"{approvals + rejections} of the {quorum} votes needed have been cast")
    return quorum, approvals, rejections


def _end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def approve(ctx: Context, slug: str, reason: str = "") -> ProjectView:
    """Record the committee's approval and grant the approval (datasets, members, expiry)."""
    with ctx.transaction(Action.APPLICATION_APPROVE, project=slug) as tx:
        application = _application_under_review(tx, slug, Action.APPLICATION_APPROVE)
        max_days = ctx.policies.review.max_approval_days
        if max_days is None:
            raise Refused("the review policy sets no maximum approval length")
        quorum, approvals, rejections = _tally(ctx, application)
        if approvals <= rejections:
            raise QuorumNotMet(
                f"{approvals} approving and {rejections} rejecting votes: no majority to approve"
            )
        expires = min(_end_of_day(application.requested_expiry), tx.now + dt.timedelta(max_days))
        application.state = APPLICATION.next(application.state, Action.APPLICATION_APPROVE)
        application.decided_at = tx.now
        application.decision_reason = reason or f"approved {approvals}-{rejections}"
        approval = Approval(
            project=application.project,
            application_id=application.id,
            state=ApprovalState.ACTIVE,
            granted_at=tx.now,
            expires_at=expires,
            dataset_versions=list(application.dataset_versions),
            members=list(application.members),
        )
        tx.session.add(approval)
        tx.session.flush()
        tx.audit(
            application.decision_reason,
            details={
                "application": application.id,
                "approval": approval.id,
                "votes": {"approve": approvals, "reject": rejections, "quorum": quorum},
                "expires_at": expires.isoformat(),
                "datasets": [v.label for v in approval.dataset_versions],
            },
        )
        return project_view(tx, application.project)


def reject(ctx: Context, slug: str, reason: str = "") -> ProjectView:
    with ctx.transaction(Action.APPLICATION_REJECT, project=slug) as tx:
        application = _application_under_review(tx, slug, Action.APPLICATION_REJECT)
        quorum, approvals, rejections = _tally(ctx, application)
        if rejections < approvals:
            raise QuorumNotMet(
                f"{approvals} approving and {rejections} rejecting votes: no majority to reject"
            )
        application.state = APPLICATION.next(application.state, Action.APPLICATION_REJECT)
        application.decided_at = tx.now
        application.decision_reason = reason or f"rejected {rejections}-{approvals}"
        tx.audit(
            application.decision_reason,
            details={
                "application": application.id,
                "votes": {"approve": approvals, "reject": rejections, "quorum": quorum},
            },
        )
        return project_view(tx, application.project)
