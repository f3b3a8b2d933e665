"""Every process a hub starts ends with it: its proxy, its managed services (data service,
package proxy, session watch, idle culler, the steward dashboard and a page's kernel) and its
sessions with what their kernels started.
Both when the hub is stopped (SIGTERM: JupyterHub's own clean-up runs) and when it dies without
cleaning up (SIGKILL: a crash, the OOM killer, a harness giving up on a slow stop)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemons import alive, descendants
from tests.hub.dashboard_client import dashboard_url, signed_in
from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.hub.isolation import sweep

# What must be among the hub's descendants before it ends, so the census cannot pass empty.
EXPECTED = (
    "configurable-http-proxy",
    "wgs_tre.services.data",
    "wgs_tre.services.package_proxy",
    "wgs_tre.services.session_watch",
    "jupyterhub_idle_culler",
    "wgs_tre.dashboards.serve",
    "voila_",  # a dashboard page's kernel (its connection file is in Voila's directory)
    "jupyterhub-singleuser",
    "sleep 4242.31337",  # started by a kernel of the session
)


def command(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return ""


@pytest.fixture
def lone_hub(hub_world: World, policy_dir: Path, cgroup_filesystem: None) -> Iterator[Hub]:
    """A hub of the test's own: the test ends it."""
    hub = Hub(hub_world.store.url.render_as_string(False), policy_dir)
    hub.start()
    assert hub.proc is not None
    started = descendants(hub.proc.pid)
    yield hub
    for pid, _ in filter(alive, started):  # what a failed test left: not the next test's
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    sweep(hub.state / "sessions")  # a killed hub leaves its session's namespace and cgroup
    hub.stop()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_every_process_of_a_hub_ends_with_it(lone_hub: Hub, signum: signal.Signals) -> None:
    assert lone_hub.start_server("bob", "brca-study")[0] == 201
    code = "import subprocess; subprocess.Popen(['sleep', '4242.31337'], start_new_session=True)"
    lone_hub.execute("bob", "brca-study", code, keep_kernel=True)
    page = signed_in(lone_hub, "sam").get(dashboard_url(lone_hub, "wgs-tre-steward"), timeout=120)
    assert page.status_code == 200
    assert lone_hub.proc is not None
    running = {process: command(process[0]) for process in descendants(lone_hub.proc.pid)}
    for name in EXPECTED:
        assert any(name in line for line in running.values()), f"no {name} in {running}"

    lone_hub.proc.send_signal(signum)
    lone_hub.proc.wait(60)
    deadline = time.monotonic() + 15
    while (left := [line for process, line in running.items() if alive(process)]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert left == [], f"outlived the hub ({signum.name}): {left}"
