"""Installing packages in a session: through the filtering proxy, from an allowlisted index
(served by the test on the host), works; any other host through the same proxy is refused and
the refusal audited under the session's user and project."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import os
import shutil
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.daemons import free_port
from tests.hub.harness import Hub
from tests.hub.test_netns import TCP
from tests.world import World
from wgs_tre.hub import netns
from wgs_tre.store.models import AuditEvent

REPO = Path(__file__).resolve().parents[2]


def wheel(name: str, version: str) -> tuple[str, bytes]:
    """A minimal pure-Python wheel, built in memory."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"GREETING = 'hello from {name}'\n".encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{dist}/RECORD"] = ("\n".join([*record, f"{dist}/RECORD,,"]) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return f"{module}-{version}-py3-none-any.whl", buffer.getvalue()


def serve_index(root: Path, port: int) -> http.server.ThreadingHTTPServer:
    name, data = wheel("demo-pkg", "1.0")
    (root / "simple" / "demo-pkg").mkdir(parents=True)
    (root / name).write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    (root / "simple" / "demo-pkg" / "index.html").write_text(
        f'<html><body><a href="/{name}#sha256={sha}">{name}</a></body></html>'
    )
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))  # noqa: E731
    # Sessions ask for 127.0.0.2, which is not in their no-proxy list, so pip goes through the
    # proxy; all addresses: the host answers on the ones a session routes to as well.
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    allowed, blocked = free_port(), free_port()
    servers = [serve_index(tmp_path_factory.mktemp(f"index{p}"), p) for p in (allowed, blocked)]
    yield allowed, blocked
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="module")
def hub(
    hub_world: World, indexes: tuple[int, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hub]:  # type: ignore[override]
    policies = tmp_path_factory.mktemp("policies")
    for name in ("roles.yaml", "review.yaml"):
        shutil.copy(REPO / "policies" / name, policies / name)
    (policies / "egress.yaml").write_text(f"proxy:\n  hosts:\n    - 127.0.0.2:{indexes[0]}\n")
    os.chmod(policies, 0o755)
    running = Hub(hub_world.store.url.render_as_string(False), policies)
    running.start()
    yield running
    running.stop()


def pip(port: int) -> str:
    return (
        "import os, subprocess, sys\n"
        "target = os.environ['WGS_TRE_WORKSPACE'] + '/pylib'\n"
        "r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-cache-dir', '-q',\n"
        f"    '--index-url', 'http://127.0.0.2:{port}/simple/', '--target', target, 'demo-pkg'],\n"
        "    capture_output=True, text=True)\n"
        "print(r.returncode); sys.path.insert(0, target)\n"
        "if r.returncode == 0:\n    import demo_pkg; print(demo_pkg.GREETING)\n"
        "else:\n    print(r.stderr[-300:])\n"
    )


def test_pip_installs_from_the_allowlisted_index(hub: Hub, indexes: tuple[int, int]) -> None:
    assert hub.start_server("alice", "brca-study")[0] == 201
    out = hub.execute("alice", "brca-study", pip(indexes[0])).strip().splitlines()
    assert out[0] == "0", out
    assert out[1] == "hello from demo-pkg"


def test_other_hosts_are_refused_and_audited(
    hub: Hub, hub_world: World, indexes: tuple[int, int]
) -> None:
    assert hub.start_server("alice", "brca-study")[0] == 201
    out = hub.execute("alice", "brca-study", pip(indexes[1])).strip().splitlines()
    assert out[0] != "0"
    with hub_world.store.session() as session:
        event = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "egress.refused")
            .order_by(AuditEvent.seq.desc()).limit(1)
        )  # fmt: skip
    assert event is not None
    assert (event.actor, event.project, event.decision) == ("alice", "brca-study", "refused")
    assert f"127.0.0.2:{indexes[1]}" in event.details


def test_without_the_proxy_nothing_is_reachable(hub: Hub, indexes: tuple[int, int]) -> None:
    """The allowlisted index answers the host on the addresses a session routes to (the veth's
    host side, the hub's address); the session reaches it through the proxy, and directly the
    namespace's firewall drops the connection (a timeout, no refusal)."""
    port, hub_address = indexes[0], netns.HUB_ADDRESS
    assert hub.start_server("alice", "brca-study")[0] == 201
    out = hub.execute("alice", "brca-study", TCP + (
        "import ipaddress, os, urllib.request\n"
        "own = os.environ['JUPYTERHUB_SERVICE_URL'].split('//')[1].split(':')[0]\n"
        "host_side = str(ipaddress.ip_address(own) - 1)  # the veth's other end\n"
        f"index = 'http://127.0.0.2:{port}/simple/demo-pkg/'  # through HTTP_PROXY\n"
        "with urllib.request.urlopen(index, timeout=10) as r:\n"
        "    print(r.status, host_side)\n"
        f"print(tcp(host_side, {port}), tcp({hub_address!r}, {port}), tcp('127.0.0.2', {port}))"
    )).split()  # fmt: skip
    status, host_side, *direct = out
    assert status == "200"
    for address in (host_side, netns.HUB_ADDRESS):
        socket.create_connection((address, port), timeout=2).close()
    # 127.0.0.2 inside the session is its own loopback, where nothing listens.
    assert direct == ["timeout", "timeout", "ECONNREFUSED"]
