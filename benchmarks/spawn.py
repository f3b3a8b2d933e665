"""Spawn-to-ready latency of project sessions (p50, p95) for 1 and for 5 concurrent named
servers, and the idle memory of a server. Target (issue 5): p50 under 3 s on this machine.

Reference on this machine (RECIPES.md): stock JupyterHub named-server spawn with JupyterLab,
median 6.5 s, 5 concurrent up to 16 s; about 136 MiB per idle server.

Usage (as root): .venv/bin/python benchmarks/spawn.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.hub.harness import Hub  # noqa: E402 - the same real hub the tests use
from tests.world import World  # noqa: E402
from wgs_tre.governance import users  # noqa: E402
from wgs_tre.policy import load_policies  # noqa: E402
from wgs_tre.store import Store  # noqa: E402
from wgs_tre.types import Role  # noqa: E402

PROJECTS = [f"bench-{i}" for i in range(5)]


def timed_spawn(hub: Hub, user: str, project: str) -> float:
    start = time.perf_counter()
    status, message = hub.start_server(user, project)
    if status != 201:
        raise RuntimeError(message)
    return time.perf_counter() - start


def server_memory_mib() -> list[float]:
    sizes = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"jupyterhub-singleuser" in cmdline:
                rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
                sizes.append(rss * os.sysconf("SC_PAGE_SIZE") / 2**20)
        except OSError:
            continue
    return sizes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: sessions need network namespaces")
    tmp = Path(tempfile.mkdtemp(prefix="wgs-tre-spawn-"))
    store = Store(f"sqlite:///{tmp / 'governance.db'}")
    store.upgrade()
    world = World.build(store, load_policies(REPO / "policies"), tmp)
    people = [f"user{i}" for i in range(5)]
    for person in people:
        users.create_user(world.ctx("root1"), person, roles={Role.RESEARCHER}, organisation="Uni A")
    for project in PROJECTS:
        world.approved(project, members=people)
    hub = Hub(store.url.render_as_string(False), REPO / "policies")
    hub.start()
    try:
        first = timed_spawn(hub, "user0", PROJECTS[0])  # creates the session account: once a user
        hub.stop_server("user0", PROJECTS[0])
        single = []
        for _ in range(args.rounds):
            time.sleep(1)  # an idle hub, as when a researcher opens a session
            single.append(timed_spawn(hub, "user0", PROJECTS[0]))
            hub.stop_server("user0", PROJECTS[0])
        concurrent: list[float] = []
        for _ in range(max(1, args.rounds // 2)):
            time.sleep(1)
            with ThreadPoolExecutor(5) as pool:
                concurrent += pool.map(lambda i: timed_spawn(hub, people[i], PROJECTS[i]), range(5))
            time.sleep(3)  # idle
            memory = server_memory_mib()
            for i in range(5):
                hub.stop_server(people[i], PROJECTS[i])
    finally:
        hub.stop()
    print(f"first spawn of a user (creates the session account): {first:.2f} s")
    print("single spawns:", " ".join(f"{v:.2f}" for v in single))
    print(f"{'':<26}{'p50 s':>8}{'p95 s':>8}{'n':>5}")
    for label, values in (("1 server", single), ("5 concurrent servers", concurrent)):
        print(f"{label:<26}{statistics.median(values):>8.2f}{percentile(values, 0.95):>8.2f}"
              f"{len(values):>5}")  # fmt: skip
    verdict = "PASS" if statistics.median(single) < 3 else "FAIL"
    print(f"target: p50 of one spawn under 3 s: {verdict}")
    print(
        f"idle memory per server: {statistics.mean(memory):.0f} MiB (JupyterLab server, no kernel)"
    )


if __name__ == "__main__":
    main()
