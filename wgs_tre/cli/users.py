"""``wgs-tre users`` and ``wgs-tre orgs``: accounts, roles and organisations."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from wgs_tre.cli.common import state
from wgs_tre.governance import users as ops
from wgs_tre.governance.views import UserView
from wgs_tre.types import OrgType, Role, UserState

app = typer.Typer(help="User accounts and their roles.", no_args_is_help=True)
orgs_app = typer.Typer(
    help=f"Organisations; their type ({', '.join(OrgType)}) decides what consents allow their "
    "projects.",
    no_args_is_help=True,
)


def _show(user: UserView) -> str:
    roles = ", ".join(user.roles) or "no roles"
    org = f", {user.organisation}" if user.organisation else ""
    return f"{user.username} ({roles}{org}; {user.state})"


@app.command("create")
def create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name (lower-case, as for unix).")],
    role: Annotated[
        list[Role], typer.Option("--role", "-r", help="A role to grant; repeat for several.")
    ],
    org: Annotated[str | None, typer.Option(help="The user's organisation.")] = None,
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    email: Annotated[str, typer.Option(help="E-mail address.")] = "",
    pending: Annotated[
        bool, typer.Option(help="Create the account pending a steward's approval.")
    ] = False,
) -> None:
    """Create a user account (admin)."""
    st = state(ctx)
    user = ops.create_user(
        st.context(),
        username,
        roles=set(role),
        organisation=org,
        full_name=name,
        email=email,
        active=not pending,
    )
    st.done(f"created {_show(user)}", user)


@app.command("list")
def list_(
    ctx: typer.Context,
    role: Annotated[Role | None, typer.Option(help="Only accounts holding this role.")] = None,
    user_state: Annotated[
        UserState | None, typer.Option("--state", help="Only accounts in this state.")
    ] = None,
) -> None:
    """List user accounts (steward or admin)."""
    st = state(ctx)
    found = ops.list_users(st.context(), role=role, state=user_state)
    st.emit(
        found,
        lambda rows: st.table(
            "Users",
            ["user", "name", "organisation", "roles", "state"],
            [(u.username, u.full_name, u.organisation, ", ".join(u.roles), u.state) for u in rows],
        ),
    )


@app.command("approve")
def approve(ctx: typer.Context, username: str) -> None:
    """Activate a pending account, or re-enable a disabled one (steward or admin)."""
    st = state(ctx)
    user = ops.approve_user(st.context(), username)
    st.done(f"{_show(user)}", user)


@app.command("disable")
def disable(ctx: typer.Context, username: str) -> None:
    """Disable an account: it can no longer act or sign in (admin)."""
    st = state(ctx)
    user = ops.disable_user(st.context(), username)
    st.done(f"{_show(user)}", user)


@app.command("grant")
def grant(ctx: typer.Context, username: str, role: Role) -> None:
    """Grant a role to a user (admin)."""
    st = state(ctx)
    user = ops.grant_role(st.context(), username, role)
    st.done(f"{_show(user)}", user)


@orgs_app.command("create")
def create_org(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Organisation name.")],
    org_type: Annotated[OrgType, typer.Option("--type", help="Organisation type.")],
) -> None:
    """Register an organisation; its type decides what consents allow its projects."""
    st = state(ctx)
    org = ops.create_organisation(st.context(), name, org_type)
    st.done(f"created organisation {org.name} ({org.org_type})", org)


@orgs_app.command("list")
def list_orgs(ctx: typer.Context) -> None:
    """List organisations, their type and how many accounts each has (steward or admin)."""
    st = state(ctx)
    context = st.context()
    orgs = ops.list_organisations(context)
    members = Counter(u.organisation for u in ops.list_users(context))
    found = [{"name": o.name, "org_type": o.org_type, "accounts": members[o.name]} for o in orgs]
    st.emit(
        found,
        lambda rows: st.table(
            "Organisations",
            ["organisation", "type", "accounts"],
            [(o["name"], o["org_type"], o["accounts"]) for o in rows],
        ),
    )
