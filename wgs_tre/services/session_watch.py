"""The session watcher: running sessions stop once their access ends.

Every ``revocation_grace_seconds / 2`` it lists the hub's running named servers and asks the
governance store whether each user may still start a session of it (the one authorisation
decision, as the spawner asks it). A server whose approval was suspended, revoked or expired,
or whose user was removed from the project or disabled, is stopped through the hub API and the
stop audited.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator

from wgs_tre.audit import record
from wgs_tre.config import load_settings
from wgs_tre.governance.authority import Resource, why_not
from wgs_tre.policy import Policies, load_policies
from wgs_tre.services import run_service
from wgs_tre.store import Store
from wgs_tre.types import Action, Decision

__all__ = ["main", "sweep_once"]


class HubAPI:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url.rstrip("/"), token

    def call(self, method: str, path: str) -> object:
        request = urllib.request.Request(  # noqa: S310 - the hub's own http(s) API URL
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            body = response.read()
            return json.loads(body) if body else None

    def running(self) -> Iterator[tuple[str, str]]:
        """(user, server) of every named server that has started."""
        users = self.call("GET", "/users?state=active")
        assert isinstance(users, list)
        for user in users:
            for name, server in user.get("servers", {}).items():
                # A spawn still pending is the spawner's to decide (it asks the same question);
                # stopping it here would cancel the spawn and hide the spawner's answer.
                if name and server.get("ready"):
                    yield user["name"], name


def sweep_once(store: Store, policies: Policies, hub: HubAPI) -> list[tuple[str, str]]:
    """Stop every running session whose user may no longer use its project; return them."""
    stopped = []
    for user, project in list(hub.running()):
        ended = why_not(store, policies, user, Action.SESSION_START, Resource.project(project))
        if ended is None:
            continue
        reason = ended.message
        hub.call("DELETE", f"/users/{user}/servers/{project}")
        record(store, actor="session-watcher", action=Action.SESSION_STOP, project=project,
               decision=Decision.REFUSED, reason=f"{user}'s access ended: {reason}")  # fmt: skip
        stopped.append((user, project))
    return stopped


def main() -> None:
    settings = load_settings()
    store = Store(settings.store_url)
    policies = load_policies(settings.policy_dir)
    hub = HubAPI(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    interval = max(1.0, policies.sessions.revocation_grace_seconds / 2)
    while True:
        sweep_once(store, policies, hub)
        time.sleep(interval)


if __name__ == "__main__":
    run_service(main)
