"""Projects and their applications to the data-use review committee.

A researcher applies with a purpose (DUO), an ethics approval reference, the dataset versions
wanted, the members and a requested expiry. The project takes the applicant's organisation (and
so its organisation type, which consent checks use).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from wgs_tre.duo import Purpose
from wgs_tre.errors import AlreadyExists, InvalidInput, NotFound
from wgs_tre.governance.context import Context, Tx
from wgs_tre.governance.datasets import get_version
from wgs_tre.governance.lookup import get_project, get_user, latest_application, latest_approval
from wgs_tre.governance.transitions import APPLICATION
from wgs_tre.governance.views import ProjectView
from wgs_tre.store.models import Application, Project, User
from wgs_tre.types import Action, ApplicationState, Role, UserState

__all__ = [
    "apply",
    "get_project",
    "latest_application",
    "latest_approval",
    "list_projects",
    "open_session",
    "project_view",
    "resolve_members",
    "show_project",
    "withdraw",
]

# Project slugs name JupyterHub servers and unix groups later, so keep them tame.
SLUG = re.compile(r"^[a-z][a-z0-9-]{2,39}$")


def project_view(tx: Tx, project: Project) -> ProjectView:
    application = latest_application(tx.session, project)
    approval = latest_approval(tx.session, project)
    return ProjectView.of(project, application, approval, tx.now)


def resolve_members(session: Session, usernames: list[str], lead: User) -> list[User]:
    members = {lead.username: lead}
    for name in usernames:
        user = get_user(session, name)
        if user.state is not UserState.ACTIVE:
            raise InvalidInput(f"member {name!r}", f"account is {user.state.value}")
        if Role.RESEARCHER not in user.roles:
            raise InvalidInput(f"member {name!r}", "only researchers can be project members")
        members[name] = user
    return sorted(members.values(), key=lambda u: u.username)


def apply(
    ctx: Context,
    slug: str,
    *,
    title: str,
    purpose: Purpose,
    ethics_ref: str,
    datasets: list[str],
    members: list[str],
    expiry: dt.date,
) -> ProjectView:
    """Create project ``slug`` and submit its application for review."""
    if not SLUG.match(slug):
        raise InvalidInput(
            f"project {slug!r}",
            "use 3-40 lower-case letters, digits or '-', starting with a letter",
        )
    if not title.strip():
        raise InvalidInput("title", "must not be empty")
    if not ethics_ref.strip():
        raise InvalidInput("ethics reference", "an ethics approval reference is required")
    if not datasets:
        raise InvalidInput("datasets", "request at least one dataset version")
    with ctx.transaction(Action.PROJECT_APPLY, project=slug) as tx:
        if expiry <= tx.now.date():
            raise InvalidInput("expiry", f"{expiry} is not in the future")
        if tx.session.scalar(select(Project).where(Project.slug == slug)):
            raise AlreadyExists("project", slug)
        if tx.user.organisation is None:
            raise InvalidInput(
                f"applicant {tx.user.username}", "has no organisation; ask an admin to set one"
            )
        versions = [get_version(tx.session, label, in_use=True) for label in datasets]
        project = Project(
            slug=slug,
            title=title,
            purpose_code=purpose.code,
            purpose_disease=purpose.disease,
            organisation=tx.user.organisation,
            ethics_ref=ethics_ref,
            lead=tx.user,
            created_at=tx.now,
        )
        application = Application(
            project=project,
            state=ApplicationState.SUBMITTED,
            requested_expiry=expiry,
            submitted_by=tx.user.id,
            submitted_at=tx.now,
            dataset_versions=versions,
            members=resolve_members(tx.session, members, tx.user),
        )
        tx.session.add_all([project, application])
        tx.session.flush()
        tx.audit(
            f"applied for {', '.join(v.label for v in versions)} for {purpose}",
            details={
                "application": application.id,
                "datasets": [v.label for v in versions],
                "members": [u.username for u in application.members],
                "expiry": expiry.isoformat(),
                "ethics_ref": ethics_ref,
            },
        )
        return project_view(tx, project)


def withdraw(ctx: Context, slug: str, reason: str = "") -> ProjectView:
    """The project lead withdraws an application still in review."""
    with ctx.transaction(Action.APPLICATION_WITHDRAW, project=slug) as tx:
        application: Application = tx.found  # the lead's, still in review (governance.rules)
        project = application.project
        application.state = APPLICATION.next(application.state, Action.APPLICATION_WITHDRAW)
        application.decided_at = tx.now
        application.decision_reason = reason or "withdrawn by the lead"
        tx.audit(application.decision_reason, details={"application": application.id})
        return project_view(tx, project)


def open_session(ctx: Context, slug: str) -> None:
    """Allow (and audit) the actor starting a session of ``slug``: an active member of an
    approval in force. The hub's spawner asks this before anything starts."""
    with ctx.transaction(Action.SESSION_START, project=slug) as tx:
        tx.audit("member of an approved project")


def visible(tx: Tx, ctx: Context, project: Project) -> bool:
    """May the actor see ``project``: roles that read all, its lead, its members."""
    if ctx.policies.roles.allows(tx.user.roles, Action.PROJECT_READ_ALL):
        return True
    if project.lead_id == tx.user.id:
        return True
    application = latest_application(tx.session, project)
    approval = latest_approval(tx.session, project)
    people = (application.members if application else []) + (approval.members if approval else [])
    return any(u.id == tx.user.id for u in people)


def list_projects(ctx: Context) -> list[ProjectView]:
    """Every project for roles granted ``project.read_all``; otherwise the actor's own."""
    with ctx.transaction(Action.PROJECT_LIST, audited=False) as tx:
        projects = tx.session.scalars(select(Project).order_by(Project.slug))
        return [project_view(tx, p) for p in projects if visible(tx, ctx, p)]


def show_project(ctx: Context, slug: str) -> ProjectView:
    with ctx.transaction(Action.PROJECT_LIST, audited=False, project=slug) as tx:
        project = get_project(tx.session, slug)
        if not visible(tx, ctx, project):
            raise NotFound("project", slug)  # do not reveal that it exists
        return project_view(tx, project)
