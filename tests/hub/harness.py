"""A real JupyterHub (with configurable-http-proxy and the project spawner) for tests, driven
through its REST API with a service token, and a kernel client speaking the Jupyter protocol
over the server's websocket."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tornado.httpclient import HTTPRequest
from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

from tests.daemons import free_port
from wgs_tre.dashboards import DASHBOARDS
from wgs_tre.dashboards.registry import WAITING_KERNELS

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Hub:
    store_url: str
    policy_dir: Path
    extra_config: str = ""
    config_file: Path = REPO / "hub" / "jupyterhub_config.py"  # the project's; or another
    # kernels each dashboard keeps warm (production: 2); none unless a test opens dashboard
    # pages, so the many hubs the suite starts do not each start four kernels
    waiting_kernels: int = 0
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    state: Path = field(
        default_factory=lambda: Path("/var/lib/wgs-tre-test") / uuid.uuid4().hex[:8]
    )
    proc: subprocess.Popen[bytes] | None = None
    user_tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.hub_api_port = free_port()
        self.package_proxy_port = free_port()
        self.dashboard_ports = {board: free_port() for board in DASHBOARDS}
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.state.mkdir(parents=True)
        self.state.parent.chmod(0o711)
        self.state.chmod(0o711)
        config = self.state / "test_config.py"
        config.write_text(
            f"c = get_config()\nload_subconfig({str(self.config_file)!r})\n"
            f"c.JupyterHub.services.append({{'name': 'tester', 'api_token': {self.token!r}}})\n"
            "c.JupyterHub.load_roles.append({'name': 'tester', 'services': ['tester'], 'scopes': "
            "['admin:users', 'admin:servers', 'access:servers', 'read:users', 'users', 'tokens', "
            "'list:services', 'read:services', 'shares']})\n"
            f"{self.extra_config}\n"
        )
        env = {
            **os.environ,
            "WGS_TRE_HUB_STATE": str(self.state),
            "WGS_TRE_HUB_URL": self.url,
            "WGS_TRE_HUB_API_PORT": str(self.hub_api_port),
            "WGS_TRE_PROXY_API_URL": f"http://127.0.0.1:{free_port()}",
            "WGS_TRE_DATA_SERVICE_PORT": str(free_port()),
            "WGS_TRE_PACKAGE_PROXY_PORT": str(self.package_proxy_port),
            **{board.port_variable: str(port) for board, port in self.dashboard_ports.items()},
            WAITING_KERNELS: str(self.waiting_kernels),
            "WGS_TRE_DATABASE_URL": self.store_url,
            "WGS_TRE_POLICY_DIR": str(self.policy_dir),
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
        self.log = (self.state / "hub.log").open("wb")
        self.proc = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(config)], cwd=self.state, env=env,
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited:\n{self.logs()}")
            try:
                self.api("GET", "/")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        self.proc.kill()  # no test will stop it; its services and proxy end with it
        raise RuntimeError(f"the hub did not come up:\n{self.logs()}")

    def logs(self) -> str:
        return (self.state / "hub.log").read_text(errors="replace")[-8000:]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:  # seen: the hub can hang cleaning up services
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.state, ignore_errors=True)

    # -- REST ---------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"token {token or self.token}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            try:
                return error.code, json.loads(text)
            except json.JSONDecodeError:
                return error.code, text

    def as_user(self, user: str, method: str, path: str) -> tuple[int, Any]:
        """A request with a token of ``user``'s own."""
        return self.request(method, path, token=self.user_token(user))

    def user_token(self, user: str) -> str:
        """A token of ``user``'s own, with all of the user's permissions (made once per user)."""
        if user not in self.user_tokens:
            self.ensure_user(user)
            made = self.api("POST", f"/users/{user}/tokens", {"note": "test", "expires_in": 3600})
            self.user_tokens[user] = made["token"]
        return self.user_tokens[user]

    def api(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self.request(method, f"/hub/api{path}", body)
        if status >= 400:
            raise urllib.error.HTTPError(path, status, str(payload), None, None)  # type: ignore[arg-type]
        return payload

    def ensure_user(self, name: str) -> None:
        status, _ = self.request("GET", f"/hub/api/users/{name}")
        if status == 404:
            self.api("POST", f"/users/{name}")

    def start_server(self, user: str, server: str, timeout: float = 90) -> tuple[int, str]:
        """Start a named server; return (HTTP status, message) and wait until it is ready."""
        self.ensure_user(user)
        status, payload = self.request("POST", f"/hub/api/users/{user}/servers/{server}")
        if status == 400 and "already running" in str(payload):
            status = 201
        if status >= 400:
            return status, payload.get("message", "") if isinstance(payload, dict) else str(payload)
        return self.wait_for_spawn(user, server, timeout)

    def wait_for_spawn(self, user: str, server: str, timeout: float = 90) -> tuple[int, str]:
        """Wait for a spawn the hub has accepted: (201, "ready") or why it failed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{user}")
            state = model["servers"].get(server)
            if state and state["ready"]:
                return 201, "ready"
            if not state or (not state["pending"] and not state["ready"]):
                return self._spawn_failure(user, server)
            time.sleep(0.2)
        return 504, "timed out"

    def _spawn_failure(self, user: str, server: str) -> tuple[int, str]:
        """Why a spawn failed after the hub had answered 202 (it answers so when a spawn takes
        longer than its slow_spawn_timeout): the spawner's error, as the progress stream a
        user's browser follows reports it, with the HTTP status that error carried."""
        request = urllib.request.Request(
            f"{self.url}/hub/api/users/{user}/servers/{server}/progress",
            headers={"Authorization": f"token {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                stream = response.read().decode()
        except urllib.error.HTTPError as error:
            stream = error.read().decode()
        events = [json.loads(line[5:]) for line in stream.splitlines() if line.startswith("data:")]
        message = events[-1].get("message", "") if events else ""
        carried = re.search(r"HTTP (\d{3})", message)
        if carried:
            return int(carried.group(1)), message
        return 500, f"server failed to start: {message}\n{self.logs()}"

    def stop_server(self, user: str, server: str) -> None:
        self.request("DELETE", f"/hub/api/users/{user}/servers/{server}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server not in self.api("GET", f"/users/{user}")["servers"]:
                return
            time.sleep(0.2)

    # -- kernels ------------------------------------------------------------------------------
    def execute(
        self,
        user: str,
        server: str,
        code: str,
        timeout: float = 120,
        kernel: str = "python3",
        keep_kernel: bool = False,
        token: str | None = None,
    ) -> str:
        """Run ``code`` in a new kernel of the server; return its stdout (raise on an error).
        The kernel is shut down after, unless ``keep_kernel`` (it then runs until the server
        ends). ``token``: whose requests these are (default: the tester service's)."""
        return self.execute_streams(user, server, code, timeout, kernel, keep_kernel, token)[0]

    def execute_streams(
        self,
        user: str,
        server: str,
        code: str,
        timeout: float = 120,
        kernel: str = "python3",
        keep_kernel: bool = False,
        token: str | None = None,
    ) -> tuple[str, str]:
        """As :meth:`execute`, returning (stdout, stderr)."""
        base = f"/user/{user}/{server}/api"
        token = token or self.token
        status, started = self.request("POST", f"{base}/kernels", {"name": kernel}, token)
        assert status == 201, started
        kernel_id = started["id"]
        try:
            return IOLoop().run_sync(
                lambda: self._run(base, kernel_id, code, token), timeout=timeout
            )
        finally:
            if not keep_kernel:
                self.request("DELETE", f"{base}/kernels/{kernel_id}")

    async def _run(self, base: str, kernel_id: str, code: str, token: str) -> tuple[str, str]:
        url = self.url.replace("http", "ws") + f"{base}/kernels/{kernel_id}/channels"
        socket_ = await websocket_connect(  # generous: a busy machine starts kernels slowly
            HTTPRequest(
                url,
                headers={"Authorization": f"token {token}"},
                connect_timeout=60,
                request_timeout=60,
            )
        )
        msg_id = uuid.uuid4().hex
        socket_.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))  # fmt: skip
        streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
        error = None
        while True:
            raw = await socket_.read_message()
            if raw is None:
                raise RuntimeError("kernel websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                streams[msg["content"]["name"]].append(msg["content"]["text"])
            elif kind == "error":
                error = f"{msg['content']['ename']}: {msg['content']['evalue']}"
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                break
        socket_.close()
        out, err = "".join(streams["stdout"]), "".join(streams["stderr"])
        if error:
            raise KernelError(error, out + err)
        return out, err


class KernelError(Exception):
    def __init__(self, error: str, output: str) -> None:
        super().__init__(error)
        self.error = error
        self.output = output
