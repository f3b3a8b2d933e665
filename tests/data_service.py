"""The data service's real tornado app on a local port, for tests that call it as a session
does. One stand-in, at the service's boundary with the hub: the token check accepts one token
as one user's session of one project (the hub itself is exercised in ``tests/hub``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tornado.ioloop import IOLoop

from tests.daemons import free_port
from wgs_tre.services.data import make_app

TOKEN = "session-token"


class SessionAuth:
    """Accepts :data:`TOKEN` as ``user``'s session of ``project`` (and each of ``others``, a
    token -> (user, project), as that session); nothing else."""

    access_scopes = None

    def __init__(
        self, user: str, project: str, others: dict[str, tuple[str, str]] | None = None
    ) -> None:
        self.sessions = {TOKEN: (user, project), **(others or {})}

    def get_user(self, handler: Any, **_: Any) -> dict[str, Any] | None:
        token = handler.request.headers.get("Authorization", "").removeprefix("token ")
        if token not in self.sessions:
            return None
        user, project = self.sessions[token]
        scope = f"access:servers!server={user}/{project}"
        return {"kind": "user", "name": user, "scopes": [scope]}

    def _persist_url_token_if_set(self, handler: Any) -> None:
        return


@contextmanager
def data_service(
    gate: Any,
    sessions_root: Path,
    user: str,
    project: str,
    others: dict[str, tuple[str, str]] | None = None,
    auth: Any = None,
    **options: Any,
) -> Iterator[str]:
    """Serve ``gate`` as the data service (``options`` for ``make_app``); yield its URL.
    ``auth`` replaces the :class:`SessionAuth` stand-in."""
    port, ready, loops = free_port(), threading.Event(), []

    def serve() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        hub_auth = auth or SessionAuth(user, project, others)
        app = make_app(gate, sessions_root, "/s/", hub_auth=hub_auth, **options)
        app.listen(port, address="127.0.0.1")
        loops.append(IOLoop.current())
        ready.set()
        IOLoop.current().start()

    threading.Thread(target=serve, daemon=True).start()
    assert ready.wait(10), "the data service did not start"
    try:
        yield f"http://127.0.0.1:{port}/s/"
    finally:
        loops[0].add_callback(loops[0].stop)
