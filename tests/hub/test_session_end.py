"""Every process a session starts ends with it, however the session ends, and its token stops
working at the same moment. A kernel starts what a researcher might leave running (a plain
child, a detached ``setsid`` process, a double-forked daemon); the session is then ended by the
user, a suspension, a revocation, a member's removal or the idle culler; once the hub no longer
lists the server, none of them runs and the data service refuses the server's token."""

from __future__ import annotations

import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.hub.conftest import GRACE
from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.governance import approvals

LEAVE_RUNNING = """
import os, subprocess
mark = {mark!r}
subprocess.Popen(["sleep", mark + "1"])                              # a plain child
subprocess.Popen(["sleep", mark + "2"], start_new_session=True)      # detached
subprocess.Popen(["sh", "-c", f"(setsid sleep {{mark}}3 &) ; exit"])  # double-forked daemon
print(os.environ["JUPYTERHUB_API_TOKEN"], os.environ["WGS_TRE_DATA_SERVICE"])
"""


def running(mark: str) -> list[int]:
    """Host PIDs of the processes a test left running in a session (by their marked command)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if mark.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found


def data_service(url: str, token: str) -> int:
    request = urllib.request.Request(
        url.rstrip("/") + "/api/datasets", data=b"{}", method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def leave_processes(hub: Hub, user: str, project: str, mark: str) -> tuple[str, str]:
    assert hub.start_server(user, project)[0] == 201
    code = LEAVE_RUNNING.format(mark=mark)
    token, url = hub.execute(user, project, code, keep_kernel=True).split()
    deadline = time.monotonic() + 10
    while len(running(mark)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(running(mark)) == 3
    assert data_service(url, token) == 200
    return token, url


def until_gone(hub: Hub, user: str, project: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while project in hub.api("GET", f"/users/{user}")["servers"]:
        assert time.monotonic() < deadline, f"{user}/{project} outlived its end"
        time.sleep(0.1)


ENDINGS: dict[str, Callable[[Hub, World, str], None]] = {
    "stopped by the user": lambda hub, world, slug: hub.stop_server("bob", slug),
    "approval suspended": lambda hub, world, slug: approvals.suspend(
        world.ctx("sam"), slug, "annual review overdue"
    ),
    "approval revoked": lambda hub, world, slug: approvals.revoke(world.ctx("sam"), slug, "breach"),
    "member removed": lambda hub, world, slug: approvals.amend_members(
        world.ctx("sam"), slug, remove=["bob"]
    ),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_every_process_ends_with_the_session(hub: Hub, hub_world: World, ending: str) -> None:
    slug = "end-" + ending.split()[-1]
    hub_world.approved(slug, members=["bob"])
    mark = f"4242.{abs(hash(ending)) % 10**6:06d}"
    token, url = leave_processes(hub, "bob", slug, mark)
    ENDINGS[ending](hub, hub_world, slug)
    until_gone(hub, "bob", slug, GRACE + 10)
    assert running(mark) == []  # at the moment the hub lists the server no more
    assert data_service(url, token) == 403


@pytest.fixture(scope="module")
def culling_hub(hub_world: World, policy_dir: Path, tmp_path_factory: pytest.TempPathFactory,
                cgroup_filesystem: None) -> Iterator[Hub]:  # fmt: skip
    """A second hub whose idle culler stops sessions after 10 s without activity."""
    policies = tmp_path_factory.mktemp("culling-policies")
    for path in policy_dir.glob("*.yaml"):
        shutil.copy(path, policies / path.name)
    (policies / "sessions.yaml").write_text(
        f"idle_timeout_seconds: 10\nrevocation_grace_seconds: {GRACE}\n"
    )
    running_hub = Hub(hub_world.store.url.render_as_string(False), policies)
    running_hub.start()
    yield running_hub
    running_hub.stop()


def test_every_process_ends_when_the_idle_culler_stops_the_session(
    culling_hub: Hub, hub_world: World
) -> None:
    hub_world.approved("end-idle", members=["bob"])
    token, url = leave_processes(culling_hub, "bob", "end-idle", "4242.777001")
    until_gone(culling_hub, "bob", "end-idle", 60)
    assert running("4242.777001") == []
    assert data_service(url, token) == 403
