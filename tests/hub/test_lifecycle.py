"""Session life cycle: revoking an approval stops its running sessions within the policy's
grace period, audited; the idle culler runs as a hub service."""

from __future__ import annotations

import time

from sqlalchemy import select

from tests.hub.conftest import GRACE
from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.governance import approvals
from wgs_tre.store.models import AuditEvent


def test_revocation_stops_running_sessions_within_the_grace_period(
    hub: Hub, hub_world: World
) -> None:
    assert hub.start_server("alice", "revocable-study")[0] == 201
    approvals.revoke(hub_world.ctx("sam"), "revocable-study", "data breach")
    revoked = time.monotonic()
    while "revocable-study" in hub.api("GET", "/users/alice")["servers"]:
        assert time.monotonic() - revoked < GRACE + 10, "the session outlived its approval"
        time.sleep(0.2)
    with hub_world.store.session() as session:
        event = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "session.stop", AuditEvent.actor == "session-watcher")
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    assert event is not None and event.project == "revocable-study"
    assert "the approval is revoked" in event.reason


def test_the_idle_culler_runs(hub: Hub) -> None:
    services = hub.api("GET", "/services")
    assert {"idle-culler", "wgs-tre-session-watch", "wgs-tre-data", "wgs-tre-packages"} <= set(
        services
    )
    assert services["idle-culler"]["pid"] and services["wgs-tre-session-watch"]["pid"]
