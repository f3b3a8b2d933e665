"""Who is acting on the host: an identity is established, never claimed.

The CLI and host-side ``open_project()`` act as the TRE account of the OS login that owns the
process (its real uid, looked up in the password database: ``$USER``, ``$LOGNAME`` and
``getpass.getuser()`` are claims anyone can set). An account's OS login is its TRE username.
Two ways to act as another account, each recorded on every audit event it writes:

- root may name one (``--as NAME``, or ``WGS_TRE_AS`` which only root's processes honour);
- anyone holding a JupyterHub API token for that account (``wgs-tre login``, see
  :mod:`wgs_tre.governance.credentials`) acts as the name the hub says the token belongs to;
- a dashboard's kernel (``wgs_tre.dashboards``) acts as the person signed in to the hub, as the
  dashboard service established it from the hub's OAuth sign-in (:func:`hub_sign_in`).

Anyone else asking for another account is refused with the reason, and the refusal is audited
(``identity.act_as``, the OS account as actor) in the store the request was for.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from wgs_tre.audit import record_refusal
from wgs_tre.audit.chain import WITNESS_KEYS
from wgs_tre.errors import ConfigurationError, Refused
from wgs_tre.governance import hub_credential
from wgs_tre.governance.lookup import find_user
from wgs_tre.store import Store
from wgs_tre.types import Action

__all__ = [
    "AS_VARIABLE",
    "Identity",
    "Via",
    "check_mapped",
    "establish",
    "host_identity",
    "hub_sign_in",
    "os_login",
]

ROOT_UID = 0
AS_VARIABLE = "WGS_TRE_AS"  # root's ``--as`` from the environment (for scripts and tests)


class Via(StrEnum):
    """How an identity was established (recorded on each audit event as ``identity_via``)."""

    OS_LOGIN = "os login"
    ROOT_AS = "root acting as"
    HUB_CREDENTIAL = "hub credential"
    HUB_SIGN_IN = "hub sign-in"  # a dashboard served by the hub, for the person signed in


@dataclass(frozen=True)
class Identity:
    account: str  # the TRE account acted as
    os_account: str  # the OS login of the process's real uid
    via: Via
    hub: str | None = None  # the hub that vouched for a credential

    def audit_details(self) -> dict[str, str]:
        """What every audit event written on the host adds to its ``details`` (hashed)."""
        return dict(zip(WITNESS_KEYS, (self.os_account, str(self.via)), strict=True))

    def describe(self) -> str:
        if self.via is Via.ROOT_AS:
            return f"root (OS account {self.os_account}) acting as {self.account}"
        if self.via is Via.HUB_CREDENTIAL:
            return f"{self.account}, vouched for by the hub at {self.hub}"
        if self.via is Via.HUB_SIGN_IN:
            return f"{self.account}, signed in to the hub"
        return f"{self.account}, by OS login"


def os_login() -> tuple[int, str]:
    """The real uid of this process and its login name in the password database."""
    uid = os.getuid()
    try:
        return uid, pwd.getpwuid(uid).pw_name
    except KeyError:
        raise ConfigurationError(
            f"uid {uid} has no entry in the password database, so it maps to no TRE account"
        ) from None


def establish(
    requested: str | None = None, *, credential: tuple[str, str] | None = None
) -> Identity:
    """The identity of this process: root's ``requested`` account, else the account a hub
    ``credential`` (name, hub) vouches for, else the OS login's. Asking for another account
    without being root (or holding its credential) is refused."""
    uid, login = os_login()
    if credential is not None:
        name, hub = credential
        own = Identity(name, login, Via.HUB_CREDENTIAL, hub)
    else:
        own = Identity(login, login, Via.OS_LOGIN)
    if not requested or requested == own.account:
        return own
    if uid == ROOT_UID:
        return Identity(requested, login, Via.ROOT_AS)
    raise Refused(
        f"only root may act as another account: you are {own.account} ({own.via} "
        f"{login!r}), not {requested!r}; to act as {requested}, `wgs-tre login` with a hub "
        "token of theirs"
    )


def hub_sign_in(account: str) -> Identity:
    """The identity of a dashboard kernel: ``account`` is whom the hub's OAuth sign-in named to
    the dashboard service that started this kernel (never a value from the browser); the OS
    account is the service's."""
    return Identity(account, os_login()[1], Via.HUB_SIGN_IN)


def check_mapped(store: Store, identity: Identity) -> None:
    """Refuse, with what to do, an OS login that names no TRE account (before anything runs)."""
    if identity.via is not Via.OS_LOGIN:
        return
    with store.session() as session:
        if find_user(session, identity.account) is None:
            raise Refused(
                f"OS login {identity.os_account!r} is not mapped to a TRE account: an admin "
                f"can create it (wgs-tre users create {identity.os_account} ...), or "
                "`wgs-tre login` with a hub token"
            )


def host_identity(
    requested: str | None = None, *, audit_in: Callable[[], Store | None] | None = None
) -> Identity:
    """The rule for the CLI and host-side ``open_project()``: ``requested`` (``--as``), else
    ``WGS_TRE_AS``, both honoured for root only; a stored hub credential, re-checked with the
    hub; else the OS login. A refused request is audited in the store ``audit_in()`` gives,
    asked only then (None: no store this account can open, the refusal is only reported)."""
    requested = requested or os.environ.get(AS_VARIABLE) or None
    stored = hub_credential.load()
    credential = None
    if stored is not None:
        credential = (hub_credential.hub_user(stored.hub, stored.token), stored.hub)
    try:
        return establish(requested, credential=credential)
    except Refused as refusal:
        store = audit_in() if audit_in is not None else None
        if store is not None:
            own = establish(credential=credential)  # who really asked
            record_refusal(store, actor=own.os_account, action=Action.IDENTITY_ACT_AS,
                           reason=refusal.reason, details=own.audit_details())  # fmt: skip
        raise
