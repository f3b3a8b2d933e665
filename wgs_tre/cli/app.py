"""The root ``wgs-tre`` command: global options, ``init``, and the command groups."""

from __future__ import annotations

from typing import Annotated

import typer

from wgs_tre.cli import audit, compute, consent, datasets, hub, ingest, projects, store, users
from wgs_tre.cli.common import State, default_actor, state
from wgs_tre.cli.demo_data import demo_data
from wgs_tre.governance.users import bootstrap_admin

app = typer.Typer(
    name="wgs-tre",
    help=(
        "Govern a trusted research environment for whole-genome data: accounts, datasets, "
        "project applications and their review, consent, and the audit log.\n\n"
        "Settings come from WGS_TRE_* environment variables (WGS_TRE_DATA_DIR, "
        "WGS_TRE_DATABASE_URL, WGS_TRE_POLICY_DIR) or a TOML file named by WGS_TRE_CONFIG."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(users.app, name="users")
app.add_typer(users.orgs_app, name="orgs")
app.add_typer(datasets.app, name="datasets")
app.add_typer(projects.app, name="projects")
app.add_typer(consent.app, name="consent")
app.add_typer(audit.app, name="audit")
app.add_typer(ingest.app, name="ingest")
app.add_typer(store.app, name="store")
app.add_typer(hub.app, name="hub")
app.add_typer(compute.app, name="compute")
app.command("demo-data")(demo_data)


@app.callback()
def root(
    ctx: typer.Context,
    actor: Annotated[
        str,
        typer.Option(
            "--as",
            envvar="WGS_TRE_USER",
            help="Act as this TRE user (default: your login name). Every action is audited "
            "under this name and checked against its roles.",
            show_default=False,
        ),
    ] = "",
    json: Annotated[
        bool, typer.Option("--json", help="Print results as JSON, for scripts.")
    ] = False,
) -> None:
    # main() may hand in its State (as ``obj``) to learn how to report an error.
    st = ctx.obj if isinstance(ctx.obj, State) else State()
    st.actor, st.json = actor or default_actor(), json
    ctx.obj = st


@app.command()
def init(
    ctx: typer.Context,
    admin: Annotated[
        str | None,
        typer.Option(help="Create this first admin account if the store has no users yet."),
    ] = None,
) -> None:
    """Create the governance store, or upgrade its schema; optionally add the first admin."""
    st = state(ctx)
    st.store.upgrade()
    message = f"governance store ready at {st.store.location}"
    created = None
    if admin:
        created = bootstrap_admin(st.store, admin, by=f"os:{default_actor()}")
        message += f"; first admin {created.username} created"
    st.done(message, {"store": st.store.location, "admin": created})
