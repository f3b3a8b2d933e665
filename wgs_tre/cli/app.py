"""The root ``wgs-tre`` command: global options, ``init``, and the command groups."""

from __future__ import annotations

from importlib.metadata import version as package_version
from typing import Annotated

import typer

from wgs_tre.cli import (
    airlock,
    audit,
    compute,
    consent,
    datasets,
    hub,
    identity,
    ingest,
    models,
    projects,
    reports,
    store,
    users,
)
from wgs_tre.cli.common import State, state
from wgs_tre.cli.demo_data import demo_data
from wgs_tre.errors import ConfigurationError
from wgs_tre.governance.identity import establish
from wgs_tre.governance.users import bootstrap_admin
from wgs_tre.store import Store

app = typer.Typer(
    name="wgs-tre",
    help=(
        "Govern a trusted research environment for whole-genome data: accounts, datasets, "
        "project applications and their review, consent, and the audit log.\n\n"
        "Settings come from WGS_TRE_* environment variables (WGS_TRE_DATA_DIR, "
        "WGS_TRE_DATABASE_URL, WGS_TRE_POLICY_DIR) or a TOML file named by WGS_TRE_CONFIG."
    ),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
app.add_typer(users.app, name="users")
app.add_typer(users.orgs_app, name="orgs")
app.add_typer(datasets.app, name="datasets")
app.add_typer(projects.app, name="projects")
app.add_typer(consent.app, name="consent")
app.add_typer(reports.cases_app, name="cases")
app.add_typer(reports.app, name="reports")
app.add_typer(airlock.app, name="airlock")
app.add_typer(models.app, name="models")
app.add_typer(audit.app, name="audit")
app.add_typer(ingest.app, name="ingest")
app.add_typer(store.app, name="store")
app.add_typer(hub.app, name="hub")
app.add_typer(compute.app, name="compute")
app.command("demo-data")(demo_data)
app.command()(identity.login)
app.command()(identity.logout)
app.command()(identity.whoami)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"wgs-tre {package_version('wgs-tre')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    actor: Annotated[
        str,
        typer.Option(
            "--as",
            help="Root only: act as this TRE account (default: the account of your OS login, "
            "or of your hub token after `wgs-tre login`; WGS_TRE_AS also works for root). "
            "Every event audits both the account and the OS account that really acted.",
            show_default=False,
        ),
    ] = "",
    json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print results (and errors) as JSON on stdout, for scripts. Like "
            "--as, it may also come after the subcommand.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version."
        ),
    ] = False,
) -> None:
    # main() may hand in its State (as ``obj``) to learn how to report an error.
    st = ctx.obj if isinstance(ctx.obj, State) else State()
    st.requested, st.json = actor, json
    ctx.obj = st


@app.command()
def init(
    ctx: typer.Context,
    admin: Annotated[
        str | None,
        typer.Option(help="Create this first admin account if the store has no users yet."),
    ] = None,
    owner_url: Annotated[
        str | None,
        typer.Option(
            envvar="WGS_TRE_OWNER_DATABASE_URL",
            help="PostgreSQL: run the migrations as the role in this URL, which owns the "
            "tables, and grant the role of WGS_TRE_DATABASE_URL (the TRE's runtime role) only "
            "what the TRE needs: it can then neither disable the audit log's triggers nor "
            "update, delete or truncate audit events and dataset versions.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create the governance store, or upgrade its schema; optionally add the first admin."""
    st = state(ctx)
    runtime = st.store
    role = None
    if owner_url:
        owner = Store(owner_url)
        if runtime.is_sqlite or owner.is_sqlite or not runtime.same_database(owner):
            raise ConfigurationError(
                "--owner-url must name the same PostgreSQL database as WGS_TRE_DATABASE_URL, "
                f"as its owner role (got {owner.location} and {runtime.location})"
            )
        owner.upgrade()
        if runtime.role and runtime.role != owner.role:
            owner.grant_runtime_role(runtime.role)
            role = runtime.role
        owner.dispose()
    else:
        runtime.upgrade()
    message = f"governance store ready at {runtime.location}"
    if role:
        message += f"; runtime role {role} may not alter the append-only tables"
    elif not runtime.is_sqlite:
        message += (
            " (warning: the TRE's own role owns the tables, so it could disable the audit "
            "log's triggers: give --owner-url, see the README's production section)"
        )
    created = None
    if admin:
        me = establish()  # the OS login: no account exists yet to act as
        created = bootstrap_admin(
            runtime, admin, by=f"os:{me.os_account}", witness=me.audit_details()
        )
        message += f"; first admin {created.username} created"
    st.done(message, {"store": runtime.location, "runtime_role": role, "admin": created})
