"""Organisations and user accounts with roles.

New accounts start ``pending`` unless created active by an admin; a steward or admin approves
them (the hub's sign-up flow in a later layer uses the same path).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wgs_tre.audit import append
from wgs_tre.errors import AlreadyExists, InvalidInput, NotFound
from wgs_tre.governance.context import Context
from wgs_tre.governance.lookup import find_user, get_user
from wgs_tre.governance.transitions import USER
from wgs_tre.governance.views import OrganisationView, UserView
from wgs_tre.store import Store
from wgs_tre.store.models import Organisation, User, UserRole, utcnow
from wgs_tre.types import Action, OrgType, Role, UserState

__all__ = [
    "account_of",
    "approve_user",
    "bootstrap_admin",
    "create_organisation",
    "create_user",
    "disable_user",
    "get_organisation",
    "grant_role",
    "list_organisations",
    "list_users",
    "register_signup",
]

# Unix-account friendly, because hub sessions run as per-user system accounts.
USERNAME = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise InvalidInput(
            f"username {username!r}",
            "use 2-32 lower-case letters, digits, '_' or '-', starting with a letter",
        )
    return username


def get_organisation(session: Session, name: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        raise NotFound("organisation", name)
    return org


def create_organisation(ctx: Context, name: str, org_type: OrgType) -> OrganisationView:
    if not name.strip():
        raise InvalidInput("organisation name", "must not be empty")
    with ctx.transaction(Action.ORG_CREATE) as tx:
        if tx.session.scalar(select(Organisation).where(Organisation.name == name)):
            raise AlreadyExists("organisation", name)
        org = Organisation(name=name, org_type=org_type)
        tx.session.add(org)
        tx.audit(f"created organisation {name} ({org_type.value})")
        return OrganisationView.of(org)


def create_user(
    ctx: Context,
    username: str,
    *,
    roles: set[Role],
    organisation: str | None = None,
    full_name: str = "",
    email: str = "",
    active: bool = True,
) -> UserView:
    check_username(username)
    with ctx.transaction(Action.USER_CREATE) as tx:
        if tx.session.scalar(select(User).where(User.username == username)):
            raise AlreadyExists("user", username)
        org = get_organisation(tx.session, organisation) if organisation else None
        user = User(
            username=username,
            full_name=full_name,
            email=email,
            organisation=org,
            state=UserState.ACTIVE if active else UserState.PENDING,
            created_at=tx.now,
            role_rows=[UserRole(role=r) for r in sorted(roles)],
        )
        tx.session.add(user)
        role_list = ", ".join(sorted(r.value for r in roles)) or "no roles"
        tx.audit(f"created user {username} ({role_list}; {user.state.value})")
        return UserView.of(user)


def _change_state(ctx: Context, username: str, action: Action) -> UserView:
    with ctx.transaction(action) as tx:
        user = get_user(tx.session, username)
        before = user.state
        user.state = USER.next(user.state, action)
        tx.audit(f"user {username}: {before.value} -> {user.state.value}")
        return UserView.of(user)


def approve_user(ctx: Context, username: str) -> UserView:
    """Activate a pending (or re-enable a disabled) account."""
    return _change_state(ctx, username, Action.USER_APPROVE)


def disable_user(ctx: Context, username: str) -> UserView:
    return _change_state(ctx, username, Action.USER_DISABLE)


def grant_role(ctx: Context, username: str, role: Role) -> UserView:
    with ctx.transaction(Action.USER_GRANT_ROLE) as tx:
        user = get_user(tx.session, username)
        if role in user.roles:
            raise AlreadyExists(f"role of {username}", role.value)
        user.role_rows.append(UserRole(role=role))
        tx.audit(f"granted {role.value} to {username}")
        return UserView.of(user)


def list_users(
    ctx: Context, *, role: Role | None = None, state: UserState | None = None
) -> list[UserView]:
    """Accounts, optionally only those holding ``role`` or in ``state``."""
    with ctx.transaction(Action.USER_LIST, audited=False) as tx:
        users = tx.session.scalars(select(User).order_by(User.username))
        views = [UserView.of(u) for u in users]
    return [
        v
        for v in views
        if (role is None or role.value in v.roles) and (state is None or v.state == state.value)
    ]


def account_of(store: Store, username: str) -> UserView | None:
    """The account of ``username`` (state and roles), for pages showing people their own; no
    permission is needed to read one's own account, so nothing is decided or audited."""
    with store.session() as session:
        user = find_user(session, username)
        return UserView.of(user) if user else None


def list_organisations(ctx: Context) -> list[OrganisationView]:
    """Every organisation (who may list accounts may list these)."""
    with ctx.transaction(Action.USER_LIST, audited=False) as tx:
        orgs = tx.session.scalars(select(Organisation).order_by(Organisation.name))
        return [OrganisationView.of(o) for o in orgs]


def register_signup(store: Store, username: str) -> UserView:
    """Record a self-service sign-up: a pending account with no roles, until a steward or admin
    approves it (``wgs-tre users approve``) and an admin grants roles. Idempotent."""
    check_username(username)
    with store.session() as session:
        existing = session.scalar(select(User).where(User.username == username))
        if existing is not None:
            return UserView.of(existing)
        user = User(username=username, state=UserState.PENDING, created_at=utcnow(), role_rows=[])
        session.add(user)
        append(session, actor=f"signup:{username}", action=Action.USER_CREATE,
               reason="self-service sign-up, pending approval")  # fmt: skip
        return UserView.of(user)


def bootstrap_admin(
    store: Store, username: str, *, by: str, witness: Mapping[str, str] | None = None
) -> UserView:
    """Create the first admin of an empty store; ``by`` names who ran the bootstrap and
    ``witness`` (audit details) how that was established."""
    check_username(username)
    with store.session() as session:
        if session.scalar(select(func.count()).select_from(User)):
            raise AlreadyExists("store with users; the first admin", username)
        user = User(
            username=username,
            state=UserState.ACTIVE,
            created_at=utcnow(),
            role_rows=[UserRole(role=Role.ADMIN)],
        )
        session.add(user)
        append(
            session,
            actor=by,
            action=Action.USER_CREATE,
            reason=f"bootstrap: first admin {username}",
            details=witness,
        )
        return UserView.of(user)
