"""``wgs-tre login``, ``logout`` and ``whoami``: how the CLI knows who runs it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from wgs_tre.cli.common import state
from wgs_tre.errors import InvalidInput
from wgs_tre.governance import hub_credential
from wgs_tre.governance.hub_credential import DEFAULT_HUB, HubCredential


def login(
    ctx: typer.Context,
    hub: Annotated[
        str,
        typer.Option(envvar="WGS_TRE_HUB_URL", help="The JupyterHub that issued the token."),
    ] = DEFAULT_HUB,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from stdin, not a prompt.")
    ] = False,
) -> None:
    """Act as your hub account from now on: give a JupyterHub API token (the hub's Token page),
    which the hub confirms now and at every later command. It is kept in
    ~/.config/wgs-tre/credentials.json, readable by you only; `wgs-tre logout` forgets it."""
    st = state(ctx)
    hub = hub_credential.normalise_hub(hub)
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = typer.prompt("JupyterHub API token", hide_input=True).strip()
    if not token:
        raise InvalidInput("--token-stdin" if token_stdin else "token prompt", "no token given")
    name = hub_credential.hub_user(hub, token)
    path = hub_credential.save(HubCredential(hub, name, token))
    st.done(f"logged in to {hub} as {name} (token kept in {path})", {"hub": hub, "name": name})


def logout(ctx: typer.Context) -> None:
    """Forget the stored hub token: the CLI acts as your OS login's account again. (The token
    itself stays valid until you revoke it on the hub.)"""
    st = state(ctx)
    path = hub_credential.credentials_path()
    removed = hub_credential.remove()
    message = f"removed {path}" if removed else f"not logged in ({path} does not exist)"
    st.done(message, {"removed": removed, "path": str(path)})


def whoami(ctx: typer.Context) -> None:
    """The TRE account you act as, your OS account, and how the CLI established it."""
    st = state(ctx)
    who = st.identity
    st.emit(
        {"account": who.account, "os_account": who.os_account, "via": who.via, "hub": who.hub},
        lambda _: st.console.print(
            f"TRE account: {who.account}\nOS account:  {who.os_account}\n"
            f"established: {who.via}" + (f" ({who.hub})" if who.hub else "")
        ),
    )
