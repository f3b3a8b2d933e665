"""Egress is enforced by the OS: a process in a session namespace, running as an unprivileged
account, reaches the hub's allowed port and nothing else, and cannot undo the isolation.

Runs as root (creating namespaces needs it); every address is in 127.0.0.0/8 or in namespaces
the test creates.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from wgs_tre.hub import netns
from wgs_tre.hub.accounts import SessionAccount, ensure_account

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

# tcp(host, port) -> "open" or the errno name ("timeout" if none): shared with kernel probes.
TCP = """
import errno, socket
def tcp(host, port):
    s = socket.socket(); s.settimeout(1.5)
    try:
        s.connect((host, port)); return "open"
    except OSError as e:
        return errno.errorcode.get(e.errno, "timeout") if e.errno else "timeout"
    finally:
        s.close()
"""

PROBE = (
    TCP
    + """
import subprocess, sys
target = sys.argv[1]
if target == "tcp":
    print(tcp(sys.argv[2], int(sys.argv[3])))
elif target == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"x", (sys.argv[2], int(sys.argv[3]))); print("sent")
    except OSError as e:
        print(errno.errorcode[e.errno])
else:
    r = subprocess.run(sys.argv[2:], capture_output=True, text=True)
    print("refused" if r.returncode else "succeeded", r.stderr.strip()[:80])
"""
)


class Listener:
    """A TCP server that accepts and closes connections, on a given address."""

    def __init__(self, host: str, netns_name: str | None = None) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
                conn.close()
            except OSError:
                return


@pytest.fixture
def account(tmp_path: Path) -> SessionAccount:
    return ensure_account("probe", tmp_path)


@pytest.fixture
def session_ns() -> Iterator[tuple[netns.NetworkPlan, Listener, Listener]]:
    netns.ensure_hub_address()
    allowed = Listener(netns.HUB_ADDRESS)
    forbidden = Listener(netns.HUB_ADDRESS)
    plan = netns.create(secrets.token_hex(5), allow=[(netns.HUB_ADDRESS, allowed.port)])
    yield plan, allowed, forbidden
    netns.teardown(plan.name)


def probe(plan: netns.NetworkPlan, account: SessionAccount, *args: str) -> str:
    def preexec() -> None:
        netns.enter(plan.name)
        os.setgroups([])
        os.setgid(account.gid)
        os.setuid(account.uid)

    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
        preexec_fn=preexec, cwd="/", timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_only_the_allowlisted_hub_port_is_reachable(session_ns, account) -> None:  # type: ignore[no-untyped-def]
    plan, allowed, forbidden = session_ns
    socket.create_connection((netns.HUB_ADDRESS, forbidden.port), timeout=2).close()  # answers
    assert probe(plan, account, "tcp", netns.HUB_ADDRESS, str(allowed.port)) == "open"
    # Dropped by the namespace's firewall (no answer), not refused by the host.
    assert probe(plan, account, "tcp", netns.HUB_ADDRESS, str(forbidden.port)) == "timeout"


def test_host_services_on_other_ports_are_unreachable(session_ns, account) -> None:  # type: ignore[no-untyped-def]
    plan, allowed, _ = session_ns
    everywhere = Listener("0.0.0.0")  # like a database listening on all addresses
    # The host answers on both addresses the namespace routes to: only the firewall is between.
    for address in (plan.host_ip, netns.HUB_ADDRESS):
        socket.create_connection((address, everywhere.port), timeout=2).close()
    assert probe(plan, account, "tcp", netns.HUB_ADDRESS, str(allowed.port)) == "open"
    assert probe(plan, account, "tcp", plan.host_ip, str(everywhere.port)) == "timeout"
    assert probe(plan, account, "tcp", netns.HUB_ADDRESS, str(everywhere.port)) == "timeout"
    # 127.0.0.1 in the namespace is its own loopback, not the host's: nothing listens there.
    assert probe(plan, account, "tcp", "127.0.0.1", str(everywhere.port)) == "ECONNREFUSED"


def test_a_server_in_another_namespace_is_unreachable(session_ns, account) -> None:  # type: ignore[no-untyped-def]
    plan, _, _ = session_ns
    other = netns.create(secrets.token_hex(5), allow=[])
    try:
        server = subprocess.Popen(
            ["ip", "netns", "exec", other.name, sys.executable, "-m", "http.server", "18555",
             "--bind", other.ns_ip], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            reachable_from_host = False
            for _ in range(50):
                try:
                    socket.create_connection((other.ns_ip, 18555), timeout=0.2).close()
                    reachable_from_host = True
                    break
                except OSError:
                    threading.Event().wait(0.1)
            assert reachable_from_host, "the host itself should reach the other namespace"
            assert probe(plan, account, "tcp", other.ns_ip, "18555") == "ENETUNREACH"
        finally:
            server.kill()
    finally:
        netns.teardown(other.name)


def test_dns_and_the_internet_are_unreachable(session_ns, account) -> None:  # type: ignore[no-untyped-def]
    plan, _, _ = session_ns
    # ENETUNREACH is decided by the routing table before any packet is built: nothing is sent.
    assert probe(plan, account, "udp", "8.8.8.8", "53") == "ENETUNREACH"
    assert probe(plan, account, "tcp", "93.184.216.34", "443") == "ENETUNREACH"


def namespace_state(name: str) -> list[str]:
    """Addresses, links, routes and firewall rules of namespace ``name``, as root sees them."""
    inside = ["ip", "netns", "exec", name]
    commands = (
        ["ip", "-o", "addr"],
        ["ip", "-o", "link"],
        ["ip", "route"],
        ["nft", "list", "ruleset"],
    )
    shown = [
        subprocess.run([*inside, *c], capture_output=True, text=True, check=True) for c in commands
    ]
    return [result.stdout for result in shown]


def test_the_session_cannot_undo_its_isolation(session_ns, account) -> None:  # type: ignore[no-untyped-def]
    plan, allowed, forbidden = session_ns
    before = namespace_state(plan.name)
    assert "policy drop" in before[3] and f"tcp dport {allowed.port} accept" in before[3]
    for attempt in (
        ["ip", "route", "add", "default", "via", plan.host_ip],
        ["ip", "route", "add", f"{plan.host_ip}/32", "dev", "lo"],
        ["nft", "flush", "ruleset"],
        ["ip", "link", "set", plan.ns_if, "down"],
    ):
        outcome = probe(plan, account, "run", *attempt)
        assert outcome.startswith("refused") and "Operation not permitted" in outcome, attempt
    assert namespace_state(plan.name) == before
    assert probe(plan, account, "tcp", netns.HUB_ADDRESS, str(allowed.port)) == "open"
    assert probe(plan, account, "tcp", netns.HUB_ADDRESS, str(forbidden.port)) == "timeout"


def test_sweep_removes_what_a_dead_hub_left(tmp_path: Path, cgroup_filesystem: None) -> None:
    """A hub that died leaves its sessions' namespaces, cgroups and temporary files; at start
    it removes its own, and nothing of another hub's."""
    from wgs_tre.hub import cgroups
    from wgs_tre.hub.isolation import hub_instance, sweep

    mine, other = tmp_path / "mine", tmp_path / "other"
    keys = {root: secrets.token_hex(5) for root in (mine, other)}
    for root, key in keys.items():
        (root / "sandboxes" / key / "tmp").mkdir(parents=True)
        netns.create(key, allow=[])
        cgroups.create(hub_instance(str(root)), key, cgroups.Limits(processes=100))
    try:
        assert sweep(mine) == [keys[mine]]
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                check=True).stdout  # fmt: skip
        assert f"tre-{keys[mine]}" not in listed and f"tre-{keys[other]}" in listed
        assert not (mine / "sandboxes" / keys[mine]).exists()
        assert cgroups.find(hub_instance(str(mine)), keys[mine]) is None
        assert cgroups.find(hub_instance(str(other)), keys[other]) is not None
    finally:
        sweep(other)


def test_concurrent_namespaces_get_distinct_subnets() -> None:
    """Eight threads here and four other processes create namespaces at the same moment: every
    one gets a subnet of its own (choosing and taking an address is one critical section)."""
    from concurrent.futures import ThreadPoolExecutor

    creator = (
        "import secrets, sys\nfrom wgs_tre.hub import netns\n"
        "print(netns.create(secrets.token_hex(5), allow=[]).name, flush=True)\nsys.stdin.read()\n"
    )
    others = [
        subprocess.Popen(
            [sys.executable, "-c", creator],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    with ThreadPoolExecutor(8) as pool:
        plans = list(pool.map(lambda _: netns.create(secrets.token_hex(5), allow=[]), range(8)))
    names = [plan.name for plan in plans] + [p.stdout.readline().strip() for p in others]  # type: ignore[union-attr]
    try:
        subnets = []
        for name in names:
            shown = subprocess.run(["ip", "netns", "exec", name, "ip", "-o", "-4", "addr", "show"],
                                   capture_output=True, text=True, check=True).stdout  # fmt: skip
            subnets += [line.split()[3] for line in shown.splitlines() if "10.231." in line]
        assert len(subnets) == 12 and len(set(subnets)) == 12, subnets
    finally:
        for other in others:
            other.communicate("")
        for name in names:
            netns.teardown(name)
