"""Egress from inside a real kernel: only the hub's own endpoints answer; another namespace,
other host ports, DNS and the internet do not; the kernel cannot change routes or rules."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.hub.harness import Hub
from tests.hub.test_netns import TCP, Listener, namespace_state
from wgs_tre.hub import netns


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, int]]:
    """A web server in a namespace of its own, which the host itself can reach."""
    other = netns.create(secrets.token_hex(5), allow=[])
    server = subprocess.Popen(
        ["ip", "netns", "exec", other.name, sys.executable, "-m", "http.server", "18777",
         "--bind", other.ns_ip], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(50):
        try:
            socket.create_connection((other.ns_ip, 18777), timeout=0.2).close()
            break
        except OSError:
            subprocess.run(["sleep", "0.1"], check=True)
    yield other.ns_ip, 18777
    server.kill()
    netns.teardown(other.name)


def run(hub: Hub, code: str) -> str:
    return hub.execute("alice", "brca-study", TCP + code).strip()


def test_egress_from_a_kernel(hub: Hub, elsewhere: tuple[str, int]) -> None:
    assert hub.start_server("alice", "brca-study")[0] == 201
    host_ip, port = elsewhere
    assert run(hub, f"print(tcp({host_ip!r}, {port}))") == "ENETUNREACH"
    # The allowlisted endpoint (the hub API) answers; so the hub keeps working.
    hub_port = hub.hub_api_port
    assert run(hub, f"print(tcp({netns.HUB_ADDRESS!r}, {hub_port}))") == "open"
    database = Listener("0.0.0.0")  # a host service listening everywhere, like PostgreSQL
    out = run(hub, (
        "import ipaddress, os\n"
        "own = os.environ['JUPYTERHUB_SERVICE_URL'].split('//')[1].split(':')[0]\n"
        "host_side = str(ipaddress.ip_address(own) - 1)  # the veth's other end\n"
        f"print(tcp(host_side, {database.port}), tcp({netns.HUB_ADDRESS!r}, {database.port}))"
    ))  # fmt: skip
    assert out.split() == ["timeout", "timeout"]
    dns = run(hub, "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                   "try:\n    s.sendto(b'x', ('8.8.8.8', 53)); print('sent')\n"
                   "except OSError as e:\n    print(errno.errorcode[e.errno])")  # fmt: skip
    assert dns == "ENETUNREACH"
    assert hub.request("GET", "/hub/api/")[0] == 200


def test_the_kernel_cannot_undo_isolation(hub: Hub) -> None:
    assert hub.start_server("alice", "brca-study")[0] == 201
    registered = (hub.state / "sessions" / "run").iterdir()  # the spawner's address book
    address = next(p.name for p in registered if p.read_text().split() == ["alice", "brca-study"])
    name = namespace_holding(address)
    before = namespace_state(name)
    assert "policy drop" in before[3] and "default" not in before[2]
    attempts = [["ip", "route", "add", "default", "dev", "lo"], ["nft", "flush", "ruleset"],
                ["ip", "addr", "add", "10.99.0.1/32", "dev", "lo"]]  # fmt: skip
    database = Listener("0.0.0.0")  # a host service the session must not reach
    out = run(hub, (
        "import ipaddress, json, os, subprocess\n"
        f"for command in {attempts!r}:\n"
        "    r = subprocess.run(command, capture_output=True, text=True)\n"
        "    print(json.dumps([r.returncode, r.stderr.strip()]))\n"
        "own = os.environ['JUPYTERHUB_SERVICE_URL'].split('//')[1].split(':')[0]\n"
        "host_side = str(ipaddress.ip_address(own) - 1)\n"
        f"print(own, tcp({netns.HUB_ADDRESS!r}, {hub.hub_api_port}),"
        f" tcp(host_side, {database.port}))"
    )).splitlines()  # fmt: skip
    assert len(out) == len(attempts) + 1, out
    for command, line in zip(attempts, out[:-1], strict=True):
        status, error = json.loads(line)
        assert status != 0 and "Operation not permitted" in error, (command, error)
    assert out[-1].split() == [address, "open", "timeout"]
    assert namespace_state(name) == before


def namespace_holding(address: str) -> str:
    """The session namespace whose veth has ``address``."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    for name in (line.split()[0] for line in listed.stdout.splitlines()):
        shown = subprocess.run(["ip", "-n", name, "-o", "-4", "addr"], capture_output=True,
                               text=True, check=True).stdout  # fmt: skip
        if f" {address}/" in shown:
            return name
    raise AssertionError(f"no namespace has {address}")
