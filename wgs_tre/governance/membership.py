"""Is this user an active member of this project, right now? The check every data access and
every session spawn makes first; the refusal names which condition failed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from wgs_tre.errors import AccessRefused, NotFound, Reason
from wgs_tre.governance.projects import latest_application, latest_approval
from wgs_tre.governance.views import effective_state
from wgs_tre.policy import Policies
from wgs_tre.store.models import Approval, Project, User
from wgs_tre.types import Action, ApprovalState, UserState

__all__ = ["AccessRefused", "Reason", "check_active_member"]


_STATE_REASONS = {
    ApprovalState.EXPIRED: Reason.EXPIRED,
    ApprovalState.SUSPENDED: Reason.SUSPENDED,
    ApprovalState.REVOKED: Reason.REVOKED,
}


def check_active_member(
    session: Session, policies: Policies, username: str, slug: str, when: dt.datetime
) -> tuple[User, Project, Approval]:
    """Return the user, project and approval, or raise :class:`AccessRefused` (or NotFound)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.state is not UserState.ACTIVE:
        raise AccessRefused(Reason.UNKNOWN_USER, username)
    if not policies.roles.allows(user.roles, Action.DATA_ACCESS):
        raise AccessRefused(Reason.ROLE_NOT_ALLOWED, f"{username} may not data.access")
    project = session.scalar(select(Project).where(Project.slug == slug))
    if project is None:
        raise NotFound("project", slug)
    approval = latest_approval(session, project)
    application = latest_application(session, project)
    people = approval.members if approval else application.members if application else []
    if all(member.id != user.id for member in people):
        raise AccessRefused(Reason.NOT_A_MEMBER, f"{username} in {slug}")
    if approval is None:
        raise AccessRefused(Reason.NO_APPROVAL, slug)
    state = effective_state(approval, when)
    if state in _STATE_REASONS:
        raise AccessRefused(_STATE_REASONS[state], slug)
    return user, project, approval
