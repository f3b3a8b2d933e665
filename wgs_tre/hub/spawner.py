"""The project spawner: one JupyterHub named server per (user, approved project).

The server's name is the project's slug. Before anything starts, the governance store must say
the user is an active member of an approved project (not expired, suspended or revoked);
otherwise the spawn is refused with the reason and audited. A started server:

* runs as the user's unprivileged session account, carrying only this project's group;
* sees the project's workspace (read-write) and dispensal (read-only), nothing of other projects;
* lives in its own network namespace whose firewall allows the hub API, the filtering proxy and
  ``policies/egress.yaml`` only (see ``netns``);
* gets no store credentials: its environment names the project, its directories and the hub.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.spawner import LocalProcessSpawner
from tornado import web
from traitlets import Integer, Unicode

from wgs_tre.audit import record
from wgs_tre.config import load_settings
from wgs_tre.errors import NotFound
from wgs_tre.governance.membership import AccessRefused, check_active_member
from wgs_tre.hub import accounts, netns
from wgs_tre.policy import load_policies
from wgs_tre.store import Store
from wgs_tre.store.models import utcnow
from wgs_tre.types import Decision

__all__ = ["ProjectSpawner"]

KERNEL_TEMPLATE = Path(__file__).resolve().parents[2] / "kernels" / "wgs-tre" / "kernel.json"
# Settings of the hub process that must not reach a session.
_PRIVATE_ENV = ("WGS_TRE_DATABASE_URL", "WGS_TRE_DATA_DIR", "WGS_TRE_CONFIG", "WGS_TRE_POLICY_DIR")


class ProjectSpawner(LocalProcessSpawner):  # type: ignore[misc]
    """Named servers per project, isolated by the OS; see the module docstring."""

    sessions_root = Unicode(
        "/var/lib/wgs-tre/sessions",
        config=True,
        help="Root of session homes, project workspaces and dispensals (owned by root).",
    )
    proxy_port = Integer(
        3128,
        config=True,
        help="Port of the filtering package proxy on the hub address (0: no proxy).",
    )
    data_service_url = Unicode(
        "",
        config=True,
        help="URL of the wgs-tre data service sessions call to open data (on the hub address).",
    )
    examples_dir = Unicode(
        "",
        config=True,
        help="Notebooks copied into a project's workspace (as examples/) at its first session.",
    )

    netns_name = Unicode("")
    account: accounts.SessionAccount
    dirs: accounts.ProjectDirs
    jupyter_path: Path

    # -- governance --------------------------------------------------------------------------
    def _store(self) -> tuple[Store, Any]:
        settings = load_settings()
        return Store(settings.store_url), load_policies(settings.policy_dir)

    def _check(self) -> None:
        """Raise HTTP 403 (audited) unless the user may run a session of this project."""
        store, policies = self._store()
        slug, user = self.name, self.user.name
        try:
            try:
                with store.session() as session:
                    check_active_member(session, policies, user, slug, utcnow())
            except (AccessRefused, NotFound) as refusal:
                record(store, actor=user, action="session.start", project=slug or None,
                       decision=Decision.REFUSED, reason=refusal.message)  # fmt: skip
                raise web.HTTPError(
                    403, f"Cannot start a session of {slug}: {refusal.message}"
                ) from None
            record(store, actor=user, action="session.start", project=slug,
                   reason="member of an approved project")  # fmt: skip
        finally:
            store.dispose()

    # -- the process --------------------------------------------------------------------------
    def _allowlist(self) -> list[tuple[str, int]]:
        hub = urlsplit(self.hub.api_url)
        allow = [(netns.HUB_ADDRESS, hub.port or 80)]
        if self.proxy_port:
            allow.append((netns.HUB_ADDRESS, self.proxy_port))
        if self.data_service_url:
            service = urlsplit(self.data_service_url)
            allow.append((netns.HUB_ADDRESS, service.port or 80))
        _, policies = self._store()
        allow += [(str(e.address), e.port) for e in policies.egress.allow]
        return allow

    async def start(self) -> tuple[str, int]:
        if not self.name:
            raise web.HTTPError(
                400, "Sessions are per project: start a named server called after the project."
            )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._check)
        root = Path(self.sessions_root)
        self.account = await loop.run_in_executor(
            None, accounts.ensure_account, self.user.name, root
        )
        self.dirs = await loop.run_in_executor(None, accounts.ensure_project, self.name, root)
        if self.examples_dir:
            examples = Path(self.examples_dir)
            await loop.run_in_executor(None, accounts.seed_examples, self.dirs, examples)
        plan = netns.plan(secrets.token_hex(5), allow=self._allowlist())
        await loop.run_in_executor(None, netns.setup, plan)
        self.netns_name = plan.name
        self.ip = plan.ns_ip
        self.port = 8888
        self.notebook_dir = str(self.dirs.workspace)
        self.jupyter_path = await loop.run_in_executor(None, self._kernel_path)
        self._register(plan.ns_ip)
        try:
            address: tuple[str, int] = await super().start()
            await self._until_listening(*address)
            return address
        except BaseException:
            netns.teardown(plan.name)
            self._unregister()
            raise

    async def _until_listening(self, host: str, port: int) -> None:
        """Return as soon as the server accepts connections. JupyterHub's own readiness check
        backs off exponentially (0.2 s, 0.4 s, ... up to 5 s), which adds about a second to a
        typical spawn; polling here every 50 ms hands it a server that is already up."""
        deadline = asyncio.get_running_loop().time() + self.start_timeout
        while asyncio.get_running_loop().time() < deadline and self.proc.poll() is None:
            try:
                _, writer = await asyncio.open_connection(host, port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)

    # The registry maps a session's address to its user and project, for services that only
    # see a client address (the package proxy's audit events).
    def _registry(self) -> Path:
        path = Path(self.sessions_root) / "run"
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def _kernel_path(self) -> Path:
        """Render the "WGS TRE - <project>" kernel spec where this session's Jupyter finds it."""
        template = json.loads(KERNEL_TEMPLATE.read_text())
        template["argv"] = [sys.executable if a == "{python}" else a for a in template["argv"]]
        template["display_name"] = template["display_name"].replace("{project}", self.name)
        root: Path = Path(self.sessions_root) / "kernels" / str(self.name)
        spec = root / "kernels" / "wgs-tre"
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps(template, indent=1))
        for path in (root.parent, root, root / "kernels", spec):
            path.chmod(0o755)
        (spec / "kernel.json").chmod(0o644)
        # JupyterLab's news pop-up fetches from the internet, which sessions cannot reach.
        labconfig = root / "labconfig"
        labconfig.mkdir(exist_ok=True)
        disabled = {"@jupyterlab/apputils-extension:announcements": True}
        (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
        labconfig.chmod(0o755)
        (labconfig / "page_config.json").chmod(0o644)
        # Server extensions a session does not use cost start-up time (language servers would
        # also scan the machine): leave them off.
        unused = {"jupyter_lsp": False, "notebook_shim": False}
        server_config = {"ServerApp": {"jpserver_extensions": unused}}
        (root / "jupyter_server_config.json").write_text(json.dumps(server_config))
        (root / "jupyter_server_config.json").chmod(0o644)
        return root

    def _register(self, address: str) -> None:
        (self._registry() / address).write_text(f"{self.user.name} {self.name}\n")

    def _unregister(self) -> None:
        if self.ip:
            (self._registry() / self.ip).unlink(missing_ok=True)

    def make_preexec_fn(self, name: str) -> Callable[[], None]:
        namespace, account, dirs = self.netns_name, self.account, self.dirs

        def preexec() -> None:
            netns.enter(namespace)  # while still root
            os.setgroups([dirs.gid])  # this project's group only
            os.setgid(account.gid)
            os.setuid(account.uid)
            os.umask(0o007)
            os.chdir(dirs.workspace)

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        for name in _PRIVATE_ENV:
            env.pop(name, None)
        proxy = f"http://{netns.HUB_ADDRESS}:{self.proxy_port}" if self.proxy_port else ""
        env.update(
            USER=self.account.name,
            HOME=str(self.account.home),
            SHELL="/bin/bash",
            WGS_TRE_USER=self.user.name,
            WGS_TRE_PROJECT=self.name,
            WGS_TRE_WORKSPACE=str(self.dirs.workspace),
            WGS_TRE_DISPENSAL=str(self.dirs.dispensal),
            WGS_TRE_DATA_SERVICE=self.data_service_url,
            JUPYTER_PATH=str(self.jupyter_path),
            JUPYTER_CONFIG_PATH=str(self.jupyter_path),
        )
        if proxy:
            env.update(HTTP_PROXY=proxy, HTTPS_PROXY=proxy, http_proxy=proxy, https_proxy=proxy)
            # The hub's own endpoints (API, data service) are reached directly, not proxied.
            direct = f"{netns.HUB_ADDRESS},127.0.0.1,localhost,{self.ip}"
            env.update(NO_PROXY=direct, no_proxy=direct)
        return env

    async def stop(self, now: bool = False) -> None:
        try:
            await super().stop(now=now)
        finally:
            if self.netns_name:
                netns.teardown(self.netns_name)
                self.netns_name = ""
            self._unregister()
            await asyncio.get_running_loop().run_in_executor(None, self._audit_stop)

    def _audit_stop(self) -> None:
        store, _ = self._store()
        try:
            record(store, actor=self.user.name, action="session.stop", project=self.name or None,
                   reason="server stopped")  # fmt: skip
        finally:
            store.dispose()

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        if self.netns_name:
            state["netns"] = self.netns_name
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.netns_name = state.get("netns", "")
