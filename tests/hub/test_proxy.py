"""The filtering proxy forwards to allowlisted hosts only, over plain HTTP and CONNECT tunnels,
and refuses (403) and reports everything else. Servers on 127.0.0.1 stand in for package hosts."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from wgs_tre.hub.proxy import FilteringProxy
from wgs_tre.policy import ProxyPolicy


def http_server() -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"hello from {self.server.server_address[1]} {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def setup() -> Iterator[tuple[int, int, int, list[tuple[str, str, str]]]]:
    allowed, other = http_server(), http_server()
    refusals: list[tuple[str, str, str]] = []
    policy = ProxyPolicy(hosts=(f"127.0.0.1:{allowed.server_address[1]}",))
    loop = asyncio.new_event_loop()
    proxy = FilteringProxy(policy, lambda *r: refusals.append(r))
    server = loop.run_until_complete(proxy.serve("127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    threading.Thread(target=loop.run_forever, daemon=True).start()
    yield port, allowed.server_address[1], other.server_address[1], refusals
    loop.call_soon_threadsafe(loop.stop)
    allowed.shutdown()
    other.shutdown()


def fetch(proxy_port: int, url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxy_port}"})
    )
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_allowlisted_hosts_are_forwarded(setup) -> None:  # type: ignore[no-untyped-def]
    proxy, allowed, _, refusals = setup
    status, body = fetch(proxy, f"http://127.0.0.1:{allowed}/simple/demo/?x=1")
    assert status == 200 and body == f"hello from {allowed} /simple/demo/?x=1"
    assert refusals == []


def test_other_hosts_are_refused_and_reported(setup) -> None:  # type: ignore[no-untyped-def]
    proxy, _, other, refusals = setup
    status, body = fetch(proxy, f"http://127.0.0.1:{other}/")
    assert status == 403 and "egress policy" in body
    assert refusals == [("127.0.0.1", f"127.0.0.1:{other}", "host not in the egress allowlist")]


def _connect(proxy: int, target: str) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy), timeout=5) as s:
        s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        reply = s.recv(4096)
        if b" 200 " in reply.split(b"\r\n")[0]:
            s.sendall(b"GET /tunnel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            chunks = []
            while data := s.recv(4096):
                chunks.append(data)
            return b"".join(chunks)
        return reply


def test_connect_tunnels_only_to_allowlisted_hosts(setup) -> None:  # type: ignore[no-untyped-def]
    proxy, allowed, other, refusals = setup
    assert b"hello from" in _connect(proxy, f"127.0.0.1:{allowed}")
    assert b"403" in _connect(proxy, f"127.0.0.1:{other}")
    assert len(refusals) == 1


@pytest.mark.parametrize(
    ("entry", "host", "port", "allowed"),
    [
        ("pypi.org", "pypi.org", 443, True),
        ("pypi.org", "PyPI.org.", 80, True),
        ("pypi.org:443", "pypi.org", 80, False),
        ("*.pythonhosted.org", "files.pythonhosted.org", 443, True),
        ("*.pythonhosted.org", "pythonhosted.org.evil.com", 443, False),
        ("pypi.org", "notpypi.org", 443, False),
    ],
)
def test_allowlist_matching(entry: str, host: str, port: int, allowed: bool) -> None:
    assert ProxyPolicy(hosts=(entry,)).allows(host, port) is allowed
    assert ProxyPolicy().allows(host, port) is False  # default deny
