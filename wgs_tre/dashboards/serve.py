"""One dashboard as a hub-managed Voila service: ``python -m wgs_tre.dashboards.serve NOTEBOOK``.

The hub starts it (``hub/jupyterhub_config.py``) with the service's address, prefix and OAuth
client in the environment. Three things make it safe to run hub-side, with store credentials:

- **Sign-in is the hub's**: JupyterHub's identity provider and authorizer for Jupyter servers
  accept only people the hub's OAuth vouches for *and* who hold this service's access scope;
  anyone else is refused (403) before a kernel starts.
- **The kernel acts as the person signed in**: before each page's kernel starts, Voila's
  prelaunch hook puts a first cell in (a copy of) the notebook naming the account the hub's
  sign-in gave this request (``handler.current_user``). Nothing the browser sends (query,
  headers, cookies other than the hub's own signed ones) reaches that value.
- **The page cannot run code**: the kernel websocket passes only the messages widgets need
  (:data:`FROM_PAGE`); an ``execute_request`` from the browser is dropped.
- **A kernel is its page's**: it belongs to the person whose request started it, and only they
  may open its websocket; another signed-in steward who learnt its id is refused (403).

Exit codes: 0 stopped by the hub, 2 bad arguments or environment (one line on stderr).
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import nbformat
from jupyter_server.utils import url_path_join
from jupyterhub.singleuser.extension import JupyterHubAuthorizer, JupyterHubIdentityProvider
from nbformat.v4 import new_code_cell
from tornado import web
from tornado.ioloop import IOLoop
from traitlets.config import Config
from voila.app import Voila
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

from wgs_tre.dashboards.kernels import (
    IDLE_MINUTES,
    PAGE_OWNER,
    OwnedKernels,
    WarmKernel,
    warm_up_code,
)
from wgs_tre.dashboards.registry import WAITING_KERNELS
from wgs_tre.hub.texts import choose_language
from wgs_tre.services import run_service

__all__ = ["FROM_PAGE", "SIGN_IN_CELL", "main", "sign_in_first"]

# What a dashboard page may send its kernel: widget traffic and the kernel's info, nothing that
# runs code (execute_request), completes or inspects it, or reads its input.
FROM_PAGE = (
    "comm_open",
    "comm_msg",
    "comm_close",
    "comm_info_request",
    "kernel_info_request",
)
# The first cell of every page's kernel: whom it acts as, and the page's first language.
SIGN_IN_CELL = (
    "from wgs_tre.governance.identity import hub_sign_in\n"
    "SIGNED_IN = hub_sign_in({account!r})\n"
    "LANGUAGE = {language!r}"
)
# What a dashboard page may load and talk to: the hub's own origin (the proxy in front of this
# service), nothing else. Voila's page template links a public CDN's stylesheet: that request
# would tell a third party who opens a dashboard when, and is never made. Voila's scripts need
# inline code and eval; widget images are data: or blob: URLs.
CONTENT_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'self'",
    "base-uri 'self'",
    "form-action 'self'",
])  # fmt: skip
_USAGE = "usage: python -m wgs_tre.dashboards.serve NOTEBOOK (started by the hub as a service)"
_HUB_VARIABLES = ("JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_TOKEN")


def sign_in_first(handler: web.RequestHandler, notebook: Any, cwd: str) -> Any:
    """Voila's prelaunch hook: the notebook to run, with the signed-in account's cell first."""
    user = handler.current_user  # set by the hub's identity provider, from its OAuth sign-in
    if user is None:  # the handler is @authenticated: unreachable, but never run unsigned
        raise web.HTTPError(403, "not signed in to the hub")
    PAGE_OWNER.set(user.username)
    language = choose_language(None, None, handler.request.headers.get("Accept-Language"))
    signed = copy.deepcopy(notebook)  # Voila may reuse its copy: never leak one person's cell
    signed.cells.insert(0, new_code_cell(SIGN_IN_CELL.format(account=user.username,
                                                             language=language)))  # fmt: skip
    return signed


def _own_kernel(handler: web.RequestHandler, kernel_id: str) -> None:
    """Refuse (403) anyone but the person whose page started (or took) the kernel."""
    user = handler.current_user
    if user is None or handler.kernel_manager.owners.get(kernel_id) != user.username:  # type: ignore[attr-defined]
        raise web.HTTPError(403, "this dashboard kernel belongs to another page")


class OwnKernelWebsocketHandler(VoilaKernelWebsocketHandler):  # type: ignore[misc]
    """A kernel's websocket, for the person whose page started the kernel only."""

    async def pre_get(self) -> None:
        _own_kernel(self, self.kernel_id)
        await super().pre_get()


class OwnKernelShutdownHandler(VoilaShutdownKernelHandler):  # type: ignore[misc]
    """A page's kernel ends when its page goes; only its owner may end it."""

    @web.authenticated
    async def post(self, kernel_id: str) -> None:
        _own_kernel(self, kernel_id)
        await super().post(kernel_id)


_OWN = {VoilaKernelWebsocketHandler: OwnKernelWebsocketHandler,
        VoilaShutdownKernelHandler: OwnKernelShutdownHandler}  # fmt: skip


class DashboardVoila(Voila):  # type: ignore[misc]
    """Voila with the kernel message filter and the hub's OAuth callback under the prefix."""

    def init_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = super().init_settings()
        self.kernel_manager.allowed_message_types = list(FROM_PAGE)
        IOLoop.current().add_callback(self.kernel_manager.keep_warm, self._warm_kernel())
        return settings

    def _warm_kernel(self) -> WarmKernel:
        """The waiting kernels: started as Voila starts a page's (its environment, minus the
        request's), having run the sign-in cell's and the notebook's imports."""
        notebook = nbformat.read(self.notebook_path, as_version=4)
        env = {
            **os.environ,
            "VOILA_PREHEAT": "False",
            "VOILA_BASE_URL": self.base_url,
            "VOILA_SERVER_URL": self.server_url,
        }
        return WarmKernel(
            kernel_name=notebook.metadata.get("kernelspec", {}).get("name", "python3"),
            path=os.path.dirname(self.notebook_path),
            env=env,
            code=warm_up_code(notebook, SIGN_IN_CELL.format(account="", language="en")),
        )

    def stop(self) -> None:
        """Kill every kernel at once when the hub stops the service, without the kernels'
        graceful shutdown (seconds each, and the hub stops its services one by one): a
        dashboard kernel holds nothing to save, each step being committed when it is taken."""
        for kernel_id in self.kernel_manager.list_kernel_ids():
            process = getattr(
                self.kernel_manager.get_kernel(kernel_id).provisioner, "process", None
            )
            if process is not None and process.poll() is None:
                process.kill()
        shutil.rmtree(self.connection_dir, ignore_errors=True)

    def init_handlers(self) -> list[Any]:
        # Voila mounts the identity provider's handlers (the OAuth callback) at "/", where the
        # hub's proxy never sends anything: mount them under the service prefix, first.
        own = self.identity_provider.get_handlers()
        rest = [h for h in super().init_handlers() if h[0] not in {path for path, *_ in own}]
        rest = [(path, _OWN.get(handler, handler), *spec) for path, handler, *spec in rest]
        return [(url_path_join(self.base_url, path), *spec) for path, *spec in own] + rest


def _config() -> Config:
    missing = [name for name in _HUB_VARIABLES if not os.environ.get(name)]
    if missing:
        raise ValueError(f"{', '.join(missing)} not set: the hub sets them for its services")
    address = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    config = Config()
    config.Voila.ip = address.hostname or "127.0.0.1"
    config.Voila.port = address.port or 80
    config.Voila.port_retries = 0  # the hub's proxy routes to this port and no other
    config.Voila.base_url = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    config.Voila.open_browser = False
    config.Voila.identity_provider_class = JupyterHubIdentityProvider
    config.Voila.authorizer_class = JupyterHubAuthorizer
    config.VoilaConfiguration.prelaunch_hook = sign_in_first
    config.VoilaConfiguration.multi_kernel_manager_class = OwnedKernels
    waiting = os.environ.get(WAITING_KERNELS, "2")
    if not waiting.isdigit():
        raise ValueError(f"{WAITING_KERNELS}={waiting!r}: expected a number of kernels, 0 or more")
    config.OwnedKernels.pool_size = int(waiting)
    config.MappingKernelManager.cull_idle_timeout = IDLE_MINUTES * 60
    config.MappingKernelManager.cull_interval = 60
    config.Voila.tornado_settings = {"headers": {"Content-Security-Policy": CONTENT_POLICY}}
    config.VoilaConfiguration.show_tracebacks = False  # a page shows messages, not stacks
    # the widgets' front end (ipywidgets' and Voila's manager for it) and none of the other
    # extensions installed beside them (plotly's alone is megabytes the page never uses)
    config.VoilaConfiguration.extension_allowlist = [
        "@jupyter-widgets/jupyterlab-manager",
        "@voila-dashboards/widgets-manager8",
    ]
    # The service's hub token stays in this process: kernels start with its environment.
    config.HubOAuth.api_token = os.environ.pop("JUPYTERHUB_API_TOKEN")
    return config


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        print(_USAGE, file=sys.stderr)
        sys.exit(2)
    notebook = Path(argv[0])
    if not notebook.is_file():
        print(f"dashboard notebook {notebook}: no such file", file=sys.stderr)
        sys.exit(2)
    try:
        config = _config()
    except ValueError as exc:
        print(f"dashboard {notebook.name}: {exc}", file=sys.stderr)
        sys.exit(2)
    # the page template (a first view drawn by the server) lives beside the notebooks
    templates = notebook.resolve().parent / "templates"
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(templates), os.environ.get("JUPYTER_PATH")])
    )
    config.VoilaConfiguration.template = "wgs-tre"
    app = DashboardVoila(config=config)
    app.initialize([str(notebook)])
    app.start()  # returns when the hub stops the service, every kernel killed (stop())
    # Skip the interpreter's teardown: closing the kernels' ZeroMQ sockets and threads takes a
    # second or two, and the hub stops its services one after another (the demo's Ctrl-C waits).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    run_service(lambda: main(sys.argv[1:]))
