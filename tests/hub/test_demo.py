"""``scripts/demo`` stops on SIGTERM, also when started in the background (where the shell
leaves SIGINT ignored): within 10 s every session and service of its hub has ended, nothing
of the session is left (processes, network namespace) and nothing printed a traceback. Its
state directory, which holds the raw cohort and the hub's secrets, is root's alone."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemons import alive, descendants, free_port
from wgs_tre.dashboards import DASHBOARDS
from wgs_tre.hub.isolation import sweep

REPO = Path(__file__).resolve().parents[2]


def namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in listed.splitlines() if line.strip()}


def sign_in_and_open(url: str, user: str, password: str, project: str) -> None:
    """What a researcher does in the browser: sign in, then start the project's session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{url}/hub/login").read()
    xsrf = next(c.value for c in jar if c.name == "_xsrf")
    form = urllib.parse.urlencode({"username": user, "password": password, "_xsrf": xsrf})
    landed = opener.open(f"{url}/hub/login", form.encode())  # on the TRE page, no server started
    assert landed.geturl() == f"{url}/hub/tre" and b'id="tre-researcher"' in landed.read()

    xsrf = [c.value for c in jar if c.name == "_xsrf"][-1]
    headers = {"X-XSRFToken": xsrf}
    api = f"{url}/hub/api/users/{user}"
    opener.open(urllib.request.Request(f"{api}/servers/{project}", method="POST", headers=headers))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        model = json.loads(opener.open(urllib.request.Request(api, headers=headers)).read())
        if model["servers"].get(project, {}).get("ready"):
            return
        time.sleep(0.3)
    raise AssertionError(f"{user}'s session of {project} did not start")


@pytest.fixture
def demo(cgroup_filesystem: None) -> Iterator[tuple[subprocess.Popen[bytes], Path, str]]:
    if os.geteuid() != 0:
        pytest.skip("the demo needs root")
    state = Path("/var/lib/wgs-tre-test") / f"demo-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **os.environ,
        "WGS_TRE_HUB_API_PORT": str(free_port()),
        "WGS_TRE_PROXY_API_URL": f"http://127.0.0.1:{free_port()}",
        "WGS_TRE_DATA_SERVICE_PORT": str(free_port()),
        "WGS_TRE_PACKAGE_PROXY_PORT": str(free_port()),
        **{board.port_variable: str(free_port()) for board in DASHBOARDS},
    }
    log = state.with_suffix(".log")
    state.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "demo_hub.py"), "--state", str(state),
             "--port", str(port), "--samples", "40", "--variants", "300"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            # as `scripts/demo &` in a shell: SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )  # fmt: skip
    deadline = time.monotonic() + 300
    while b"The TRE is up" not in log.read_bytes():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    yield process, state, f"http://127.0.0.1:{port}"
    # Whatever a failed stop left: processes of this demo's hub, its sessions' namespaces.
    mine = f"WGS_TRE_HUB_STATE={state / 'hub'}\0".encode()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if mine in Path(f"/proc/{entry}/environ").read_bytes():
                os.killpg(os.getpgid(int(entry)), signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    sweep(state / "hub" / "sessions")
    shutil.rmtree(state, ignore_errors=True)
    log.unlink(missing_ok=True)


def test_sigterm_stops_the_demo_with_every_session_and_service(
    demo: tuple[subprocess.Popen[bytes], Path, str],
) -> None:
    process, state, url = demo
    assert state.stat().st_mode & 0o077 == 0  # raw cohort, store, hub secrets: root's alone
    printed = state.with_suffix(".log").read_text()
    assert f"The steward dashboard (steward only): {url}/services/wgs-tre-steward/" in printed
    assert f"The panel dashboard (expert_panel only): {url}/services/wgs-tre-panel/" in printed
    passwords = dict(line.split() for line in (state / "passwords.txt").read_text().splitlines())
    before = namespaces()
    sign_in_and_open(url, "alice", passwords["alice"], "lung-cancer")
    running = descendants(process.pid)
    names = namespaces() - before  # the session's
    assert len(running) > 6 and len(names) == 1  # hub, proxy, services, bwrap, the server
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    stopping = time.monotonic() - started
    assert stopping < 10, stopping
    assert [p for p in running if alive(p)] == []
    assert not names & namespaces()
    output = state.with_suffix(".log").read_text()
    assert "Traceback" not in output and process.returncode == 0
