"""Signing in to the hub over plain HTTP (its login form, as a browser does) and opening a
dashboard through the hub's OAuth, for tests that attack a dashboard without a browser."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from tests.hub.harness import Hub
from wgs_tre.hub.auth import add_signin

PASSWORD = "correct horse 42"
KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-f-]{36})"')
CELL_OUTPUT = re.compile(
    r'<script type="application/vnd.voila.cell-output\+json">(.*?)</script>', re.S
)
BANNER = re.compile(r'id="tre-dashboard-identity" data-account="([^"]*)" data-via="([^"]*)"')


def signed_in(hub: Hub, user: str) -> requests.Session:
    """An HTTP session signed in to the hub as ``user`` through its login form."""
    add_signin(f"sqlite:///{hub.state / 'jupyterhub.sqlite'}", user, PASSWORD)
    session = requests.Session()
    session.get(f"{hub.url}/hub/login", timeout=60)
    answer = session.post(
        f"{hub.url}/hub/login",
        data={"username": user, "password": PASSWORD, "_xsrf": session.cookies.get("_xsrf")},
        timeout=60,
    )
    assert answer.url == f"{hub.url}/hub/tre", (answer.status_code, answer.url)
    return session


def dashboard_url(hub: Hub, service: str) -> str:
    return f"{hub.url}/services/{service}/"


def kernel_id(page: str) -> str:
    found = KERNEL_ID.search(page)
    assert found, page[-3000:]
    return found.group(1)


def outputs_html(page: str) -> str:
    """The HTML outputs of a page's cells (Voila embeds each output as JSON in the page)."""
    outputs = [json.loads(found) for found in CELL_OUTPUT.findall(page)]
    return "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)


def identity_of(page: str) -> tuple[str, str]:
    """Whom the page's kernel acts as, and how that was established (its identity banner)."""
    found = BANNER.search(outputs_html(page))
    assert found, page[-3000:]
    return found.group(1), found.group(2)


def shell_message(msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "header": {"msg_id": uuid.uuid4().hex, "username": "attacker", "msg_type": msg_type,
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": content,
    }  # fmt: skip


async def open_kernel_socket(
    session: requests.Session, hub: Hub, service: str, kernel: str
) -> WebSocketClientConnection:
    """The dashboard kernel's websocket, opened with ``session``'s cookies (as its browser)."""
    url = dashboard_url(hub, service).replace("http", "ws") + f"api/kernels/{kernel}/channels"
    cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    return await websocket_connect(
        HTTPRequest(url, headers={"Cookie": cookies}, connect_timeout=60, request_timeout=60)
    )


async def replies_to(
    session: requests.Session, hub: Hub, service: str, kernel: str, messages: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """Send ``messages`` over the dashboard's kernel websocket, as the signed-in browser would,
    and collect the message types answering each (by msg_id) until the last one is answered.
    The shell channel is served in order: what has no answer by then was never run."""
    socket_ = await open_kernel_socket(session, hub, service, kernel)
    answers: dict[str, list[str]] = {m["header"]["msg_id"]: [] for m in messages}
    for message in messages:
        socket_.write_message(json.dumps(message))
    last = messages[-1]["header"]["msg_id"]
    while True:
        raw = await socket_.read_message()
        assert raw is not None, "the kernel websocket closed"
        msg = json.loads(raw)
        parent = msg.get("parent_header", {}).get("msg_id")
        if parent in answers:
            answers[parent].append(msg["msg_type"])
        if parent == last and msg["msg_type"].endswith("_reply"):
            break
    socket_.close()
    return answers
