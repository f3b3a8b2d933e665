"""The data service: the only way a session gets data.

A JupyterHub-managed service on the hub address. A session calls it with its server's API
token; the token names the user and, through its ``access:servers!server=<user>/<project>``
scope, the project. The service runs the gate (which audits), writes the granted view into the
project's dispensal directory if it is not there yet, and answers with its path. The session
then reads that read-only copy; it never holds store credentials or sees raw data.

Writing a large view takes minutes, so it runs as a job (``wgs_tre.services.jobs``): ``open``
answers with the path if the view is ready within ``answer_within`` seconds (200), else with the
job (202), which the session follows until it is done:

    POST /services/wgs-tre-data/api/datasets        -> [{"dataset": "wgs@1", "kind": "variants"}]
    POST /services/wgs-tre-data/api/open {"dataset"} -> {"dataset", "kind", "state", "path", ...}
    GET  /services/wgs-tre-data/api/jobs/<job>       -> {"job", "state", "done", "total", "path"}

A failed job is answered with its error, in the same format as any other.

Output requests of the session's project go through the airlock here too, acting on the
project's workspace as the hub defines it (a session cannot name another directory):

    POST /services/wgs-tre-data/api/airlock/requests {"purpose", "files": {name: why},
                                                      "keep_outputs": [notebook, ...]}
                                                     -> the request, submitted
    GET  /services/wgs-tre-data/api/airlock/requests -> the project's requests
    GET  /services/wgs-tre-data/api/airlock/requests/<ref> -> one of them

Prognosis models (``wgs_tre.models``): a fit's audit event, and the model registry, for the
session's user on the session's project (a saved document is checked again here):

    POST /services/wgs-tre-data/api/models/fits {"model", "features", ...} -> {}
    POST /services/wgs-tre-data/api/models {"name", "document", "datasets", ...} -> the entry
    GET  /services/wgs-tre-data/api/models        -> the models the user may see
    GET  /services/wgs-tre-data/api/models/<ref>  -> {"entry", "document"}, if the project's
                                                     approval covers the model's data

The token alone names the session. The service refuses (403, audited as a refused
``data.access``) a missing or dead token, a token that is not a session server's (a user's own
token), a token used from another session's address, and a request naming another project
(``"project"`` in the body, which may be left out).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any, NoReturn

from jupyterhub.services.auth import HubAuth, HubAuthenticated
from tornado import web
from tornado.ioloop import IOLoop
from tornado.log import app_log

from wgs_tre.access import Gate
from wgs_tre.airlock import requests
from wgs_tre.audit import record_refusal
from wgs_tre.config import MODELS_DIR, load_settings
from wgs_tre.errors import ExitCode, InvalidInput, NotFound, Refused, WgsTreError, to_wire
from wgs_tre.governance.context import Context
from wgs_tre.hub import DATA_SERVICE, registry
from wgs_tre.hub.accounts import ensure_project
from wgs_tre.policy import load_policies
from wgs_tre.services import run_service
from wgs_tre.services.jobs import Job, Jobs
from wgs_tre.services.materialise import dispensed_path, materialise
from wgs_tre.store import Store
from wgs_tre.types import Action
from wgs_tre.wire import jsonable

__all__ = ["SERVICE_NAME", "make_app", "session_project"]

SERVICE_NAME = DATA_SERVICE
_SERVER_SCOPE = re.compile(r"^access:servers!server=(?P<user>[^/]+)/(?P<server>.+)$")


def session_project(model: dict[str, Any]) -> str | None:
    """The project (server name) a server token belongs to, from its scopes; None otherwise."""
    for scope in model.get("scopes", []):
        match = _SERVER_SCOPE.match(scope)
        if match and match["user"] == model.get("name"):
            return match["server"]
    return None


class UncachedHubAuth(HubAuth):  # type: ignore[misc]
    """Asks the hub about every token, every time. The hub deletes a session's token when the
    session ends, and it must stop working at that moment (HubAuth caches answers for minutes,
    and ``cache_max_age=0`` means forever)."""

    def user_for_token(
        self, token: str, use_cache: bool = True, session_id: str = "", *, sync: bool = True
    ) -> Any:
        return super().user_for_token(token, use_cache=False, session_id=session_id, sync=sync)


# HTTP status by exit code; the JSON body carries the error itself (wgs_tre.errors.to_wire).
HTTP_STATUS = {
    ExitCode.NOT_FOUND: 404,
    ExitCode.REFUSED: 403,
    ExitCode.INVALID_INPUT: 400,
    ExitCode.CONFLICT: 409,
    ExitCode.CONFIGURATION: 503,
}


class _Failed(web.HTTPError):
    """A WgsTreError on its way to the session that caused it."""

    def __init__(self, error: WgsTreError) -> None:
        super().__init__(HTTP_STATUS.get(error.exit_code, 500))
        self.error = error


class _Handler(HubAuthenticated, web.RequestHandler):  # type: ignore[misc]
    def initialize(
        self,
        gate: Gate,
        sessions_root: Path,
        hub_auth: HubAuth,
        jobs: Jobs,
        answer_within: float,
        airlock_area: Path,
        models_area: Path,
    ) -> None:
        self.gate, self.sessions_root, self.hub_auth = gate, sessions_root, hub_auth
        self.jobs, self.answer_within = jobs, answer_within
        self.airlock_area, self.models_area = airlock_area, models_area

    def check_xsrf_cookie(self) -> None:  # token-authenticated API calls only
        pass

    def _identity(self) -> tuple[str, str]:
        """The session's user and project, from its server's token; anything else is refused."""
        model = self.get_current_user()
        if not model:
            self._refuse("a session's API token is required", None)
        project = session_project(model)
        if project is None:
            self._refuse("this token does not belong to a project session", model)
        user = model["name"]
        caller = registry.lookup(self.sessions_root, self._address)
        if caller[1] is not None and caller != (user, project):  # a token taken from a session
            self._refuse("this token belongs to another session", model)
        asked = str(self._body().get("project", project))[:100]
        if asked != project:
            self._refuse(f"this session belongs to {project}; it cannot open {asked}", model)
        return user, project

    @property
    def _address(self) -> str:
        """The caller's own address: sessions call the service directly, not through a proxy."""
        return self.request.remote_ip or "unknown"

    def _refuse(self, reason: str, model: dict[str, Any] | None) -> NoReturn:
        """Audit and refuse. The actor is the session at the caller's address (it really
        acted, whatever token it sent); off a session address, the token's owner if the hub
        knew the token."""
        actor, project = registry.lookup(self.sessions_root, self._address)
        if project is None and model:
            actor = model["name"]
        details = {"identified_as": model["name"]} if model else {}
        record_refusal(
            self.gate.store,
            actor=actor,
            action=Action.DATA_ACCESS,
            project=project,
            reason=reason,
            details={**details, "address": self._address},
        )
        raise _Failed(Refused(reason))

    def _body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise _Failed(InvalidInput("request", "the body is not JSON")) from None
        if not isinstance(body, dict):
            raise _Failed(InvalidInput("request", "the body is not a JSON object"))
        return body

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors in one format (``wgs_tre.errors.to_wire``), which the session's client turns
        back into the same exception; anything else is the service's own failure."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, _Failed):
            self.finish(to_wire(error.error))
        else:
            self.finish({"message": getattr(error, "log_message", None) or self._reason})

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, _Failed):  # the caller's problem, already audited where it matters
            app_log.info("%s %s: %s", self.request.method, self.request.path, value.error.message)
        else:
            super().log_exception(typ, value, tb)

    async def _run(self, work: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(None, work)
        except WgsTreError as error:
            raise _Failed(error) from None

    def _answer(self, job: Job) -> None:
        """The job as it stands: running (202), done (200), or its error."""
        if isinstance(job.error, WgsTreError):
            raise _Failed(job.error)
        if job.error is not None:
            app_log.error("materialising %s failed", job.dataset, exc_info=job.error)
            raise web.HTTPError(500, reason="writing the view failed")
        self.set_status(202 if job.state == "running" else 200)
        self.finish(job.as_wire())


class DatasetsHandler(_Handler):
    async def post(self) -> None:
        user, project = self._identity()
        found = await self._run(lambda: self.gate.approved_datasets(user, project))
        self.finish(json.dumps([{"dataset": label, "kind": kind} for label, kind in found]))


class OpenHandler(_Handler):
    async def post(self) -> None:
        user, project = self._identity()
        dataset = self._body().get("dataset")
        if not isinstance(dataset, str) or not dataset:
            raise _Failed(InvalidInput("request", "name the dataset to open"))

        def decide() -> Job:
            grant = self.gate.decide(user, project, dataset)
            dirs = ensure_project(project, self.sessions_root)
            return self.jobs.start(
                dispensed_path(grant, dirs.dispensal),
                project,
                grant.dataset,
                grant.kind,
                lambda progress: materialise(grant, dirs.dispensal, dirs.gid, progress),
            )

        job = await self._run(decide)
        deadline = time.monotonic() + self.answer_within
        while not job.finished.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # small views are answered in one round trip
        self._answer(job)


class JobHandler(_Handler):
    async def get(self, job_id: str) -> None:
        _user, project = self._identity()
        try:
            job = self.jobs.get(job_id, project)
        except WgsTreError as error:
            raise _Failed(error) from None
        self._answer(job)


class AirlockRequestsHandler(_Handler):
    """The session's output requests: list them (GET), or make one and submit it (POST)."""

    async def get(self) -> None:
        user, project = self._identity()
        ctx = Context(self.gate.store, self.gate.policies, user)

        def views() -> list[requests.RequestView]:
            listed = requests.list_requests(ctx)
            return [requests.show(ctx, r.ref) for r in listed if r.project == project]

        self.finish(json.dumps(jsonable(await self._run(views))))

    async def post(self) -> None:
        user, project = self._identity()
        body = self._body()
        purpose, files = body.get("purpose"), body.get("files")
        if not isinstance(purpose, str):
            raise _Failed(InvalidInput("purpose", "say what the outputs are for"))
        if (
            not isinstance(files, dict)
            or not files
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
        ):
            raise _Failed(InvalidInput("files", "name each file with why it should leave"))
        kept = body.get("keep_outputs", [])
        if not isinstance(kept, list) or not all(isinstance(k, str) for k in kept):
            raise _Failed(InvalidInput("keep_outputs", "name the notebooks, as in files"))
        ctx = Context(self.gate.store, self.gate.policies, user)
        workspace = ensure_project(project, self.sessions_root).workspace
        view = await self._run(
            lambda: requests.create_and_submit(
                ctx,
                project,
                purpose,
                files,
                workspace=workspace,
                area=self.airlock_area,
                keep_outputs=set(kept),
            )
        )
        self.set_status(201)
        self.finish(json.dumps(jsonable(view)))


class AirlockRequestHandler(_Handler):
    async def get(self, ref: str) -> None:
        user, project = self._identity()
        ctx = Context(self.gate.store, self.gate.policies, user)
        view = await self._run(lambda: requests.show(ctx, ref))
        if view.project != project:
            raise _Failed(NotFound("output request of this project", ref))
        self.finish(json.dumps(jsonable(view)))


def _models() -> Any:
    """``wgs_tre.models.governed`` (its ``registry`` too), imported at the first model request:
    lifelines and scikit-survival would add over a second to every start of the service."""
    from wgs_tre.models import governed

    return governed


class ModelFitsHandler(_Handler):
    """The audit event of a fit in the session (``wgs_tre.models``: one per fit)."""

    async def post(self) -> None:
        user, project = self._identity()
        body = self._body()
        ctx = Context(self.gate.store, self.gate.policies, user)
        await self._run(lambda: _models().registry.record_fit(ctx, project, body))
        self.set_status(201)
        self.finish("{}")


class ModelsHandler(_Handler):
    """The model registry: the models the user may see (GET), or save one (POST)."""

    async def get(self) -> None:
        user, _project = self._identity()
        ctx = Context(self.gate.store, self.gate.policies, user)
        self.finish(
            json.dumps(jsonable(await self._run(lambda: _models().registry.registered(ctx))))
        )

    async def post(self) -> None:
        user, project = self._identity()
        body = self._body()
        ctx = Context(self.gate.store, self.gate.policies, user)
        area = self.models_area
        entry = await self._run(lambda: _models().save_body(ctx, project, body, area))
        self.set_status(201)
        self.finish(json.dumps(jsonable(entry)))


class ModelHandler(_Handler):
    async def get(self, ref: str) -> None:
        user, project = self._identity()
        ctx = Context(self.gate.store, self.gate.policies, user)
        entry, document = await self._run(lambda: _models().registry.load(ctx, project, ref))
        self.finish(json.dumps({"entry": jsonable(entry), "document": document}))


def make_app(
    gate: Gate,
    sessions_root: Path,
    prefix: str,
    hub_auth: HubAuth | None = None,
    *,
    answer_within: float = 2.0,
    airlock_area: Path | None = None,
    models_area: Path | None = None,
) -> web.Application:
    """The service's app; ``open`` waits up to ``answer_within`` seconds for a view before
    answering with its job instead. Submitted output requests are copied to ``airlock_area``
    (default: ``airlock/`` in the data directory), registered models kept in ``models_area``
    (default: ``models/`` there)."""
    args = {
        "gate": gate,
        "sessions_root": sessions_root,
        "hub_auth": hub_auth or UncachedHubAuth(),
        "jobs": Jobs(),
        "answer_within": answer_within,
        "airlock_area": airlock_area or load_settings().data_dir / "airlock",
        "models_area": models_area or load_settings().data_dir / MODELS_DIR,
    }
    return web.Application([
        (rf"{prefix}api/datasets", DatasetsHandler, args),
        (rf"{prefix}api/open", OpenHandler, args),
        (rf"{prefix}api/jobs/([0-9a-f]+)", JobHandler, args),
        (rf"{prefix}api/airlock/requests", AirlockRequestsHandler, args),
        (rf"{prefix}api/airlock/requests/(R-[0-9A-F]+)", AirlockRequestHandler, args),
        (rf"{prefix}api/models", ModelsHandler, args),
        (rf"{prefix}api/models/fits", ModelFitsHandler, args),
        (rf"{prefix}api/models/(M-[0-9A-F]+)", ModelHandler, args),
    ])  # fmt: skip


def main() -> None:
    settings = load_settings()
    store = Store(settings.store_url)
    store.check_ready()
    gate = Gate(store, load_policies(settings.policy_dir))
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    sessions_root = Path(os.environ["WGS_TRE_SESSIONS_ROOT"])
    url = os.environ["JUPYTERHUB_SERVICE_URL"]
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    make_app(gate, sessions_root, prefix).listen(int(port), address=host)
    IOLoop.current().start()


if __name__ == "__main__":
    run_service(main)
