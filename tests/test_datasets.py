"""Datasets: versioned, immutable, checksummed; the files on disk can be checked against them."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from tests.racing import race
from tests.world import World
from wgs_tre.access import AccessRefused, Gate, Reason
from wgs_tre.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from wgs_tre.governance import datasets
from wgs_tre.store.models import AuditEvent
from wgs_tre.types import DatasetKind


def test_versions_count_up_and_record_a_manifest(world: World) -> None:
    release = world.tmp / "release"
    (release / "chr1").mkdir(parents=True)
    (release / "chr1" / "calls.vcf.gz").write_bytes(b"\x1f\x8b" + b"x" * 100)
    (release / "README").write_text("release notes")
    view = datasets.register_version(world.ctx("sam"), "cohort", release)
    assert (view.label, view.files, view.size_bytes) == ("cohort@2", 2, 115)
    with world.store.session() as session:
        stored = datasets.get_version(session, "cohort")
        assert stored.version == 2
        assert set(stored.manifest) == {"README", "chr1/calls.vcf.gz"}
        assert stored.checksum == datasets.manifest_checksum(stored.manifest)
    assert [v.label for v in datasets.list_versions(world.ctx("alice"))] == ["cohort@1", "cohort@2"]


def test_registered_versions_cannot_be_edited(world: World) -> None:
    with pytest.raises(DatabaseError, match="append-only"), world.store.engine.begin() as conn:
        conn.execute(text("UPDATE dataset_version SET uri = '/elsewhere'"))
    with pytest.raises(DatabaseError, match="append-only"), world.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM dataset_version"))


def test_verify_finds_changed_missing_and_extra_files(world: World) -> None:
    release = world.tmp / "rel"
    release.mkdir()
    (release / "a.txt").write_text("a")
    (release / "b.txt").write_text("b")
    datasets.register_version(world.ctx("sam"), "panel", release, kind=DatasetKind.CLINICAL)
    assert datasets.verify_version(world.ctx("sam"), "panel@1") == []
    (release / "a.txt").write_text("A")
    (release / "b.txt").unlink()
    (release / "c.txt").write_text("c")
    assert sorted(datasets.verify_version(world.ctx("sam"), "panel@1")) == [
        "a.txt: contents changed",
        "b.txt: missing",
        "c.txt: not in the registered version",
    ]


@pytest.mark.parametrize(
    ("name", "kind", "path", "message"),
    [
        ("Bad Name", DatasetKind.VARIANTS, "x.txt", "use lower-case letters"),
        ("fresh", None, "x.txt", "a new dataset needs a kind"),
        ("cohort", DatasetKind.CLINICAL, "x.txt", "is of kind variants, not clinical"),
        ("cohort", None, "missing.txt", "no such file or directory"),
        ("cohort", None, "empty", "directory holds no files"),
    ],
)
def test_bad_registrations_change_nothing(world: World, name, kind, path, message) -> None:  # type: ignore[no-untyped-def]
    (world.tmp / "x.txt").write_text("x")
    (world.tmp / "empty").mkdir()
    before = world.counts()
    with pytest.raises(InvalidInput, match=message):
        datasets.register_version(world.ctx("sam"), name, world.tmp / path, kind=kind)
    assert world.counts() == before


def test_unknown_versions_are_not_found(world: World) -> None:
    with world.store.session() as session, pytest.raises(NotFound, match="cohort@7"):
        datasets.get_version(session, "cohort@7")
    with world.store.session() as session, pytest.raises(InvalidInput, match="must be a number"):
        datasets.get_version(session, "cohort@latest")


def test_a_retired_version_is_refused_to_new_applications_and_sessions(world: World) -> None:
    world.approved("open-study", datasets=["cohort@1"])
    world.register("cohort", "a corrected release")  # cohort@2
    gate = Gate(world.store, world.policies)
    assert gate.decide("bob", "open-study", "cohort").dataset == "cohort@1"

    view = datasets.retire_version(world.ctx("sam"), "cohort@1", "  QC failure on chr7  ")
    assert (view.label, view.retired_reason) == ("cohort@1", "QC failure on chr7")
    event = world.last_event()
    assert (event.actor, event.action, event.dataset, event.decision) == (
        "sam", "dataset.retire", "cohort@1", "allowed"
    )  # fmt: skip
    assert json.loads(event.details or "{}") == {"reason": "QC failure on chr7"}

    # A session of a project approved for it is refused, saying when and why; audited.
    with pytest.raises(AccessRefused) as refusal:
        gate.decide("bob", "open-study", "cohort")
    assert refusal.value.code is Reason.DATASET_RETIRED
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert f"cohort@1 retired on {today}: QC failure on chr7" in str(refusal.value)
    assert (world.last_event().action, world.last_event().decision) == ("data.access", "refused")

    # New applications: naming it is refused; the bare name means the newest version in use.
    with pytest.raises(InvalidInput, match="cohort@1.*retired on .*: QC failure on chr7"):
        world.apply("new-study", datasets=["cohort@1"])
    application = world.apply("newer-study", datasets=["cohort"]).application
    assert application is not None and application.datasets == ["cohort@2"]


@pytest.mark.parametrize(
    ("actor", "label", "reason", "error", "message"),
    [
        ("alice", "cohort@1", "x", PermissionDenied, "role not allowed"),
        ("sam", "cohort", "x", InvalidInput, "name the version to retire"),
        ("sam", "cohort@1", "  ", InvalidInput, "say why"),
        ("sam", "cohort@9", "x", NotFound, "cohort@9"),
    ],
)
def test_bad_retirements_change_nothing(world: World, actor, label, reason, error, message) -> None:  # type: ignore[no-untyped-def]
    before = world.counts()
    with pytest.raises(error, match=message):
        datasets.retire_version(world.ctx(actor), label, reason)
    assert {k: v for k, v in world.counts().items() if k != "audit_event"} == {
        k: v for k, v in before.items() if k != "audit_event"
    }


def test_retirement_is_final(world: World) -> None:
    datasets.retire_version(world.ctx("sam"), "cohort@1", "recalled")
    before = world.counts()
    with pytest.raises(InvalidTransition, match="cannot retire dataset version cohort@1"):
        datasets.retire_version(world.ctx("sue"), "cohort@1", "again")
    assert world.counts()["dataset_retirement"] == before["dataset_retirement"] == 1
    # Nor can the record be edited or removed behind the application's back.
    for statement in (
        "UPDATE dataset_retirement SET reason = 'x'",
        "DELETE FROM dataset_retirement",
    ):
        with pytest.raises(DatabaseError, match="append-only"), world.store.engine.begin() as conn:
            conn.execute(text(statement))


FINAL = "allowed from retired: none (final state)"


def test_two_stewards_retiring_one_version_at_once(world: World) -> None:
    """Both read the version as not retired before either commits; the second is told it is
    retired (exit 5, one line), not an internal error; one retirement and one refusal stored."""
    retire = [sys.executable, "-m", "wgs_tre", "datasets", "retire", "cohort@1", "--reason"]
    outcomes = race(
        world.store,
        [([*retire, f"recalled by {name}"], world.cli_env(name)) for name in ("sam", "sue")],
    )
    (done, out, _), (conflict, _, err) = outcomes
    assert (done, conflict) == (0, 5), outcomes
    assert err == f"error: cannot retire dataset version cohort@1: it is retired; {FINAL}\n"
    assert world.counts()["dataset_retirement"] == 1
    with world.store.session() as session:
        retirements = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "dataset.retire")
        ).all()
        decisions = sorted((e.decision, e.actor) for e in retirements)
    winner = "sam" if "recalled by sam" in out else "sue"
    loser = ({"sam", "sue"} - {winner}).pop()
    assert decisions == [("allowed", winner), ("refused", loser)]
