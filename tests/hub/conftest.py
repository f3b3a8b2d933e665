"""A governance store with projects in every state, and a real hub on it (module scope: hubs
take seconds to start)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.consent import registry
from wgs_tre.consent.build import make_consent
from wgs_tre.governance import approvals
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.policy import load_policies
from wgs_tre.store import Store
from wgs_tre.store.models import Approval
from wgs_tre.synth.genotypes import GenotypeSpec, write_vcf

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hub_world() -> Iterator[World]:
    if os.geteuid() != 0:
        pytest.skip("sessions need root: network namespaces and per-user accounts")
    # Traversable by everyone, like a real data directory's parent: the store's own permissions
    # must keep sessions out, not the test's temp directory.
    tmp = Path("/var/lib/wgs-tre-test") / f"world-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    tmp.chmod(0o755)
    store = Store(f"sqlite:///{tmp / 'governance.db'}")
    store.upgrade()
    world = World.build(store, load_policies(REPO / "policies"), tmp)
    people = [f"P{i:06d}" for i in range(1, 41)]
    vcf = tmp / "cohort.vcf.gz"
    write_vcf(vcf, GenotypeSpec(samples=40, variants=500, seed=2), sample_ids=people)
    ingest_vcf(world.ctx("sam"), vcf, "wgs", root=tmp / "datasets")
    consents = tmp / "consent.ndjson"
    consents.write_text("\n".join(
        json.dumps(make_consent(p, status="active" if i < 30 else "inactive"))
        for i, p in enumerate(people)
    ))  # fmt: skip
    registry.import_file(world.ctx("sam"), consents)
    world.approved("brca-study", members=["bob"], datasets=["cohort", "wgs"])
    world.approved("carol-study", lead="carol", members=[])
    world.apply("pending-study", members=[])
    world.approved("revoked-study", members=[])
    approvals.revoke(world.ctx("sam"), "revoked-study", "breach")
    world.approved("revocable-study", members=[])
    world.approved("expired-study", members=[])
    with store.session() as session:  # time passing: the approval's end moves into the past
        session.execute(
            update(Approval)
            .where(Approval.project.has(slug="expired-study"))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        )
    yield world
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def hub_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory of the module's own for the hub (the airlock's area, the releases),
    set in the environment the hub inherits; a module asks for it before its hub starts (an
    autouse fixture of its own that returns it)."""
    path = tmp_path_factory.mktemp("hub-data")
    before = os.environ.get("WGS_TRE_DATA_DIR")
    os.environ["WGS_TRE_DATA_DIR"] = str(path)
    yield path
    if before is None:
        del os.environ["WGS_TRE_DATA_DIR"]
    else:
        os.environ["WGS_TRE_DATA_DIR"] = before


GRACE = 3  # seconds; policies/sessions.yaml ships 30


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped policies, with a short revocation grace period so tests need not wait."""
    directory = tmp_path_factory.mktemp("policies")
    for path in (REPO / "policies").glob("*.yaml"):
        shutil.copy(path, directory / path.name)
    (directory / "sessions.yaml").write_text(
        f"idle_timeout_seconds: 3600\nrevocation_grace_seconds: {GRACE}\n"
    )
    return directory


@pytest.fixture(scope="module")
def hub(
    request: pytest.FixtureRequest, hub_world: World, policy_dir: Path, cgroup_filesystem: None
) -> Iterator[Hub]:
    # a module that opens dashboard pages says how many kernels wait for them (production: 2)
    waiting = getattr(request.module, "DASHBOARD_WAITING_KERNELS", 0)
    running = Hub(hub_world.store.url.render_as_string(False), policy_dir, waiting_kernels=waiting)
    running.start()
    yield running
    running.stop()
