"""The filtering proxy: how sessions install approved packages without general internet access.

An HTTP proxy (plain requests with absolute URIs, and HTTPS ``CONNECT`` tunnels) that forwards
only to the hosts in ``policies/egress.yaml`` (``proxy.hosts``) and refuses everything else with
``403``, auditing each refusal. Sessions reach it on the hub's address (their nftables allow that
one port); it runs on the host, which resolves names and connects out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from wgs_tre.policy import ProxyPolicy

__all__ = ["FilteringProxy"]

MAX_HEADER = 64 * 1024


@dataclass
class FilteringProxy:
    policy: ProxyPolicy
    # (client address, host:port, reason) -> None; called for every refused request.
    on_refusal: Callable[[str, str, str], None]
    connect_timeout: float = 10.0

    async def serve(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._handle, host, port, limit=MAX_HEADER)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = str(writer.get_extra_info("peername", ("?", 0))[0])
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
        except ValueError:
            await self._reply(writer, 400, "Bad Request")
            return
        if method == "CONNECT":
            host, _, port_text = target.rpartition(":")
            path = ""
        else:
            url = urlsplit(target)
            if url.scheme != "http" or not url.hostname:
                await self._reply(writer, 400, "Bad Request")
                return
            host, port_text = url.hostname, str(url.port or 80)
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        port = int(port_text) if port_text.isdigit() else 0
        if not self.policy.allows(host, port):
            self.on_refusal(client, f"{host}:{port}", "host not in the egress allowlist")
            await self._reply(writer, 403, "Forbidden by the TRE egress policy")
            return
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), self.connect_timeout
            )
        except (OSError, TimeoutError):
            await self._reply(writer, 502, "Bad Gateway")
            return
        if method == "CONNECT":
            writer.write(f"{version} 200 Connection established\r\n\r\n".encode())
        else:
            headers = [
                h for h in lines[1:] if h and not h.lower().startswith(("proxy-", "connection:"))
            ]
            request = "\r\n".join([f"{method} {path} {version}", *headers, "Connection: close"])
            upstream_writer.write(request.encode("latin-1") + b"\r\n\r\n")
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, status: int, text: str) -> None:
        body = f"{text}\n".encode()
        writer.write(
            f"HTTP/1.1 {status} {text}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(1 << 16):
            sink.write(data)
            await sink.drain()
    finally:
        with contextlib.suppress(OSError, RuntimeError):  # the peer may be gone already
            sink.close()
