"""The hub's front door: ``/hub/tre``, each signed-in person's page made for their role
(``landing``), in English or Japanese, the stop button of a running session, the download
of files the airlock released (``/hub/tre/releases/<request>/<file>``: the only way a file of
a project reaches a browser whole), and the upload of a file brought into a project
(``/hub/tre/ingress/<project>``: through the airlock's sanitizer, like every file coming in).

Registered by ``hub/jupyterhub_config.py`` (``JupyterHub.extra_handlers``), which also makes this
page where people land after signing in. JupyterHub's own handler base gives sign-in, XSRF
checks and the page templates.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import maybe_future
from tornado import httputil, web

from wgs_tre.config import load_settings
from wgs_tre.errors import IntegrityError, InvalidInput, InvalidTransition, NotFound, Refused
from wgs_tre.governance.context import Context
from wgs_tre.hub.landing import EXPIRING_DAYS, RECENT_DAYS, Landing, landing_for
from wgs_tre.hub.texts import choose_language, say
from wgs_tre.policy import load_policies
from wgs_tre.store import Store
from wgs_tre.types import Action

__all__ = [
    "HANDLERS",
    "INGRESS_COOKIE",
    "LANG_COOKIE",
    "IngressHandler",
    "LandingHandler",
    "ReleaseHandler",
    "StopHandler",
]

LANG_COOKIE = "wgs-tre-lang"
INGRESS_COOKIE = "wgs-tre-ingress"  # the outcome of an upload, shown once on the next page


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
        outcome = self.get_secure_cookie(INGRESS_COOKIE, max_age_days=1)
        if outcome is not None:  # shown once
            self.clear_cookie(INGRESS_COOKIE, path=f"{self.hub.base_url}tre")
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
            ingress_outcome=_outcome(outcome, lang),
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


def refuse_session_tokens(handler: BaseHandler, what: str) -> None:
    """Refuse a request made with a session's token. The airlock's doors on the hub are for a
    person (signed in, or with a token of their own, which may manage their servers), not for
    code in a session: through them files would move between a person's projects, around the
    stewards."""
    by_token = getattr(handler, "_token_authenticated", False)  # set only when it is
    user = handler.current_user
    if by_token and f"servers!user={user.name}" not in handler.expanded_scopes:
        raise web.HTTPError(403, f"a session's token may not {what}")


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
    browser, or a token of the user's (``curl -H "Authorization: token ..."``); not a session's
    token, which would carry one project's releases into another project's session."""

    CHUNK = 1 << 20
    _accept_token_auth = True

    @web.authenticated
    async def get(self, ref: str, name: str) -> None:
        refuse_session_tokens(self, "download: released files are for a person, not a session")
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


def _outcome(cookie: bytes | None, lang: str) -> tuple[str, str] | None:
    """The last upload's outcome as (kind, the sentence in ``lang``), from its cookie."""
    if cookie is None:
        return None
    try:
        found = json.loads(cookie)
        key = f"ingress_{found.pop('kind')}"
        return key.removeprefix("ingress_"), say(key, lang, **found)
    except (ValueError, KeyError, TypeError):
        return None


def sessions_root(config: Any) -> Path:
    """Where the sessions' workspaces are: the spawner's ``sessions_root`` as the hub's
    configuration sets it (``hub/jupyterhub_config.py``), or its default."""
    from wgs_tre.hub.isolation import IsolatedSpawner

    for section in ("ProjectSpawner", "IsolatedSpawner"):
        value = (config or {}).get(section, {}).get("sessions_root")
        if isinstance(value, str) and value:
            return Path(value)
    return Path(IsolatedSpawner.class_traits()["sessions_root"].default_value)


def _ingress_limit() -> int:
    from wgs_tre.airlock.filepolicy import load_file_policy  # the airlock, loaded when used

    return int(load_file_policy(load_settings().policy_dir).ingress.max_file_size)


def _bring_in(username: str, project: str, upload: Path, name: str, why: str, root: Path) -> Any:
    from wgs_tre.airlock.ingress import bring_in  # the data stack, loaded when first used
    from wgs_tre.hub.accounts import ensure_project

    settings = load_settings()
    store = Store(settings.store_url)
    try:
        ctx = Context(store, load_policies(settings.policy_dir), username)
        # The project's directories are made only for someone who may bring a file in: anyone
        # else is refused (and audited) by bring_in before it looks at the workspace.
        workspace = root / "workspaces" / project
        if ctx.can(Action.AIRLOCK_BRING_IN, project=project):
            workspace = ensure_project(project, root).workspace
        return bring_in(
            ctx,
            project,
            upload,
            why,
            area=settings.data_dir / "airlock",
            workspace=workspace,
            name=name,
        )
    finally:
        store.dispose()


_FORM_SLACK = 64 * 1024  # a multipart body's boundaries, headers and justification


@web.stream_request_body
class IngressHandler(BaseHandler):  # type: ignore[misc]
    """``POST /hub/tre/ingress/<project>`` (multipart: ``file``, ``justification``): bring a
    file into the project (``wgs_tre.airlock.ingress.bring_in`` decides, sanitizes and audits),
    then back to ``/hub/tre`` with the outcome. The body is refused (413) past the policy's
    largest file coming in (``policies/files.yaml`` ``ingress.max_file_size``). A browser
    sends ``_xsrf`` in the query (the body is read after the check); a token of the user's
    (``curl -H "Authorization: token ..." -F file=@weights.csv -F justification=...``) needs
    none; a session's token is refused."""

    _accept_token_auth = True

    async def prepare(self) -> None:
        await super().prepare()
        user = self.current_user
        if user is None:
            raise web.HTTPError(403, "sign in to bring a file in")
        refuse_session_tokens(self, "bring files in: use the TRE page")
        limit = await asyncio.get_running_loop().run_in_executor(None, _ingress_limit)
        self.limit = limit + _FORM_SLACK
        declared = self.request.headers.get("Content-Length", "0")
        if not declared.isdigit():
            raise web.HTTPError(400, "the request's Content-Length is not a number")
        if int(declared) > self.limit:
            raise web.HTTPError(413, f"the file is larger than the {limit:,} bytes allowed in")
        self.request.connection.set_max_body_size(self.limit)
        self.received: list[bytes] = []
        self.size = 0

    def data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise web.HTTPError(413, "the file is larger than the airlock allows in")
        self.received.append(chunk)

    def _form(self) -> tuple[httputil.HTTPFile, str]:
        arguments: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        httputil.parse_body_arguments(
            self.request.headers.get("Content-Type", ""),
            b"".join(self.received),
            arguments,
            files,
        )
        self.received = []
        upload = files.get("file")
        if not upload or not upload[0].filename:
            raise web.HTTPError(400, "choose a file to bring in")
        why = b"".join(arguments.get("justification", [b""])).decode("utf-8", "replace")
        return upload[0], why

    @web.authenticated
    async def post(self, project: str) -> None:
        upload, why = self._form()
        name = upload.filename
        staging = Path(load_settings().data_dir) / "airlock" / "uploads"
        staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder = staging / secrets.token_hex(8)
        folder.mkdir(mode=0o700)
        try:
            path = folder / "upload"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(upload.body)
            root = sessions_root(self.config)
            outcome: dict[str, str]
            try:
                view = await asyncio.get_running_loop().run_in_executor(
                    None, _bring_in, self.current_user.name, project, path, name, why, root
                )
                outcome = {"kind": view.state.value, "name": view.name, "ref": view.ref}
                outcome |= {"project": project, "placed": view.placed_as or ""}
            except (Refused, InvalidInput, NotFound) as exc:
                outcome = {"kind": "refused", "name": name, "reason": exc.message}
        finally:
            shutil.rmtree(folder)
        if outcome["kind"] not in ("pending", "admitted", "refused"):
            raise web.HTTPError(500, f"unexpected outcome {outcome['kind']}")
        self.set_secure_cookie(
            INGRESS_COOKIE,
            json.dumps(outcome),
            expires_days=None,
            path=f"{self.hub.base_url}tre",
            httponly=True,
            samesite="Lax",
        )
        self.redirect(f"{self.hub.base_url}tre")


HANDLERS = [
    (r"/tre", LandingHandler),
    (r"/tre/stop/([^/]+)", StopHandler),
    (r"/tre/releases/([^/]+)/(.+)", ReleaseHandler),
    (r"/tre/ingress/([^/]+)", IngressHandler),
]
