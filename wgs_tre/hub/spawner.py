"""The project spawner: one JupyterHub named server per (user, approved project).

The server's name is the project's slug. Before anything starts, the governance store must say
the user is an active member of an approved project (not expired, suspended or revoked);
otherwise the spawn is refused with the reason and audited. A started server:

* runs as the user's unprivileged session account, carrying only this project's group;
* lives in a sandbox (``sandbox``): mount, PID, IPC and UTS namespaces of its own in which only
  the system, the Python environment, the project's workspace and dispensal, a home of this
  (user, project) and private temporary directories exist;
* lives in its own network namespace whose firewall allows the hub API, the filtering proxy and
  ``policies/egress.yaml`` only (see ``netns``);
* is held to ``policies/sessions.yaml``'s memory, CPU and process limits (``cgroups``);
* gets no store credentials: its environment names the project, its directories and the hub.

Stopping it, however that is asked for (the user, the idle culler, the session watcher after a
suspension, revocation, expiry or member removal), ends every process it started before the hub
deletes its API token, then removes its network namespace, cgroup and temporary files.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import resource
import secrets
import shutil
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import maybe_future
from tornado import web
from traitlets import Integer, Unicode

from wgs_tre.audit import record
from wgs_tre.config import load_settings
from wgs_tre.errors import NotFound
from wgs_tre.governance.membership import AccessRefused, check_active_member
from wgs_tre.hub import accounts, cgroups, netns, sandbox, seccomp
from wgs_tre.policy import Policies, SessionPolicy, load_policies
from wgs_tre.store import Store
from wgs_tre.store.models import utcnow
from wgs_tre.types import Decision

__all__ = ["ProjectSpawner", "hub_instance", "sweep"]

PACKAGE = Path(__file__).resolve().parents[1]  # wgs_tre/, read-only in every session
KERNEL_TEMPLATE = PACKAGE.parent / "kernels" / "wgs-tre" / "kernel.json"
# Settings of the hub process that must not reach a session.
_PRIVATE_ENV = ("WGS_TRE_DATABASE_URL", "WGS_TRE_DATA_DIR", "WGS_TRE_CONFIG")
SHM_BYTES = 1 << 30  # a session's /dev/shm when its memory is not limited
# A session starts from the kernels compiled at install (a copy in its own home, refreshed when
# the installed ones are newer), so its first analysis does not compile them again.
KERNEL_CACHE_SEED = (
    'mkdir -p "$NUMBA_CACHE_DIR" && '
    'cp -Rup "$WGS_TRE_KERNEL_CACHE"/. "$NUMBA_CACHE_DIR"/ 2>/dev/null'
)


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
    kernel_cache = Unicode(
        str(Path(sys.prefix) / "share" / "wgs-tre" / "numba-cache"),
        config=True,
        help="Compiled analysis kernels (numba) made at install; every session starts from a copy "
        "in its home, so the first analysis in a new project does not compile them again.",
    )

    netns_name = Unicode("")
    sandbox_key = Unicode("")
    pid_namespace: sandbox.PidNamespace | None = None  # held while the session runs
    launched = False
    account: accounts.SessionAccount
    dirs: accounts.ProjectDirs
    home: Path
    jupyter_path: Path
    cgroup: cgroups.SessionCgroup | None = None
    session_policy: SessionPolicy

    # -- governance --------------------------------------------------------------------------
    def _store(self) -> Store:
        return Store(load_settings().store_url)

    def _policies(self) -> Policies:
        return load_policies(load_settings().policy_dir)

    def _check(self) -> None:
        """Raise HTTP 403 (audited) unless the user may run a session of this project."""
        store, policies = self._store(), self._policies()
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
        allow += [(str(e.address), e.port) for e in self._policies().egress.allow]
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
        self.home = await loop.run_in_executor(None, accounts.ensure_home, self.account, self.name)
        if self.examples_dir:
            examples = Path(self.examples_dir)
            await loop.run_in_executor(None, accounts.seed_examples, self.dirs, examples)
        self.sandbox_key = secrets.token_hex(5)
        try:
            plan = await loop.run_in_executor(
                None, netns.create, self.sandbox_key, self._allowlist()
            )
            self.netns_name, self.ip, self.port = plan.name, plan.ns_ip, 8888
            self.notebook_dir = str(self.dirs.workspace)
            self.jupyter_path = await loop.run_in_executor(None, self._kernel_path)
            self.session_policy = self._policies().sessions
            spec = await loop.run_in_executor(None, self._prepare_sandbox, self.session_policy)
            self._register(plan.ns_ip)
            address = await self._launch(spec)
            await self._until_ready(*address)
            return address
        except BaseException:
            await loop.run_in_executor(None, self._end_session)
            raise

    def _sandbox_dir(self) -> Path:
        return Path(self.sessions_root) / "sandboxes" / self.sandbox_key

    def _prepare_sandbox(self, policy: SessionPolicy) -> sandbox.SandboxSpec:
        """This session's cgroup, identity files and private temporary directory."""
        limits = cgroups.Limits(policy.memory, policy.cpus, policy.processes)
        self.cgroup = cgroups.create(hub_instance(self.sessions_root), self.sandbox_key, limits)
        if self.cgroup is None:
            self.log.warning("no cgroup filesystem: %s runs without memory or CPU limits "
                             "(processes are limited per account)", self._log_name)  # fmt: skip
        directory = self._sandbox_dir()
        directory.parent.mkdir(mode=0o700, exist_ok=True)
        directory.mkdir(mode=0o700)
        sandbox.write_identity(
            directory / "etc", self.account.name, self.dirs.group, self.home, self.name[:63]
        )
        scratch = directory / "tmp"
        scratch.mkdir(mode=0o700)
        os.chown(scratch, self.account.uid, self.account.gid)
        # The environment and what it reads: the package (an editable install lives outside
        # the environment), the policies (compute.yaml), the compiled kernels.
        prefix, cache = Path(sys.prefix), Path(self.kernel_cache)
        extra = [PACKAGE, _policy_dir(), *([cache] if cache.is_dir() else [])]
        environment = [prefix, *(p for p in extra if not p.is_relative_to(prefix))]
        return sandbox.SandboxSpec(
            uid=self.account.uid,
            gid=self.account.gid,
            groups=(self.dirs.gid,),
            hostname=self.name[:63],
            workdir=self.dirs.workspace,
            read_write=(self.dirs.workspace, self.home),
            read_only=(*environment, self.jupyter_path, self.dirs.dispensal),
            scratch=scratch,
            etc=directory / "etc",
            shm_bytes=min(policy.memory // 4, SHM_BYTES) if policy.memory else SHM_BYTES,
            umask=0o007,  # the workspace is the project's: files stay group read-write
            setup=KERNEL_CACHE_SEED if cache.is_dir() else "",
        )

    async def _launch(self, spec: sandbox.SandboxSpec) -> tuple[str, int]:
        """Start the server in its sandbox (from the hub's main thread: the sandbox ends with
        the thread that started it) and learn its PID namespace."""
        argv = [*self.cmd, *self.get_args()]
        read_end, write_end = os.pipe()
        rules, rules_in = os.pipe()
        os.write(rules_in, seccomp.no_user_namespaces())
        os.close(rules_in)
        spec = dataclasses.replace(spec, info_fd=write_end, seccomp_fd=rules)
        try:
            self.proc = Popen(
                sandbox.command(spec, argv),
                env=self.get_env(),
                preexec_fn=self.make_preexec_fn(self.user.name),
                start_new_session=True,
                pass_fds=(write_end, rules),
            )
        finally:
            os.close(write_end)
            os.close(rules)
        self.pid, self.launched = self.proc.pid, True
        info = await asyncio.get_running_loop().run_in_executor(None, sandbox.read_info, read_end)
        try:
            self.pid_namespace = sandbox.PidNamespace(info["child-pid"])
        except FileNotFoundError:  # the sandbox ended at once: nothing left in it to end
            self.pid_namespace = None
        return self.ip, self.port

    async def _until_ready(self, host: str, port: int) -> None:
        """Return as soon as this session's own server answers on its own address (its URL
        names the user and the project). JupyterHub's own check backs off exponentially
        (0.2 s, 0.4 s, ... up to 5 s), which adds about a second to a typical spawn."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        url = f"http://{host}:{port}{self.server.base_url}api"
        while loop.time() < deadline and self.proc.poll() is None:
            try:
                await loop.run_in_executor(None, _get, url)
                return
            except OSError:
                await asyncio.sleep(0.05)
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"the session's server exited while starting (status {self.proc.returncode}); "
                "its output is in the hub's log"
            )

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
        # also scan the machine): leave them off. JupyterLab's extension manager lists what is
        # installed and offers nothing from PyPI (0.15 s less CPU per start).
        unused = {"jupyter_lsp": False, "notebook_shim": False}
        server_config = {
            "ServerApp": {"jpserver_extensions": unused},
            "LabApp": {"extension_manager": "readonly"},
        }
        (root / "jupyter_server_config.json").write_text(json.dumps(server_config))
        (root / "jupyter_server_config.json").chmod(0o644)
        return root

    def _register(self, address: str) -> None:
        (self._registry() / address).write_text(f"{self.user.name} {self.name}\n")

    def _unregister(self) -> None:
        if self.ip:
            (self._registry() / self.ip).unlink(missing_ok=True)

    def make_preexec_fn(self, name: str) -> Callable[[], None]:
        namespace, cgroup = self.netns_name, self.cgroup
        processes = self.session_policy.processes

        def preexec() -> None:  # as root, in the child, before the sandbox starts
            netns.enter(namespace)
            if cgroup is not None:
                cgroup.join(os.getpid())  # everything the session starts is counted
            elif processes:  # no cgroups: at least bound the account's processes
                resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        for name in _PRIVATE_ENV:
            env.pop(name, None)
        proxy = f"http://{netns.HUB_ADDRESS}:{self.proxy_port}" if self.proxy_port else ""
        env.update(
            USER=self.account.name,
            HOME=str(self.home),
            SHELL="/bin/bash",
            NUMBA_CACHE_DIR=str(self.home / ".cache" / "numba"),
            WGS_TRE_KERNEL_CACHE=self.kernel_cache,
            WGS_TRE_POLICY_DIR=str(_policy_dir()),
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
            await super().stop(now=now)  # ends bubblewrap, and with it the PID namespace
        finally:
            await asyncio.get_running_loop().run_in_executor(None, self._end_session)

    async def run_post_stop_hook(self) -> None:
        """After every stop, including a server that ended on its own (where JupyterHub does not
        call ``stop``): nothing of the session is left, and the end is audited."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._end_session)
        if self.launched:  # not for a spawn that was refused or failed before the server ran
            self.launched = False
            await loop.run_in_executor(None, self._audit_stop)
        await maybe_future(super().run_post_stop_hook())

    def _end_session(self) -> None:
        """Every process of the session ends, then its network, cgroup and temporary files go.
        Runs before JupyterHub deletes the server's API token."""
        if self.pid_namespace is not None:
            left = sandbox.kill_until_gone(self.pid_namespace.pids)
            if left:
                self.log.error("processes of %s would not end: %s", self._log_name, sorted(left))
            self.pid_namespace.close()
            self.pid_namespace = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.netns_name:
            netns.teardown(self.netns_name)
            self.netns_name = ""
        self._unregister()
        if self.sandbox_key:
            shutil.rmtree(self._sandbox_dir(), ignore_errors=True)
            self.sandbox_key = ""

    def _audit_stop(self) -> None:
        store = self._store()
        try:
            record(store, actor=self.user.name, action="session.stop", project=self.name or None,
                   reason="server stopped")  # fmt: skip
        finally:
            store.dispose()

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        if self.sandbox_key:
            state["sandbox"] = self.sandbox_key
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        """After a hub restart. Sandboxes end with the hub that started them, so what a restart
        finds is at most a cgroup (by its unique key), a namespace and files to remove."""
        super().load_state(state)
        self.sandbox_key = state.get("sandbox", "")
        self.netns_name = f"{netns.PREFIX}{self.sandbox_key}" if self.sandbox_key else ""
        if self.sandbox_key:
            self.cgroup = cgroups.find(hub_instance(self.sessions_root), self.sandbox_key)


def hub_instance(sessions_root: str) -> str:
    """Names this hub's sessions among others on the machine (a demo beside a test run)."""
    return "hub-" + hashlib.sha256(str(Path(sessions_root).resolve()).encode()).hexdigest()[:8]


def _policy_dir() -> Path:
    return Path(load_settings().policy_dir).resolve()


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - the session's own http address
        pass


def sweep(sessions_root: str | Path) -> list[str]:
    """At hub start: remove what sessions of this hub left behind when it died (their
    processes ended with it): network namespaces, cgroups, temporary files. Returns the keys."""
    directory = Path(sessions_root) / "sandboxes"
    keys = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    for key in keys:
        netns.teardown(f"{netns.PREFIX}{key}")
        shutil.rmtree(directory / key, ignore_errors=True)
    cgroups.sweep(hub_instance(str(sessions_root)))
    run = Path(sessions_root) / "run"
    for address in run.iterdir() if run.is_dir() else []:
        address.unlink()
    return keys
