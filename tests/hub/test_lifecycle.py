"""Session life cycle: revoking an approval stops its running sessions within the policy's
grace period, audited; the idle culler stops idle sessions and keeps busy ones."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
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


IDLE = 10  # seconds: the idle timeout of the culling hub (the culler looks every IDLE // 2)


@pytest.fixture(scope="module")
def culling_hub(
    hub_world: World, policy_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hub]:
    """A hub whose sessions are stopped after IDLE seconds without activity, and whose servers
    report their activity every second (JupyterHub's default is every 5 minutes)."""
    policies = tmp_path_factory.mktemp("culling-policies")
    for path in policy_dir.glob("*.yaml"):
        shutil.copy(path, policies / path.name)
    (policies / "sessions.yaml").write_text(
        f"idle_timeout_seconds: {IDLE}\nrevocation_grace_seconds: {GRACE}\n"
    )
    policies.chmod(0o755)
    running = Hub(
        hub_world.store.url.render_as_string(False),
        policies,
        extra_config="c.Spawner.environment = {'JUPYTERHUB_ACTIVITY_INTERVAL': '1'}",
    )
    running.start()
    yield running
    running.stop()


def test_the_idle_culler_stops_idle_sessions_and_keeps_busy_ones(culling_hub: Hub) -> None:
    hub = culling_hub
    assert hub.start_server("carol", "carol-study")[0] == 201
    # A long computation that prints nothing: the kernel stays busy after we stop waiting.
    with pytest.raises(TimeoutError):
        hub.execute("carol", "carol-study", "import time\ntime.sleep(600)", timeout=5,
                    keep_kernel=True)  # fmt: skip
    busy_since = time.monotonic()
    assert hub.start_server("alice", "brca-study")[0] == 201
    started = time.monotonic()
    while "brca-study" in hub.api("GET", "/users/alice")["servers"]:
        assert time.monotonic() - started < 3 * IDLE + 20, "the idle session was not culled"
        time.sleep(0.5)
    assert "Culling server alice/brca-study" in hub.logs()  # the culler, not another stop
    # By now the busy session, too, would have been culled had its computation not counted.
    time.sleep(max(0.0, busy_since + 2 * IDLE - time.monotonic()))
    assert "carol-study" in hub.api("GET", "/users/carol")["servers"]
    hub.stop_server("carol", "carol-study")  # now, rather than at teardown with the kernel busy
