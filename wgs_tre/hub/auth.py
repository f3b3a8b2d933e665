"""Sign-in: NativeAuthenticator's accounts and passwords (optionally with a TOTP second factor),
gated by the governance store.

A sign-up creates the NativeAuthenticator account and a *pending* TRE account with no roles; the
person can sign in only once a steward or admin has approved the TRE account and an admin has
granted roles. At every sign-in the user's TRE roles become their hub groups, which
``hub/jupyterhub_config.py`` maps onto JupyterHub roles and scopes (TRE admins are hub admins).
"""

from __future__ import annotations

import asyncio
from typing import Any

from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from sqlalchemy import select

from wgs_tre.config import load_settings
from wgs_tre.governance.users import register_signup
from wgs_tre.hub.texts import both
from wgs_tre.store import Store
from wgs_tre.store.models import User
from wgs_tre.types import UserState

__all__ = ["TREAuthenticator", "TRELoginHandler", "add_signin"]


class TRELoginHandler(NativeLoginHandler):  # type: ignore[misc]
    """NativeAuthenticator's login page, working with JupyterHub 6 (which dropped the statsd
    timer its handler uses) and showing why governance refused a sign-in."""

    def _render(self, login_error: str | None = None, username: str | None = None, **_: Any) -> Any:
        return super()._render(login_error=login_error, username=username)

    async def post(self) -> None:
        data = {arg: self.get_argument(arg, strip=False) for arg in self.request.arguments}
        user = await self.login_user(data)
        if user:
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        username = data.get("username", "")
        error = self.authenticator.take_refusal(username) or "Invalid username or password."
        self.finish(await self._render(login_error=error, username=username))


class TREAuthenticator(NativeAuthenticator):  # type: ignore[misc]
    _refusals: dict[str, str]

    def take_refusal(self, username: str) -> str | None:
        """Why governance refused ``username``'s last sign-in attempt, if it did."""
        refusals: dict[str, str] = getattr(self, "_refusals", {})
        return refusals.pop(username, None)

    def _refuse(self, username: str, message: str) -> None:
        if not hasattr(self, "_refusals"):
            self._refusals = {}
        self._refusals[username] = message

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        handlers: list[tuple[str, Any]] = super().get_handlers(app)
        return [(path, TRELoginHandler if path == r"/login" else h) for path, h in handlers]

    def _store(self) -> Store:
        return Store(load_settings().store_url)

    def create_user(self, username: str, password: str, **kwargs: Any) -> Any:
        created = super().create_user(username, password, **kwargs)
        if created is not None:
            store = self._store()
            try:
                register_signup(store, created.username)
            finally:
                store.dispose()
        return created

    def _governance(self, username: str) -> tuple[UserState, list[str]] | None:
        store = self._store()
        try:
            with store.session() as session:
                user = session.scalar(select(User).where(User.username == username))
                if user is None:
                    return None
                return user.state, sorted(role.value for role in user.roles)
        finally:
            store.dispose()

    async def authenticate(self, handler: Any, data: dict[str, Any]) -> dict[str, Any] | None:
        username = await super().authenticate(handler, data)
        if not username:
            return None
        found = await asyncio.get_running_loop().run_in_executor(None, self._governance, username)
        if found is None or found[0] is not UserState.ACTIVE:
            state = "unknown" if found is None else found[0].value
            self.log.warning("sign-in of %s refused: TRE account %s", username, state)
            disabled = found is not None and found[0] is UserState.DISABLED
            self._refuse(username, both("signin_disabled" if disabled else "signin_pending"))
            return None
        state, roles = found
        if not roles:
            self._refuse(username, both("signin_no_role"))
            return None
        return {"name": username, "groups": roles, "admin": "admin" in roles}


def add_signin(hub_database: str, username: str, password: str) -> None:
    """Create an authorised NativeAuthenticator account directly in the hub's database (for
    the demo and tests; people normally sign up through the hub)."""
    import bcrypt
    from nativeauthenticator.orm import UserInfo
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(hub_database)
    try:
        with Session(engine) as session, session.begin():
            if session.query(UserInfo).filter_by(username=username).first() is None:
                hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
                session.add(UserInfo(username=username, password=hashed, is_authorized=True))
    finally:
        engine.dispose()
