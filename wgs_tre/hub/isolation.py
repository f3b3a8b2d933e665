"""Servers isolated by the OS: the machinery every TRE server shares, whoever may start it.

:class:`IsolatedSpawner` starts a JupyterHub server in its own sandbox (``sandbox``: mount, PID,
IPC, UTS namespaces and a seccomp filter), network namespace (``netns``) and cgroup
(``cgroups``), as an unprivileged account, and ends every process of it at stop. What a server
may see and who may start it are hooks a subclass fills in:

* :meth:`IsolatedSpawner.authorize`: may this user start this server? Default: nobody (deny);
* :meth:`IsolatedSpawner.place`: its account, home, working directory, extra read-write and
  read-only paths and groups (a :class:`Placement`);
* :meth:`IsolatedSpawner.jupyter_config`: a directory of Jupyter configuration to put on
  ``JUPYTER_PATH`` (kernel specs, server and lab settings), or None;
* :meth:`IsolatedSpawner.ended`: after every end (to audit it).

``wgs_tre.hub.spawner.ProjectSpawner`` is the one for project sessions; a dashboard or report
server reuses the same isolation with its own rule.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import resource
import secrets
import shutil
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import maybe_future
from tornado import web
from traitlets import Integer, Unicode

from wgs_tre.config import load_settings
from wgs_tre.hub import accounts, cgroups, netns, registry, sandbox, seccomp
from wgs_tre.policy import Policies, SessionPolicy, load_policies

__all__ = ["IsolatedSpawner", "Placement", "hub_instance", "sweep"]

PACKAGE = Path(__file__).resolve().parents[1]  # wgs_tre/, read-only in every server
# Settings of the hub process that must not reach a server.
_PRIVATE_ENV = ("WGS_TRE_DATABASE_URL", "WGS_TRE_DATA_DIR", "WGS_TRE_CONFIG")
SHM_BYTES = 1 << 30  # a server's /dev/shm when its memory is not limited
# A server starts from the kernels compiled at install (a copy in its own home, refreshed when
# the installed ones are newer), so its first analysis does not compile them again.
KERNEL_CACHE_SEED = (
    'mkdir -p "$NUMBA_CACHE_DIR" && '
    'cp -Rup "$WGS_TRE_KERNEL_CACHE"/. "$NUMBA_CACHE_DIR"/ 2>/dev/null'
)


@dataclass(frozen=True)
class Placement:
    """Where a server lives: what its sandbox binds besides the system and the environment."""

    account: accounts.SessionAccount
    home: Path  # read-write, its own
    workdir: Path
    read_write: tuple[Path, ...] = ()
    read_only: tuple[Path, ...] = ()
    groups: tuple[tuple[str, int], ...] = field(default=())  # supplementary (name, gid)


class IsolatedSpawner(LocalProcessSpawner):  # type: ignore[misc]
    """A server in a sandbox, a network namespace and a cgroup; see the module docstring."""

    sessions_root = Unicode(
        "/var/lib/wgs-tre/sessions",
        config=True,
        help="Root of homes, workspaces, dispensals and sandboxes (owned by root, 0700).",
    )
    proxy_port = Integer(
        3128,
        config=True,
        help="Port of the filtering package proxy on the hub address (0: no proxy).",
    )
    data_service_url = Unicode(
        "",
        config=True,
        help="URL of the wgs-tre data service servers call to open data (on the hub address).",
    )
    kernel_cache = Unicode(
        str(Path(sys.prefix) / "share" / "wgs-tre" / "numba-cache"),
        config=True,
        help="Compiled analysis kernels (numba) made at install; every server starts from a copy "
        "in its home, so the first analysis in a new project does not compile them again.",
    )

    netns_name = Unicode("")
    sandbox_key = Unicode("")
    pid_namespace: sandbox.PidNamespace | None = None  # held while the server runs
    launched = False
    placement: Placement
    jupyter_path: Path | None = None
    cgroup: cgroups.SessionCgroup | None = None
    session_policy: SessionPolicy

    # -- hooks -------------------------------------------------------------------------------
    def authorize(self) -> None:
        """Raise ``web.HTTPError(403, reason)`` unless this user may start this server. Runs
        in a worker thread before anything is made. Default deny."""
        raise web.HTTPError(403, f"{type(self).__name__} lets nobody start a server")

    def place(self) -> Placement:
        """Accounts and directories of this server (worker thread). Default: the user's
        account and a home of its own for this server name, nothing else."""
        account = accounts.ensure_account(self.user.name, Path(self.sessions_root))
        home = accounts.ensure_home(account, self.name or "default")
        return Placement(account, home, workdir=home)

    def jupyter_config(self) -> Path | None:
        """A directory of Jupyter configuration for ``JUPYTER_PATH`` (worker thread)."""
        return None

    def ended(self) -> None:
        """Called (in a worker thread) once after each server that ran has ended."""

    # -- start -------------------------------------------------------------------------------
    def policies(self) -> Policies:
        return load_policies(load_settings().policy_dir)

    def _allowlist(self) -> list[tuple[str, int]]:
        hub = urlsplit(self.hub.api_url)
        allow = [(netns.HUB_ADDRESS, hub.port or 80)]
        if self.proxy_port:
            allow.append((netns.HUB_ADDRESS, self.proxy_port))
        if self.data_service_url:
            service = urlsplit(self.data_service_url)
            allow.append((netns.HUB_ADDRESS, service.port or 80))
        allow += [(str(e.address), e.port) for e in self.policies().egress.allow]
        return allow

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.authorize)
        self.placement = await loop.run_in_executor(None, self.place)
        self.sandbox_key = secrets.token_hex(5)
        try:
            plan = await loop.run_in_executor(
                None, netns.create, self.sandbox_key, self._allowlist()
            )
            self.netns_name, self.ip, self.port = plan.name, plan.ns_ip, 8888
            self.notebook_dir = str(self.placement.workdir)
            self.jupyter_path = await loop.run_in_executor(None, self.jupyter_config)
            self.session_policy = self.policies().sessions
            spec = await loop.run_in_executor(None, self._prepare_sandbox, self.session_policy)
            registry.register(Path(self.sessions_root), plan.ns_ip, self.user.name, self.name)
            address = await self._launch(spec)
            await self._until_ready(*address)
            return address
        except BaseException:
            await loop.run_in_executor(None, self._end_session)
            raise

    def _sandbox_dir(self) -> Path:
        return Path(self.sessions_root) / "sandboxes" / self.sandbox_key

    def _prepare_sandbox(self, policy: SessionPolicy) -> sandbox.SandboxSpec:
        """This server's cgroup, identity files and private temporary directory."""
        limits = cgroups.Limits(policy.memory, policy.cpus, policy.processes)
        self.cgroup = cgroups.create(hub_instance(self.sessions_root), self.sandbox_key, limits)
        if self.cgroup is None:
            self.log.warning("no cgroup filesystem: %s runs without memory or CPU limits "
                             "(processes are limited per account)", self._log_name)  # fmt: skip
        place, directory = self.placement, self._sandbox_dir()
        directory.parent.mkdir(mode=0o700, exist_ok=True)
        directory.mkdir(mode=0o700)
        hostname = (self.name or "session")[:63]
        sandbox.write_identity(
            directory / "etc", place.account.name, place.groups, place.home, hostname
        )
        scratch = directory / "tmp"
        scratch.mkdir(mode=0o700)
        os.chown(scratch, place.account.uid, place.account.gid)
        # The environment and what it reads: the package (an editable install lives outside
        # the environment), the policies (compute.yaml), the compiled kernels.
        prefix, cache = Path(sys.prefix), Path(self.kernel_cache)
        extra = [PACKAGE, _policy_dir(), *([cache] if cache.is_dir() else [])]
        environment = [prefix, *(p for p in extra if not p.is_relative_to(prefix))]
        config = [self.jupyter_path] if self.jupyter_path else []
        return sandbox.SandboxSpec(
            uid=place.account.uid,
            gid=place.account.gid,
            groups=tuple(gid for _, gid in place.groups),
            hostname=hostname,
            workdir=place.workdir,
            read_write=(*place.read_write, place.home),
            read_only=(*environment, *config, *place.read_only),
            scratch=scratch,
            etc=directory / "etc",
            shm_bytes=min(policy.memory // 4, SHM_BYTES) if policy.memory else SHM_BYTES,
            umask=0o007,  # shared directories are the group's: files stay group read-write
            setup=KERNEL_CACHE_SEED if cache.is_dir() else "",
        )

    async def _launch(self, spec: sandbox.SandboxSpec) -> tuple[str, int]:
        """Start the server in its sandbox (from the hub's main thread: the sandbox ends with
        the thread that started it) and hold its PID namespace."""
        argv = [*self.cmd, *self.get_args()]
        read_end, write_end = os.pipe()
        rules, rules_in = os.pipe()
        os.write(rules_in, seccomp.session_filter())
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
        """Return as soon as this server answers on its own address (its URL names the user
        and the server). JupyterHub's own check backs off exponentially (0.2 s, 0.4 s, ... up
        to 5 s), which adds about a second to a typical spawn."""
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
                f"the server exited while starting (status {self.proc.returncode}); "
                "its output is in the hub's log"
            )

    def make_preexec_fn(self, name: str) -> Callable[[], None]:
        namespace, cgroup = self.netns_name, self.cgroup
        processes = self.session_policy.processes

        def preexec() -> None:  # as root, in the child, before the sandbox starts
            netns.enter(namespace)
            if cgroup is not None:
                cgroup.join(os.getpid())  # everything the server starts is counted
            elif processes:  # no cgroups: at least bound the account's processes
                resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        for name in _PRIVATE_ENV:
            env.pop(name, None)
        place = self.placement
        env.update(
            USER=place.account.name,
            HOME=str(place.home),
            SHELL="/bin/bash",
            NUMBA_CACHE_DIR=str(place.home / ".cache" / "numba"),
            WGS_TRE_KERNEL_CACHE=self.kernel_cache,
            WGS_TRE_POLICY_DIR=str(_policy_dir()),
            WGS_TRE_USER=self.user.name,
            WGS_TRE_DATA_SERVICE=self.data_service_url,
        )
        if self.jupyter_path:
            env.update(
                JUPYTER_PATH=str(self.jupyter_path), JUPYTER_CONFIG_PATH=str(self.jupyter_path)
            )
        if self.proxy_port:
            proxy = f"http://{netns.HUB_ADDRESS}:{self.proxy_port}"
            env.update(HTTP_PROXY=proxy, HTTPS_PROXY=proxy, http_proxy=proxy, https_proxy=proxy)
            # The hub's own endpoints (API, data service) are reached directly, not proxied.
            direct = f"{netns.HUB_ADDRESS},127.0.0.1,localhost,{self.ip}"
            env.update(NO_PROXY=direct, no_proxy=direct)
        return env

    # -- stop --------------------------------------------------------------------------------
    async def stop(self, now: bool = False) -> None:
        try:
            await super().stop(now=now)  # ends bubblewrap, and with it the PID namespace
        finally:
            await asyncio.get_running_loop().run_in_executor(None, self._end_session)

    async def run_post_stop_hook(self) -> None:
        """After every stop, including a server that ended on its own (where JupyterHub does not
        call ``stop``): nothing of it is left, and :meth:`ended` is told."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._end_session)
        if self.launched:  # not for a spawn that was refused or failed before the server ran
            self.launched = False
            await loop.run_in_executor(None, self.ended)
        await maybe_future(super().run_post_stop_hook())

    def _end_session(self) -> None:
        """Every process of the server ends, then its network, cgroup and temporary files go.
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
        if self.ip:
            registry.unregister(Path(self.sessions_root), self.ip)
        if self.sandbox_key:
            shutil.rmtree(self._sandbox_dir(), ignore_errors=True)
            self.sandbox_key = ""

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
    """Names this hub's servers among others on the machine (a demo beside a test run)."""
    return "hub-" + hashlib.sha256(str(Path(sessions_root).resolve()).encode()).hexdigest()[:8]


def _policy_dir() -> Path:
    return Path(load_settings().policy_dir).resolve()


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - the server's own http address
        pass


def sweep(sessions_root: str | Path) -> list[str]:
    """At hub start: remove what servers of this hub left behind when it died (their processes
    ended with it): network namespaces, cgroups, temporary files, addresses. Returns the keys."""
    directory = Path(sessions_root) / "sandboxes"
    keys = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    for key in keys:
        netns.teardown(f"{netns.PREFIX}{key}")
        shutil.rmtree(directory / key, ignore_errors=True)
    cgroups.sweep(hub_instance(str(sessions_root)))
    registry.clear(Path(sessions_root))
    return keys
