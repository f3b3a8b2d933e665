"""Finding governed records by the names people use: queries only, no decisions, no audit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wgs_tre.errors import NotFound
from wgs_tre.store.models import Application, Approval, Project, User

__all__ = ["find_user", "get_project", "get_user", "latest_application", "latest_approval"]


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def get_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound("user", username)
    return user


def get_project(session: Session, slug: str) -> Project:
    project = session.scalar(select(Project).where(Project.slug == slug))
    if project is None:
        raise NotFound("project", slug)
    return project


def latest_application(session: Session, project: Project) -> Application | None:
    return session.scalar(
        select(Application)
        .where(Application.project_id == project.id)
        .order_by(Application.id.desc())
        .limit(1)
    )


def latest_approval(session: Session, project: Project) -> Approval | None:
    return session.scalar(
        select(Approval)
        .where(Approval.project_id == project.id)
        .order_by(Approval.id.desc())
        .limit(1)
    )
