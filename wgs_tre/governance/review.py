"""The data-use review committee: steward votes, quorum, and the decision.

A steward who is a member (or the lead) of the application, or who belongs to the applicant's
organisation, has a conflict of interest and may neither vote nor decide. An application is
approved when at least ``quorum`` eligible votes were cast and more approve than reject; rejected
when the quorum is met and rejecting votes are at least as many. Both numbers come from
``policies/review.yaml``; without them nothing can be approved. These rules are
:mod:`wgs_tre.governance.rules`, which the one authorisation decision applies (so a dashboard
asking ``ctx.can(Action.APPLICATION_APPROVE, project=slug)`` gets the same answer).
"""

from __future__ import annotations

import datetime as dt

from wgs_tre.governance.context import Context
from wgs_tre.governance.projects import project_view
from wgs_tre.governance.rules import tally
from wgs_tre.governance.transitions import APPLICATION
from wgs_tre.governance.views import ProjectView
from wgs_tre.store.models import Application, Approval, ReviewVote
from wgs_tre.types import Action, ApprovalState, Vote

__all__ = ["approve", "reject", "vote"]


def vote(ctx: Context, slug: str, choice: Vote, comment: str = "") -> ProjectView:
    with ctx.transaction(Action.APPLICATION_VOTE, project=slug) as tx:
        application: Application = tx.found  # under review, no conflict, not yet voted
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


def _end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def approve(ctx: Context, slug: str, reason: str = "") -> ProjectView:
    """Record the committee's approval and grant the approval (datasets, members, expiry)."""
    with ctx.transaction(Action.APPLICATION_APPROVE, project=slug) as tx:
        application: Application = tx.found  # the votes approve it (governance.rules)
        max_days = ctx.policies.review.max_approval_days
        assert max_days is not None  # the rule refuses without one
        quorum, approvals, rejections = tally(ctx.policies, application)
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
        application: Application = tx.found  # the votes reject it (governance.rules)
        quorum, approvals, rejections = tally(ctx.policies, application)
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
