"""One Linux network namespace per session: the OS, not Python in the kernel, enforces egress.

Each single-user server runs in its own namespace, joined to the host by a veth pair on a /30
of ``10.231.0.0/17``. The namespace has no default route: the only other address it can route
to is the hub's address (on the host's ``lo``, reached through the veth). nftables inside the
namespace drops every outgoing packet except to loopback, replies, and the allowlist (the hub
API, the filtering proxy, ``policies/egress.yaml``). Servers run as unprivileged accounts, so
they cannot change routes or rules. Namespaces are named ``tre-<session key>``; the spawner's
``sweep`` removes those of a hub that died.

Choosing a subnet and taking it is one critical section (a thread lock and a lock file, so other
processes creating namespaces, such as tests or a second tool, are serialised too): the host side
of the veth holds its address before the next caller looks for a free one, so any number of
concurrent spawns get distinct addresses.
"""

from __future__ import annotations

import ctypes
import fcntl
import ipaddress
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["HUB_ADDRESS", "NetworkPlan", "create", "enter", "teardown"]

PREFIX = "tre-"
POOL = ipaddress.IPv4Network("10.231.0.0/17")
HUB_ADDRESS = "10.231.255.1"  # on the host's lo: the one address every namespace reaches
CLONE_NEWNET = 0x40000000
LOCK_FILE = Path("/run/wgs-tre-netns.lock")
_lock = threading.Lock()


@dataclass(frozen=True)
class NetworkPlan:
    name: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str
    allow: tuple[tuple[str, int], ...] = field(default=())


def _run(*argv: str, input: str | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, input=input, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip()}")
    return result.stdout


def _used_subnets() -> set[ipaddress.IPv4Network]:
    used = set()
    for line in _run("ip", "-o", "-4", "addr", "show").splitlines():
        network = ipaddress.IPv4Interface(line.split()[3]).network
        if network.subnet_of(POOL) and network.prefixlen == 30:
            used.add(network)
    return used


@contextmanager
def _allocation() -> Iterator[None]:
    """Held while a subnet is chosen and taken: threads of this process and other processes."""
    with _lock, LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _plan(key: str, allow: list[tuple[str, int]]) -> NetworkPlan:
    used = _used_subnets()
    subnet = next((s for s in POOL.subnets(new_prefix=30) if s not in used), None)
    if subnet is None:
        raise RuntimeError(f"no free /30 left in {POOL} for another session")
    host_ip, ns_ip = (str(h) for h in list(subnet.hosts())[:2])
    return NetworkPlan(
        name=f"{PREFIX}{key}",
        host_if=f"trh{key[:10]}",
        ns_if=f"trn{key[:10]}",
        host_ip=host_ip,
        ns_ip=ns_ip,
        allow=tuple(allow),
    )


def create(key: str, allow: list[tuple[str, int]]) -> NetworkPlan:
    """A namespace for ``key`` (a short hex id) on a /30 nobody else has, with its veth pair,
    route and firewall; nothing is left behind if any step fails."""
    with _allocation():
        plan = _plan(key, allow)
        _setup(plan)
    return plan


def _rules(p: NetworkPlan) -> str:
    allowed = "\n".join(f"    ip daddr {ip} tcp dport {port} accept" for ip, port in p.allow)
    return f"""
table inet tre {{
  chain output {{
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
{allowed}
  }}
}}
"""


def ensure_hub_address() -> None:
    """Put the hub's address on the host's lo (the ``dummy`` module is not always available)."""
    shown = _run("ip", "-o", "-4", "addr", "show", "dev", "lo")
    if f" {HUB_ADDRESS}/" not in shown:
        _run("ip", "addr", "add", f"{HUB_ADDRESS}/32", "dev", "lo")


def _setup(p: NetworkPlan) -> None:
    ensure_hub_address()
    try:
        _run("ip", "netns", "add", p.name)
        _run("ip", "link", "add", p.host_if, "type", "veth", "peer", "name", p.ns_if)
        _run("ip", "link", "set", p.ns_if, "netns", p.name)
        _run("ip", "addr", "add", f"{p.host_ip}/30", "dev", p.host_if)
        _run("ip", "link", "set", p.host_if, "up")
        inside = ("ip", "netns", "exec", p.name)
        _run(*inside, "ip", "link", "set", "lo", "up")
        _run(*inside, "ip", "addr", "add", f"{p.ns_ip}/30", "dev", p.ns_if)
        _run(*inside, "ip", "link", "set", p.ns_if, "up")
        _run(*inside, "ip", "route", "add", f"{HUB_ADDRESS}/32", "via", p.host_ip)
        _run(*inside, "nft", "-f", "-", input=_rules(p))
    except BaseException:
        teardown(p.name)
        raise


def teardown(name: str) -> None:
    """Delete a namespace (its veth pair goes with it). Missing is fine."""
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def enter(name: str) -> None:
    """Move the calling process into namespace ``name`` (needs root; call before dropping it).

    Used as the first step of a spawned server's pre-exec function.
    """
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open(Path("/run/netns") / name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns into {name}: {os.strerror(error)}")
    finally:
        os.close(fd)
