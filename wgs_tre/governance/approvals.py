"""Approvals after the decision: suspend, reinstate, revoke, renew, expire, amend membership.

An approval past its expiry counts as expired for every step (see ``effective_state``), whether or
not :func:`expire_due` has recorded it yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from wgs_tre.errors import InvalidInput
from wgs_tre.governance.context import Context, Tx
from wgs_tre.governance.projects import project_view, resolve_members
from wgs_tre.governance.transitions import APPROVAL
from wgs_tre.governance.views import ProjectView, effective_state
from wgs_tre.store.models import Approval
from wgs_tre.types import Action, ApprovalState

__all__ = [
    "amend_members",
    "expire_due",
    "reinstate",
    "renew",
    "revoke",
    "suspend",
]


def _step(tx: Tx, action: Action) -> Approval:
    """Take the step on the approval the rule found (it checked the step is allowed)."""
    approval: Approval = tx.found
    approval.state = APPROVAL.next(effective_state(approval, tx.now), action)
    return approval


def _simple(ctx: Context, slug: str, action: Action, reason: str) -> ProjectView:
    with ctx.transaction(action, project=slug) as tx:
        approval = _step(tx, action)
        tx.audit(reason, details={"approval": approval.id, "state": approval.state.value})
        return project_view(tx, approval.project)


def suspend(ctx: Context, slug: str, reason: str) -> ProjectView:
    """Pause access (e.g. during an investigation); ``reinstate`` resumes it."""
    return _simple(ctx, slug, Action.APPROVAL_SUSPEND, reason)


def reinstate(ctx: Context, slug: str, reason: str) -> ProjectView:
    return _simple(ctx, slug, Action.APPROVAL_REINSTATE, reason)


def revoke(ctx: Context, slug: str, reason: str) -> ProjectView:
    """End access for good; a revoked approval cannot be renewed."""
    return _simple(ctx, slug, Action.APPROVAL_REVOKE, reason)


def renew(ctx: Context, slug: str, until: dt.date, reason: str = "") -> ProjectView:
    with ctx.transaction(Action.APPROVAL_RENEW, project=slug) as tx:
        max_days = ctx.policies.review.max_approval_days
        assert max_days is not None  # the rule refuses without one
        latest = (tx.now + dt.timedelta(days=max_days)).date()
        if until <= tx.now.date():
            raise InvalidInput("renew until", f"{until} is not in the future")
        if until > latest:
            raise InvalidInput(
                "renew until",
                f"{until} is beyond the policy maximum of {max_days} days (latest: {latest})",
            )
        approval = _step(tx, Action.APPROVAL_RENEW)
        approval.expires_at = dt.datetime.combine(until, dt.time(23, 59, 59), tzinfo=dt.UTC)
        tx.audit(
            reason or f"renewed until {until}",
            details={"approval": approval.id, "expires_at": approval.expires_at.isoformat()},
        )
        return project_view(tx, approval.project)


def amend_members(
    ctx: Context, slug: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
) -> ProjectView:
    if not add and not remove:
        raise InvalidInput("members", "name at least one member to add or remove")
    with ctx.transaction(Action.APPROVAL_AMEND_MEMBERS, project=slug) as tx:
        approval = _step(tx, Action.APPROVAL_AMEND_MEMBERS)
        lead = approval.project.lead
        current = {u.username: u for u in approval.members}
        for name in remove:
            if name == lead.username:
                raise InvalidInput(f"member {name!r}", "the project lead cannot be removed")
            if current.pop(name, None) is None:
                raise InvalidInput(f"member {name!r}", f"is not a member of {slug}")
        for user in resolve_members(tx.session, list(add), lead):
            current[user.username] = user
        approval.members = sorted(current.values(), key=lambda u: u.username)
        tx.audit(
            "amended membership",
            details={"approval": approval.id, "added": sorted(add), "removed": sorted(remove)},
        )
        return project_view(tx, approval.project)


def expire_due(ctx: Context) -> list[str]:
    """Record every approval whose time has run out as expired; return the project slugs."""
    with ctx.transaction(Action.APPROVAL_EXPIRE, audited=False) as tx:
        due = tx.session.scalars(
            select(Approval).where(
                Approval.state.in_([ApprovalState.ACTIVE, ApprovalState.SUSPENDED]),
                Approval.expires_at <= tx.now,
            )
        ).all()
        for approval in due:
            approval.state = APPROVAL.next(approval.state, Action.APPROVAL_EXPIRE)
            tx.project = approval.project.slug
            tx.audit(
                f"expired at {approval.expires_at.isoformat()}",
                details={"approval": approval.id},
            )
        return [a.project.slug for a in due]
