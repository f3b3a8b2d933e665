"""The consent registry: FHIR Consent import (JSON and NDJSON), latest-wins history, the
who-may-be-used query, withdrawal auditing, and refusal of bad input with the store unchanged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.fhir_factory import bundle, consent
from tests.world import World
from wgs_tre.consent import registry
from wgs_tre.duo import Purpose
from wgs_tre.errors import AlreadyImported, InvalidInput
from wgs_tre.store.models import AuditEvent
from wgs_tre.types import OrgType

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 1, tzinfo=UTC)
GRU, HMB, POA = Purpose.parse("GRU"), Purpose.parse("HMB"), Purpose.parse("POA")


def write(world: World, name: str, *docs: dict[str, Any], ndjson: bool = False) -> Path:
    path = world.tmp / name
    if ndjson:
        path.write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    else:
        (doc,) = docs
        path.write_text(json.dumps(doc, indent=1))
    return path


def permitted(world: World, purpose: Purpose, org: OrgType, at: dt.datetime = NOW) -> set[str]:
    with world.store.session() as session:
        return registry.permitted_participants(session, purpose, org, at)


def test_import_a_bundle_and_ask_who_may_be_used(world: World) -> None:
    path = write(
        world,
        "consents.json",
        bundle(
            consent("P1", duo=["DUO:0000042"]),  # general research
            consent("P2", duo=["DUO:0000006"]),  # health/medical/biomedical
            consent("P3", duo=["DUO:0000007"], diseases=["C50"]),  # breast cancer only
            consent("P4", duo=["DUO:0000042", "DUO:0000046"]),  # GRU, non-commercial
            consent("P5", duo=["DUO:0000011"]),  # ancestry only
            consent("P6", status="inactive", duo=["DUO:0000042"]),  # withdrawn
            {"resourceType": "Patient", "id": "P1"},  # other resources are skipped
        ),
    )
    report = registry.import_file(world.ctx("sam"), path)
    assert (report.consents, report.withdrawals, report.new_participants) == (6, 1, 6)

    assert permitted(world, GRU, OrgType.ACADEMIC) == {"P1", "P4"}
    assert permitted(world, GRU, OrgType.INDUSTRY) == {"P1"}
    assert permitted(world, HMB, OrgType.ACADEMIC) == {"P1", "P2", "P4"}
    breast = Purpose.parse("DS", "C50.9")
    assert permitted(world, breast, OrgType.ACADEMIC) == {"P1", "P2", "P3", "P4"}
    assert permitted(world, breast, OrgType.DATA_PROVIDER) == {"P1", "P2", "P3"}
    assert permitted(world, Purpose.parse("DS", "E11"), OrgType.ACADEMIC) == {"P1", "P2", "P4"}
    assert permitted(world, POA, OrgType.ACADEMIC) == {"P1", "P4", "P5"}

    status = registry.status_summary(
        world.ctx("sam"), purpose=GRU, org_type=OrgType.INDUSTRY, at=NOW
    )
    assert (status.participants, status.withdrawn, status.in_force, status.permitted) == (
        6,
        1,
        5,
        1,
    )


def test_ndjson_with_consents_and_bundles(world: World) -> None:
    path = write(
        world,
        "consents.ndjson",
        consent("P1"),
        bundle(consent("P2"), consent("P3")),
        consent("P4", duo=["DUO:0000006"]),
        ndjson=True,
    )
    assert registry.import_file(world.ctx("sam"), path).consents == 4
    assert permitted(world, GRU, OrgType.ACADEMIC) == {"P1", "P2", "P3"}


def test_latest_version_wins_and_history_is_kept(world: World) -> None:
    first = consent("P1", version="1", when="2024-01-01T00:00:00Z", duo=["DUO:0000042"])
    narrowed = consent(
        "P1", version="2", when="2025-01-01T00:00:00Z", duo=["DUO:0000007"], diseases=["C"]
    )
    withdrawn = consent("P1", version="3", when="2026-01-01T00:00:00Z", status="inactive")
    registry.import_file(world.ctx("sam"), write(world, "v1.json", first))
    registry.import_file(world.ctx("sam"), write(world, "v23.json", bundle(withdrawn, narrowed)))

    cancer = Purpose.parse("DS", "C34")
    at = {y: dt.datetime(y, 6, 1, tzinfo=UTC) for y in (2023, 2024, 2025, 2026)}
    assert permitted(world, GRU, OrgType.ACADEMIC, at[2023]) == set()  # no consent yet
    assert permitted(world, GRU, OrgType.ACADEMIC, at[2024]) == {"P1"}
    assert permitted(world, GRU, OrgType.ACADEMIC, at[2025]) == set()
    assert permitted(world, cancer, OrgType.ACADEMIC, at[2025]) == {"P1"}
    assert permitted(world, cancer, OrgType.ACADEMIC, at[2026]) == set()

    versions = registry.history(world.ctx("sam"), "P1")
    assert [v.fhir_version for v in versions] == ["1", "3", "2"]  # registry order
    assert [v.fhir_version for v in versions if v.applies_now] == ["3"]


def test_entered_in_error_is_ignored_and_period_bounds_validity(world: World) -> None:
    path = write(
        world,
        "c.json",
        bundle(
            consent("P1", version="1", when="2024-01-01T00:00:00Z"),
            consent("P1", version="2", when="2024-02-01T00:00:00Z", status="entered-in-error"),
            consent("P2", period=("2024-01-01", "2025-12-31")),
        ),
    )
    registry.import_file(world.ctx("sam"), path)
    assert permitted(world, GRU, OrgType.ACADEMIC, dt.datetime(2025, 6, 1, tzinfo=UTC)) == {
        "P1",
        "P2",
    }
    assert permitted(world, GRU, OrgType.ACADEMIC, NOW) == {"P1"}


def test_a_consent_period_includes_its_first_and_whole_last_day(world: World) -> None:
    """FHIR Period: both bounds are inclusive, and an end given as a date includes that whole
    day (a time "is in a period that has an end value of" its date)."""
    days = ("2024-01-01", "2025-12-31")
    signed = "2023-06-01T00:00:00Z"  # before the period: the start alone decides
    path = write(world, "c.json", bundle(consent("P1", when=signed, period=days)))
    registry.import_file(world.ctx("sam"), path)
    tick = dt.timedelta(microseconds=1)
    start, after_end = dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert permitted(world, GRU, OrgType.ACADEMIC, start - tick) == set()
    assert permitted(world, GRU, OrgType.ACADEMIC, start) == {"P1"}
    assert permitted(world, GRU, OrgType.ACADEMIC, after_end - dt.timedelta(hours=12)) == {"P1"}
    assert permitted(world, GRU, OrgType.ACADEMIC, after_end - tick) == {"P1"}
    assert permitted(world, GRU, OrgType.ACADEMIC, after_end) == set()


def test_a_consent_period_given_to_the_second_ends_at_that_second(world: World) -> None:
    period = ("2024-03-01T08:00:00+09:00", "2025-12-31T18:30:00+09:00")
    path = write(world, "c.json", bundle(consent("P1", period=period)))
    registry.import_file(world.ctx("sam"), path)
    start = dt.datetime(2024, 2, 29, 23, tzinfo=UTC)
    end = dt.datetime(2025, 12, 31, 9, 30, tzinfo=UTC)
    tick = dt.timedelta(microseconds=1)
    assert permitted(world, GRU, OrgType.ACADEMIC, start - tick) == set()
    assert permitted(world, GRU, OrgType.ACADEMIC, start) == {"P1"}
    assert permitted(world, GRU, OrgType.ACADEMIC, end) == {"P1"}
    assert permitted(world, GRU, OrgType.ACADEMIC, end + dt.timedelta(seconds=1)) == set()


def test_recontact_preference_is_recorded(world: World) -> None:
    path = write(world, "c.json", bundle(consent("P1", recontact=False), consent("P2")))
    registry.import_file(world.ctx("sam"), path)
    assert registry.history(world.ctx("sam"), "P1")[0].recontact is False
    assert registry.history(world.ctx("sam"), "P2")[0].recontact is True


def test_withdrawals_are_audited_without_naming_the_participant(world: World) -> None:
    path = write(
        world,
        "c.json",
        bundle(
            consent("PX-4711"),
            consent("PY-0815", status="inactive"),
            consent("PZ-1234", provision_type="deny", duo=[]),
        ),
    )
    registry.import_file(world.ctx("sam"), path)
    with world.store.session() as session:
        log = session.scalars(select(AuditEvent)).all()
        withdrawals = [e for e in log if e.action == "consent.withdrawal"]
        text = " ".join(
            f"{e.actor} {e.action} {e.project} {e.dataset} {e.reason} {e.details}" for e in log
        )
    assert len(withdrawals) == 2 and all(e.actor == "sam" for e in withdrawals)
    for participant in ("PX-4711", "PY-0815", "PZ-1234"):
        assert participant not in text


# -- bad input: a clear error naming the problem, and nothing stored ------------------------------
BAD_INPUTS = [
    ("broken.json", b'{"resourceType": "Bundle",\n "entry": [\n  {"resource": }', "line 3 column"),
    ("trailing.ndjson", None, "trailing.ndjson line 2: not valid JSON"),
    ("status.json", {"status": "bogus"}, "entry[1] (Consent/c-P2-1): status: 'bogus' is not one"),
    ("time.json", {"dateTime": "yesterday"}, "entry[1]: invalid Consent: dateTime"),
    ("patient.json", {"patient": {"reference": "Group/7"}}, "patient: a reference"),
    ("duo.json", {"duo": ["DUO:9999999"]}, "provision.purpose[0]: unknown DUO code 'DUO:9999999'"),
    ("system.json", {"system": "http://example.org"}, "system must be http://purl.obolibrary"),
    ("ds.json", {"duo": ["DUO:0000007"]}, "DS consent needs an ICD-10"),
    ("scope.json", {"scope": "treatment"}, "scope: only research consents"),
    ("date.json", {"dateTime": None}, "dateTime: when the consent was given is required"),
    ("empty.json", {"empty": True}, "holds no Consent resources"),
    ("patientonly.json", {"kind": "Patient"}, "expected a Consent or a Bundle, found Patient"),
]


def _bad_file(world: World, name: str, change: Any) -> Path:
    path = world.tmp / name
    if isinstance(change, bytes):
        path.write_bytes(change)
        return path
    if change is None:  # NDJSON whose second line is cut short
        path.write_text(json.dumps(consent("P1")) + "\n" + json.dumps(consent("P2"))[:40] + "\n")
        return path
    if change.get("empty"):
        return write(world, name, bundle())
    if change.get("kind"):
        return write(world, name, {"resourceType": "Patient", "id": "x"})
    bad = consent("P2", duo=change.get("duo", ["DUO:0000042"]))
    if "status" in change:
        bad["status"] = change["status"]
    if "patient" in change:
        bad["patient"] = change["patient"]
    if "system" in change:
        bad["provision"]["purpose"][0]["system"] = change["system"]
    if "scope" in change:
        bad["scope"]["coding"][0]["code"] = change["scope"]
    if "dateTime" in change:
        if change["dateTime"] is None:
            del bad["dateTime"]
        else:
            bad["dateTime"] = change["dateTime"]
    return write(world, name, bundle(consent("P1"), bad))


@pytest.mark.parametrize(("name", "change", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_and_changes_nothing(
    world: World, name: str, change: Any, message: str
) -> None:
    before = world.counts()
    with pytest.raises(InvalidInput) as error:
        registry.import_file(world.ctx("sam"), _bad_file(world, name, change))
    assert message in error.value.message
    assert error.value.message.startswith(name)
    assert world.counts() == before


def test_the_same_file_twice_is_refused_and_changes_nothing(world: World) -> None:
    path = write(world, "c.json", bundle(consent("P1"), consent("P2")))
    registry.import_file(world.ctx("sam"), path)
    before = world.counts()
    with pytest.raises(AlreadyImported, match="already imported on .* as c.json"):
        registry.import_file(world.ctx("sam"), path)
    renamed = world.tmp / "copy.json"
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(AlreadyImported, match="already imported"):
        registry.import_file(world.ctx("sam"), renamed)
    reformatted = write(world, "again.ndjson", consent("P2"), ndjson=True)
    with pytest.raises(
        AlreadyImported, match="Consent/c-P2-1 version 1 is already in the registry"
    ):
        registry.import_file(world.ctx("sam"), reformatted)
    assert world.counts() == before


def test_a_missing_file_is_a_clear_error(world: World) -> None:
    with pytest.raises(InvalidInput, match="nope.json: No such file"):
        registry.import_file(world.ctx("sam"), world.tmp / "nope.json")
