"""The hub's front door: ``/hub/tre``, each signed-in person's page made for their role
(``landing``), in English or Japanese, the stop button of a running session, and the download
of files the airlock released (``/hub/tre/releases/<request>/<file>``: the only way a file of
a project reaches a browser whole).

Registered by ``hub/jupyterhub_config.py`` (``JupyterHub.extra_handlers``), which also makes this
page where people land after signing in. JupyterHub's own handler base gives sign-in, XSRF
checks and the page templates.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import maybe_future
from tornado import web

from wgs_tre.config import load_settings
from wgs_tre.errors import IntegrityError, InvalidTransition, NotFound, Refused
from wgs_tre.governance.context import Context
from wgs_tre.hub.landing import EXPIRING_DAYS, RECENT_DAYS, Landing, landing_for
from wgs_tre.hub.texts import choose_language, say
from wgs_tre.policy import load_policies
from wgs_tre.store import Store

__all__ = ["HANDLERS", "LANG_COOKIE", "LandingHandler", "ReleaseHandler", "StopHandler"]

LANG_COOKIE = "wgs-tre-lang"


def _landing(username: str) -> Landing:
    settings = load_settings()
    store = Store(settings.store_url)
    try:
        return landing_for(store, load_policies(settings.policy_dir), username)
    finally:
        store.dispose()


class LandingHandler(BaseHandler):  # type: ignore[misc]
    """``GET /hub/tre[?lang=en|ja]``."""

    def language(self) -> str:
        asked = self.get_argument("lang", None)
        lang = choose_language(
            asked, self.get_cookie(LANG_COOKIE), self.request.headers.get("Accept-Language")
        )
        if asked == lang:  # remembered for the next pages
            self.set_cookie(LANG_COOKIE, lang, path=self.hub.base_url, samesite="Lax")
        return lang

    async def forget_stopped_servers(self, user: Any) -> None:
        """Drop the user's named servers that are not running (a refused or stopped session):
        nothing of a session lives in the hub's record of it, and a refused name must not stay
        in the list as if it could be started."""
        for name in [n for n in user.orm_spawners if n]:
            spawner = user.spawners[name]
            if spawner.active:
                continue
            await maybe_future(user._delete_spawner(spawner))
            self.db.delete(spawner.orm_spawner)
            user.spawners.pop(name, None)
        self.db.commit()

    @web.authenticated
    async def get(self) -> None:
        user = self.current_user
        lang = self.language()
        await self.forget_stopped_servers(user)
        landing = await asyncio.get_running_loop().run_in_executor(None, _landing, user.name)
        sessions = {name: user.spawners[name] for name in user.orm_spawners if name}
        html = await self.render_template(
            "tre_home.html",
            landing=landing,
            sessions=sessions,
            lang=lang,
            other_lang="ja" if lang == "en" else "en",
            t=lambda key, **values: say(key, lang, **values),
            role_names=[say(f"role_{role}", lang) for role in landing.roles],
            expiring_days=EXPIRING_DAYS,
            recent_days=RECENT_DAYS,
            public_url=f"{self.request.protocol}://{self.request.host}",
            # the dashboards this person may open (JupyterHub checks each service's access scope)
            dashboards={
                service.name: f"{self.base_url}services/{service.name}/"
                for service in self.get_accessible_services(user)
            },
        )
        self.finish(html)


class StopHandler(BaseHandler):  # type: ignore[misc]
    """``POST /hub/tre/stop/<project>``: stop the user's own session of the project."""

    @web.authenticated
    async def post(self, project: str) -> None:
        user = self.current_user
        spawner = user.spawners.get(project) if project else None
        if spawner is None or not spawner.active:
            raise web.HTTPError(404, f"{user.name} has no running session of {project}")
        if spawner.pending:
            doing = "starting" if spawner.pending == "spawn" else "stopping"
            raise web.HTTPError(409, f"the session of {project} is still {doing}: try again soon")
        await self.stop_single_user(user, project)
        self.redirect(f"{self.hub.base_url}tre")


def _released(username: str, ref: str, name: str) -> Any:
    from wgs_tre.airlock.release import released_file  # the data stack, loaded when first used

    settings = load_settings()
    store = Store(settings.store_url)
    try:
        ctx = Context(store, load_policies(settings.policy_dir), username)
        return released_file(ctx, ref, name, releases=settings.data_dir / "releases")
    finally:
        store.dispose()


def _attachment(filename: str) -> str:
    """A Content-Disposition naming the file: plain ASCII for old clients, the exact name in
    UTF-8 (RFC 6266) for the others; nothing of the name can break out of the header."""
    plain = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


class ReleaseHandler(BaseHandler):  # type: ignore[misc]
    """``GET /hub/tre/releases/<request>/<file>``: a released file, for an active member of
    its project (``wgs_tre.airlock.release.released_file`` decides and audits). A signed-in
    browser, or a token of the user's (``curl -H "Authorization: token ..."``)."""

    CHUNK = 1 << 20
    _accept_token_auth = True

    @web.authenticated
    async def get(self, ref: str, name: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            got = await loop.run_in_executor(None, _released, self.current_user.name, ref, name)
        except NotFound as exc:
            raise web.HTTPError(404, exc.message) from None
        except (Refused, InvalidTransition) as exc:
            raise web.HTTPError(403, exc.message) from None
        except IntegrityError as exc:
            raise web.HTTPError(409, exc.message) from None
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Disposition", _attachment(name.rsplit("/", 1)[-1]))
        self.set_header("Content-Length", str(got.size))
        self.set_header("X-Checksum-SHA256", got.sha256)
        with got.path.open("rb") as stream:
            for block in iter(lambda: stream.read(self.CHUNK), b""):
                self.write(block)
                await self.flush()
        self.finish()


HANDLERS = [
    (r"/tre", LandingHandler),
    (r"/tre/stop/([^/]+)", StopHandler),
    (r"/tre/releases/([^/]+)/(.+)", ReleaseHandler),
]
