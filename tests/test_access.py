"""The gate and dispensal through the real path: every refusal reason is produced and audited;
an approved member gets exactly the consenting participants, pseudonymised per project, lazily."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text

from tests.fhir_factory import consent
from tests.world import World
from wgs_tre.access import AccessRefused, Gate, Reason, pseudonym
from wgs_tre.backends.vcf_zarr import open_vcf_zarr
from wgs_tre.consent import registry
from wgs_tre.consent.impact import impact
from wgs_tre.duo import Purpose
from wgs_tre.errors import InvalidInput, NotFound
from wgs_tre.governance import approvals, datasets
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.project import open_project
from wgs_tre.store.models import AuditEvent, Project, ProjectKey
from wgs_tre.synth import GenotypeSpec, make_cohort

SAMPLES = 120


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_cohort(
        tmp_path_factory.mktemp("cohort"), GenotypeSpec(samples=SAMPLES, variants=2_000, seed=11)
    )


@pytest.fixture
def loaded(world: World, cohort) -> World:  # type: ignore[no-untyped-def]
    """The world with the cohort's genotypes ingested as wgs@1 and its consents imported."""
    ingest_vcf(world.ctx("sam"), cohort.vcf, "wgs", root=world.tmp / "datasets")
    registry.import_file(world.ctx("sam"), cohort.consent)
    return world


def expected_consented(consent_file: Path, *, commercial: bool) -> set[str]:
    """Independently of the registry: the latest version per participant is active and allows
    general research (GRU), and not non-commercial-only if the organisation is commercial."""
    latest: dict[str, dict] = {}  # type: ignore[type-arg]
    for line in consent_file.read_text().splitlines():
        resource = json.loads(line)
        who = resource["patient"]["reference"].split("/")[1]
        if who not in latest or resource["dateTime"] >= latest[who]["dateTime"]:
            latest[who] = resource
    allowed = set()
    for who, resource in latest.items():
        codes = {p["code"] for p in resource["provision"]["purpose"]}
        if resource["status"] != "active" or "DUO:0000042" not in codes:
            continue
        if commercial and "DUO:0000046" in codes:
            continue
        allowed.add(who)
    return allowed


def test_an_approved_member_gets_consenting_participants_pseudonymised(
    loaded: World, cohort
) -> None:  # type: ignore[no-untyped-def]
    loaded.approved("brca-study", datasets=["wgs"])
    handle = open_project("brca-study", user="bob", settings=loaded.settings())
    assert handle.datasets() == [("wgs@1", "variants")]
    view = handle.variants()
    expected = expected_consented(cohort.consent, commercial=False)
    assert 0 < len(expected) < SAMPLES
    assert view.sizes["samples"] == len(expected)
    assert view.sizes["variants"] == 2_000
    with loaded.store.session() as session:
        project = session.scalar(select(Project).where(Project.slug == "brca-study"))
        key = session.get(ProjectKey, project.id).key  # type: ignore[union-attr]
    by_pseudonym = {pseudonym(key, p): p for p in expected}
    assert set(view.sample_id.values) == set(by_pseudonym)
    # The dispensed genotypes are the participant's own (checked against the stored matrix).
    raw = open_vcf_zarr(_uri(loaded))
    raw_ids = list(raw.sample_id.values)
    for column in range(0, view.sizes["samples"], 17):
        participant = by_pseudonym[str(view.sample_id.values[column])]
        np.testing.assert_array_equal(
            view.call_genotype[:, column].values,
            raw.call_genotype[:, raw_ids.index(participant)].values,
        )
    event = loaded.last_event()
    assert (event.action, event.decision, event.dataset) == ("data.access", "allowed", "wgs@1")


def _uri(world: World) -> str:
    with world.store.session() as session:
        return datasets.get_version(session, "wgs@1").uri


def test_commercial_projects_lose_non_commercial_consents(loaded: World, cohort) -> None:  # type: ignore[no-untyped-def]
    loaded.approved("pharma-study", lead="carol", members=[], datasets=["wgs"])
    view = open_project("pharma-study", user="carol", settings=loaded.settings()).variants()
    assert view.sizes["samples"] == len(expected_consented(cohort.consent, commercial=True))


def test_pseudonyms_are_stable_in_a_project_and_unlinkable_across(loaded: World) -> None:
    loaded.approved("study-a", datasets=["wgs"])
    loaded.approved("study-b", datasets=["wgs"])
    first = open_project("study-a", user="alice", settings=loaded.settings()).variants()
    again = open_project("study-a", user="bob", settings=loaded.settings()).variants()
    other = open_project("study-b", user="alice", settings=loaded.settings()).variants()
    assert list(first.sample_id.values) == list(again.sample_id.values)
    assert not set(first.sample_id.values) & set(other.sample_id.values)
    # Not even the order links them: each view is sorted by its own pseudonyms.
    assert list(first.sample_id.values) == sorted(first.sample_id.values)


def test_internal_ids_never_appear_in_a_view(loaded: World) -> None:
    loaded.approved(datasets=["wgs"])
    view = open_project("brca-study", user="alice", settings=loaded.settings()).variants()
    texts = [str(v) for v in view.attrs.values()]
    for name, variable in view.variables.items():
        texts.append(name)
        if variable.dtype.kind in "OUT":
            texts += [str(x) for x in np.asarray(variable.values).ravel()]
    joined = "\n".join(texts)
    assert "P0000" not in joined


def test_a_withdrawal_excludes_the_participant_from_new_opens(loaded: World, cohort) -> None:  # type: ignore[no-untyped-def]
    loaded.approved(datasets=["wgs"])
    before = open_project("brca-study", user="alice", settings=loaded.settings()).variants()
    leaving = sorted(expected_consented(cohort.consent, commercial=False))[0]
    withdrawal = consent(leaving, fhir_id=f"consent-{leaving}", version="9", status="inactive",
                         when="2026-11-01T00:00:00Z")  # fmt: skip
    path = loaded.tmp / "withdrawal.json"
    path.write_text(json.dumps(withdrawal))
    registry.import_file(loaded.ctx("sam"), path)
    after = open_project("brca-study", user="alice", settings=loaded.settings()).variants()
    # The leaving participant's own pseudonym (an HMAC-SHA256 of their id under the project's
    # key, computed here) was in the view and is the one that went.
    with loaded.store.session() as session:
        key = session.execute(
            text(
                "SELECT k.key FROM project_key k JOIN project p ON p.id = k.project_id "
                "WHERE p.slug = 'brca-study'"
            )
        ).scalar_one()
    digest = hmac.new(key, leaving.encode(), hashlib.sha256).digest()
    gone = "s" + base64.b32encode(digest[:15]).decode().lower()
    assert set(before.sample_id.values) - set(after.sample_id.values) == {gone}


def test_opening_is_lazy(loaded: World) -> None:
    loaded.approved(datasets=["wgs"])
    view = open_project("brca-study", user="alice", settings=loaded.settings()).variants()
    assert view.call_genotype.chunks is not None  # a dask array: nothing read yet


# -- every refusal, through the real path, audited -----------------------------------------------
def _refused(world: World, code: Reason, attempt) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AccessRefused) as refusal:
        attempt()
    assert refusal.value.code is code
    event = world.last_event()
    assert (event.action, event.decision) == ("data.access", "refused")
    assert code.value in event.reason


def test_every_refusal_reason_is_produced_and_audited(world: World) -> None:
    gate = Gate(world.store, world.policies)
    world.approved("open-study")
    world.apply("pending-study", members=[])
    _refused(world, Reason.UNKNOWN_USER, lambda: gate.decide("ghost", "open-study", "cohort"))
    _refused(world, Reason.ROLE_NOT_ALLOWED, lambda: gate.decide("eve", "open-study", "cohort"))
    _refused(world, Reason.NOT_A_MEMBER, lambda: gate.decide("carol", "open-study", "cohort"))
    _refused(world, Reason.NO_APPROVAL, lambda: gate.decide("alice", "pending-study", "cohort"))
    world.register("cohort", "a second release")
    _refused(
        world, Reason.DATASET_NOT_APPROVED, lambda: gate.decide("bob", "open-study", "cohort@2")
    )
    _refused(world, Reason.DATASET_NOT_APPROVED, lambda: gate.decide("bob", "open-study", "other"))
    hmb = Purpose.parse("HMB")
    _refused(
        world,
        Reason.PURPOSE_MISMATCH,
        lambda: gate.decide("bob", "open-study", "cohort", purpose=hmb),
    )
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    _refused(world, Reason.EXPIRED, lambda: gate.decide("bob", "open-study", "cohort", at=later))
    approvals.suspend(world.ctx("sam"), "open-study", "audit finding")
    _refused(world, Reason.SUSPENDED, lambda: gate.decide("bob", "open-study", "cohort"))
    approvals.revoke(world.ctx("sam"), "open-study", "breach")
    _refused(world, Reason.REVOKED, lambda: gate.decide("bob", "open-study", "cohort"))
    with world.store.session() as session:
        refusals = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "data.access")
        ).all()
    assert {e.decision for e in refusals} == {"refused"} and len(refusals) == 10


def test_unknown_projects_and_ambiguous_datasets_are_explained(world: World) -> None:
    gate = Gate(world.store, world.policies)
    with pytest.raises(NotFound, match="no project named 'nope'"):
        gate.decide("alice", "nope", "cohort")
    event = world.last_event()
    assert (event.actor, event.project, event.decision) == ("alice", "nope", "refused")
    world.register("second")
    world.approved(datasets=["cohort", "second"])
    handle = open_project("brca-study", user="alice", settings=world.settings())
    with pytest.raises(InvalidInput, match="name the variants dataset to open"):
        handle.variants()


def test_withdrawal_impact_names_versions_and_projects(loaded: World, cohort) -> None:  # type: ignore[no-untyped-def]
    loaded.approved("study-a", datasets=["wgs"])
    loaded.approved("study-b", datasets=["cohort"])
    person = sorted(expected_consented(cohort.consent, commercial=False))[0]
    report = impact(loaded.ctx("sam"), person)
    assert report.dataset_versions == ["wgs@1"]
    assert [(p.project, p.approval_state, p.datasets) for p in report.projects] == [
        ("study-a", "active", ["wgs@1"])
    ]
    assert report.withdrawn is False and report.released_outputs == []
    event = loaded.last_event()
    assert (event.actor, event.action) == ("sam", "consent.read")
    assert person not in f"{event.reason} {event.details}"
    with pytest.raises(NotFound):
        impact(loaded.ctx("sam"), "P999999")


def test_a_grant_keeps_ids_and_key_out_of_its_repr(loaded: World) -> None:
    """Grants end up in tracebacks and logs; their repr names no participant and no key."""
    loaded.approved(datasets=["wgs"])
    grant = Gate(loaded.store, loaded.policies).decide("alice", "brca-study", "wgs")
    text = repr(grant) + str(grant)
    assert grant.participants and not any(p in text for p in grant.participants)
    assert grant.key.hex() not in text and str(grant.key) not in text
