"""The package proxy service: ``FilteringProxy`` on the hub address, auditing refusals.

Sessions reach it through their namespace's allowlist; their ``HTTP(S)_PROXY`` points at it.
A refusal is audited under the session's user and project, found by the session's address in
the registry the spawner keeps (``wgs_tre.hub.registry``).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from wgs_tre.audit import record
from wgs_tre.config import load_settings
from wgs_tre.hub import netns, registry
from wgs_tre.hub.proxy import FilteringProxy
from wgs_tre.policy import load_policies
from wgs_tre.services import run_service
from wgs_tre.store import Store
from wgs_tre.types import Action, Decision

__all__ = ["main"]


def main() -> None:
    settings = load_settings()
    store = Store(settings.store_url)
    policies = load_policies(settings.policy_dir)
    sessions_root = Path(os.environ["WGS_TRE_SESSIONS_ROOT"])
    port = int(os.environ["WGS_TRE_PACKAGE_PROXY_PORT"])

    def refused(client: str, target: str, reason: str) -> None:
        user, project = registry.lookup(sessions_root, client)
        record(store, actor=user, action=Action.EGRESS_REFUSED, project=project,
               decision=Decision.REFUSED, reason=reason, details={"host": target})  # fmt: skip

    async def serve() -> None:
        proxy = FilteringProxy(policies.egress.proxy, refused)
        server = await proxy.serve(netns.HUB_ADDRESS, port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    run_service(main)
