"""One session cannot starve the others: a fork bomb and a memory hog in one session are held
by its cgroup (``policies/sessions.yaml``: memory, processes) while another session's kernel
and the hub keep answering; stopping the bomb's session ends every one of its processes. And
any number of sessions can start at once: each gets an address of its own, answers its owner
and refuses everyone else."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hub.conftest import GRACE
from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.governance import users
from wgs_tre.hub import cgroups
from wgs_tre.hub.isolation import hub_instance
from wgs_tre.types import Role

MEMORY = 1 << 30
PROCESSES = 300
CPUS = 1  # of this machine's 2: a session cannot take more


@pytest.fixture(scope="module")
def limited_hub(
    hub_world: World, policy_dir: Path, tmp_path_factory: pytest.TempPathFactory,
    cgroup_filesystem: None,
) -> Iterator[Hub]:  # fmt: skip
    if not cgroups.available():
        pytest.skip("no cgroup filesystem: sessions run without memory limits")
    policies = tmp_path_factory.mktemp("limited-policies")
    for path in policy_dir.glob("*.yaml"):
        shutil.copy(path, policies / path.name)
    (policies / "sessions.yaml").write_text(
        f"idle_timeout_seconds: 3600\nrevocation_grace_seconds: {GRACE}\n"
        f"memory: {MEMORY}\nprocesses: {PROCESSES}\ncpus: {CPUS}\n"
    )
    running = Hub(hub_world.store.url.render_as_string(False), policies)
    running.start()
    yield running
    running.stop()


def answers_within(hub: Hub, user: str, project: str, seconds: float) -> float:
    start = time.monotonic()
    assert hub.execute(user, project, "print(6 * 7)", timeout=seconds).strip() == "42"
    return time.monotonic() - start


def session_processes(hub: Hub) -> dict[str, set[int]]:
    """The processes of each of the hub's sessions, from their cgroups (reading a process's
    command line or environment would wait behind a fork bomb's forks)."""
    instance = hub_instance(str(hub.state / "sessions"))
    return {cgroup.key: cgroup.pids() for cgroup in cgroups.sessions(instance)}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_fork_bomb_is_contained(limited_hub: Hub, hub_world: World) -> None:
    hub_world.approved("bomb-site", members=["bob"])
    assert limited_hub.start_server("bob", "bomb-site")[0] == 201
    assert limited_hub.start_server("alice", "brca-study")[0] == 201
    bomb = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import os\\nwhile True:\\n"
        "    try:\\n        os.fork()\\n    except OSError:\\n        pass'],\n"
        "                 start_new_session=True)\n"
    )
    limited_hub.execute("bob", "bomb-site", bomb, keep_kernel=True)
    time.sleep(5)  # the bomb has filled its session
    running = session_processes(limited_hub)
    bomb_key = max(running, key=lambda key: len(running[key]))
    assert PROCESSES / 2 <= len(running[bomb_key]) <= PROCESSES
    assert answers_within(limited_hub, "alice", "brca-study", 30) < 10
    assert limited_hub.request("GET", "/hub/api/")[0] == 200
    limited_hub.stop_server("bob", "bomb-site")
    assert bomb_key not in session_processes(limited_hub)
    assert [pid for pid in running[bomb_key] if alive(pid)] == []


def test_a_memory_hog_is_contained(limited_hub: Hub, hub_world: World) -> None:
    hub_world.approved("hog-site", members=["bob"])
    assert limited_hub.start_server("bob", "hog-site")[0] == 201
    assert limited_hub.start_server("alice", "brca-study")[0] == 201
    hog = (
        "import subprocess, sys\n"
        f"r = subprocess.run([sys.executable, '-c', 'b = b\"x\" * {2 * MEMORY}'])\n"
        "print(r.returncode)\n"
    )
    with ThreadPoolExecutor(1) as pool:
        hogging = pool.submit(limited_hub.execute, "bob", "hog-site", hog, 120)
        time.sleep(1)
        assert answers_within(limited_hub, "alice", "brca-study", 30) < 10
        assert hogging.result().strip() == "-9"  # the kernel ended the hog, in its cgroup only
    assert answers_within(limited_hub, "bob", "hog-site", 30) < 10  # the session lives on


def test_ten_sessions_start_at_once_each_on_its_own_address(
    limited_hub: Hub, hub_world: World
) -> None:
    pairs = [(f"crowd{i}", f"crowd-{i}") for i in range(10)]
    for user, project in pairs:
        users.create_user(hub_world.ctx("root1"), user, roles={Role.RESEARCHER},
                          organisation="Uni A")  # fmt: skip
        hub_world.approved(project, lead=user, members=[])
    with ThreadPoolExecutor(10) as pool:
        started = list(pool.map(lambda pair: limited_hub.start_server(*pair), pairs))
    assert [status for status, _ in started] == [201] * 10, started
    # The spawner's registry of addresses (what the package proxy attributes traffic by): ten
    # addresses, each naming its own session.
    registry = limited_hub.state / "sessions" / "run"
    crowd = {path.name: path.read_text().strip() for path in registry.iterdir()}
    crowd = {address: owner for address, owner in crowd.items() if owner.startswith("crowd")}
    assert sorted(crowd.values()) == sorted(f"{user} {project}" for user, project in pairs)
    for user, project in pairs:  # each answers its owner and refuses every other user
        assert limited_hub.as_user(user, "GET", f"/user/{user}/{project}/api/status")[0] == 200
        for other, _ in pairs:
            if other != user:
                status, _ = limited_hub.as_user(other, "GET", f"/user/{user}/{project}/api/status")
                assert status == 403, (other, user)
    for user, project in pairs:
        limited_hub.stop_server(user, project)
