"""Property-based: under random consents, approvals and purposes, no view ever holds a
participant whose latest consent does not permit the project's use, whatever order the versions
were imported in; pseudonyms (checked against an HMAC computed here) are stable within a project
and disjoint across projects; internal ids never appear in a view."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.fhir_factory import consent
from tests.world import World
from wgs_tre.consent import registry
from wgs_tre.duo import Purpose
from wgs_tre.governance import users
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.project import open_project
from wgs_tre.store.models import Project, ProjectKey
from wgs_tre.synth.genotypes import GenotypeSpec, write_vcf
from wgs_tre.types import OrgType, Role

PEOPLE = [f"P{i:06d}" for i in range(1, 25)]
LEADS = {OrgType.ACADEMIC: "alice", OrgType.INDUSTRY: "carol", OrgType.DATA_PROVIDER: "dora"}
PURPOSES = {
    "gru": Purpose.parse("GRU"),
    "hmb": Purpose.parse("HMB"),
    "ds-breast": Purpose.parse("DS", "C50.1"),
    "poa": Purpose.parse("POA"),
}
PERMISSIONS = [("DUO:0000042", None), ("DUO:0000006", None), ("DUO:0000007", "C50"),
               ("DUO:0000007", "E11"), ("DUO:0000011", None)]  # fmt: skip
_version = itertools.count(1)
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _pseudonym(key: bytes, person: str) -> str:
    """The documented pseudonym: HMAC-SHA256 of the id under the project's key, its first 15
    bytes in lower-case base32 after an ``s``."""
    digest = hmac.new(key, person.encode(), hashlib.sha256).digest()
    return "s" + base64.b32encode(digest[:15]).decode().lower()


def oracle(
    choice: tuple[str, tuple[str, str | None], bool], purpose: Purpose, org: OrgType
) -> bool:
    status, (permission, disease), non_commercial = choice
    if status != "active" or (non_commercial and org is not OrgType.ACADEMIC):
        return False
    covers = {
        "DUO:0000042": True,
        "DUO:0000006": purpose.code in ("DUO:0000006", "DUO:0000007"),
        "DUO:0000011": purpose.code == "DUO:0000011",
        "DUO:0000007": purpose.code == "DUO:0000007"
        and (purpose.disease or "").startswith(disease or "-"),
    }
    return covers[permission]


@pytest.fixture
def grid(world: World) -> World:
    """The world with a 24-person VCF ingested and one approved project per (purpose, org)."""
    users.create_user(world.ctx("root1"), "dora", roles={Role.RESEARCHER}, organisation="SeqCo")
    vcf = world.tmp / "small.vcf.gz"
    write_vcf(vcf, GenotypeSpec(samples=len(PEOPLE), variants=60, seed=5), sample_ids=PEOPLE)
    ingest_vcf(world.ctx("sam"), vcf, "wgs", root=world.tmp / "datasets")
    for (name, purpose), (org, lead) in itertools.product(PURPOSES.items(), LEADS.items()):
        world.approved(f"{name}-{org.value.replace('_', '-')}", lead=lead, members=[],
                       purpose=purpose, datasets=["wgs"])  # fmt: skip
    return world


choices = st.tuples(
    st.sampled_from(["active", "active", "active", "inactive"]),
    st.sampled_from(PERMISSIONS),
    st.booleans(),
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    consents=st.lists(choices, min_size=len(PEOPLE), max_size=len(PEOPLE)),
    earlier=st.lists(choices, min_size=len(PEOPLE), max_size=len(PEOPLE)),
    earlier_imported_last=st.booleans(),
    purpose=st.sampled_from(list(PURPOSES)),
    orgs=st.lists(st.sampled_from(list(LEADS)), min_size=2, max_size=2, unique=True),
)
def test_views_hold_only_permitted_participants(  # type: ignore[no-untyped-def]
    grid: World, consents, earlier, earlier_imported_last, purpose, orgs
) -> None:
    """Each example records two versions per person: ``consents`` and, half an hour before it,
    ``earlier``, imported first or last. The later-recorded version decides."""
    version = next(_version)
    latest_at = START + dt.timedelta(hours=version)
    files = [
        _consent_file(grid, f"{version}-latest", consents, str(2 * version + 1), latest_at),
        _consent_file(grid, f"{version}-earlier", earlier, str(2 * version),
                      latest_at - dt.timedelta(minutes=30)),
    ]  # fmt: skip
    for path in reversed(files) if not earlier_imported_last else files:
        registry.import_file(grid.ctx("sam"), path)

    views = {}
    for org in orgs:
        slug = f"{purpose}-{org.value.replace('_', '-')}"
        view = open_project(slug, user=LEADS[org], settings=grid.settings()).variants()
        key = _key(grid, slug)
        expected = {
            _pseudonym(key, person)
            for person, choice in zip(PEOPLE, consents, strict=True)
            if oracle(choice, PURPOSES[purpose], org)
        }
        got = set(view.sample_id.values.tolist())
        assert got == expected
        texts = " ".join(str(v) for v in view.sample_id.values) + str(view.attrs)
        assert "P0000" not in texts
        views[slug] = got
    first, second = views.values()
    assert not first & second  # pseudonyms of different projects never coincide


def test_pseudonyms_are_stable_across_opens(grid: World) -> None:
    path = grid.tmp / "all.ndjson"
    path.write_text("\n".join(json.dumps(consent(p, fhir_id=f"all-{p}")) for p in PEOPLE))
    registry.import_file(grid.ctx("sam"), path)
    opens = [
        open_project("gru-academic", user="alice", settings=grid.settings()).variants()
        for _ in range(2)
    ]
    np.testing.assert_array_equal(opens[0].sample_id.values, opens[1].sample_id.values)


def _consent_file(  # type: ignore[no-untyped-def]
    world: World, name: str, choices, version: str, when: dt.datetime
):
    lines = []
    for person, (status, (permission, disease), ncu) in zip(PEOPLE, choices, strict=True):
        codes = [permission, "DUO:0000046"] if ncu else [permission]
        lines.append(consent(person, fhir_id=f"c-{person}", version=version, status=status,
                             duo=codes, diseases=[disease] if disease else [],
                             when=when.strftime("%Y-%m-%dT%H:%M:%SZ")))  # fmt: skip
    path = world.tmp / f"consent-{name}.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    return path


def _key(world: World, slug: str) -> bytes:
    with world.store.session() as session:
        project = session.scalar(select(Project).where(Project.slug == slug))
        assert project is not None
        found = session.get(ProjectKey, project.id)
        assert found is not None
        return found.key
