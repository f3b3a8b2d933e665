"""Datasets: versioned, immutable, checksummed; the files on disk can be checked against them."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from tests.world import World
from wgs_tre.errors import InvalidInput, NotFound
from wgs_tre.governance import datasets
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
