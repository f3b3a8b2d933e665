"""What stewards and admins look up from the CLI: organisations, accounts by role and state."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.fhir_factory import bundle, consent
from wgs_tre.synth.genotypes import GenotypeSpec, write_vcf


@pytest.fixture
def cli(cli):  # type: ignore[no-untyped-def]
    """The shared runner (tests/conftest.py), ``run``, on a store with organisations and
    accounts, and ``ok``: a command as root1 with ``--json`` that must succeed."""
    run = cli

    def ok(*args: str) -> object:
        code, out, err = run("--json", "--as", "root1", *args)
        assert code == 0, err
        return json.loads(out)

    code, _, err = run("init", "--admin", "root1")
    assert code == 0, err
    ok("orgs", "create", "NCGM", "--type", "academic")
    ok("orgs", "create", "Hospital A", "--type", "data_provider")
    ok("orgs", "create", "Pharma", "--type", "industry")
    ok("users", "create", "sam", "-r", "steward", "--org", "NCGM")
    ok("users", "create", "sue", "-r", "steward", "-r", "researcher", "--org", "NCGM")
    ok("users", "create", "alice", "-r", "researcher", "--org", "Hospital A")
    ok("users", "create", "bob", "-r", "researcher", "--org", "Pharma", "--pending")
    return run, ok


def test_orgs_list_counts_accounts(cli) -> None:  # type: ignore[no-untyped-def]
    run, ok = cli
    assert ok("orgs", "list") == [
        {"name": "Hospital A", "org_type": "data_provider", "accounts": 1},
        {"name": "NCGM", "org_type": "academic", "accounts": 2},
        {"name": "Pharma", "org_type": "industry", "accounts": 1},
    ]
    code, out, _ = run("--as", "sam", "orgs", "list")
    assert code == 0 and "Hospital A" in out and "data_provider" in out


def test_orgs_list_is_for_stewards_and_admins(cli) -> None:  # type: ignore[no-untyped-def]
    run, _ = cli
    code, _, err = run("--as", "alice", "orgs", "list")
    assert code == 4 and "may not user.list" in err


def test_users_list_filters_by_role_and_state(cli) -> None:  # type: ignore[no-untyped-def]
    _, ok = cli
    assert [u["username"] for u in ok("users", "list", "--role", "steward")] == ["sam", "sue"]
    assert [u["username"] for u in ok("users", "list", "--role", "researcher")] == [
        "alice", "bob", "sue"
    ]  # fmt: skip
    assert [u["username"] for u in ok("users", "list", "--state", "pending")] == ["bob"]
    both = ok("users", "list", "--role", "researcher", "--state", "active")
    assert [u["username"] for u in both] == ["alice", "sue"]


def test_audit_export_filters_by_project_actor_and_time(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, ok = cli
    time.sleep(1.0)  # a second boundary between the fixture's events and the ones below
    ok("orgs", "create", "Later", "--type", "academic")
    db = sqlite3.connect(tmp_path / "state" / "governance.db")
    (middle,) = db.execute("SELECT time FROM audit_event WHERE reason LIKE '%Later%'").fetchone()
    out = tmp_path / "export.jsonl"

    def exported(*filters: str) -> list[int]:
        ok("audit", "export", "-o", str(out), *filters)
        return [json.loads(line)["seq"] for line in out.read_text().splitlines()]

    def stored(where: str, *args: str) -> list[int]:
        rows = db.execute(f"SELECT seq FROM audit_event WHERE {where} ORDER BY seq", args)
        return [seq for (seq,) in rows]

    assert exported("--actor", "root1") == stored("actor = 'root1'")
    since = middle[:19]  # to the second, as a steward types it
    assert exported("--since", since) == stored("time >= ?", since)
    assert 0 < len(stored("time >= ?", since)) < len(stored("1=1"))
    assert exported("--actor", "root1", "--since", since) == stored(
        "actor = 'root1' AND time >= ?", since
    )
    assert exported("--project", "no-such") == []
    code, _, err = run("--as", "root1", "audit", "export", "--since", "last week")
    assert code == 2 and "last week" in err


def _apply(ok, slug: str, lead: str = "alice") -> None:  # type: ignore[no-untyped-def]
    until = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    ok("--as", lead, "projects", "apply", slug, "--title", slug, "--purpose", "GRU",
       "--ethics-ref", "IRB-1", "--expiry", until, "-d", "cohort@1")  # fmt: skip


@pytest.fixture
def cohort(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, ok = cli
    release = tmp_path / "release"
    release.mkdir()
    (release / "calls.txt").write_text("v1")
    ok("--as", "sam", "datasets", "register", "cohort", str(release), "--kind", "variants")


def test_projects_list_by_status_and_awaiting_my_vote(cli, cohort) -> None:  # type: ignore[no-untyped-def]
    run, ok = cli
    ok("users", "create", "sol", "-r", "steward", "--org", "NCGM")
    for slug in ("study-a", "study-b", "study-c"):
        _apply(ok, slug)
    ok("--as", "sam", "projects", "vote", "study-a", "approve")
    ok("--as", "sue", "projects", "vote", "study-a", "approve")
    ok("--as", "sam", "projects", "approve", "study-a")
    ok("--as", "sam", "projects", "vote", "study-b", "reject")

    def slugs(*args: str) -> list[str]:
        return [p["slug"] for p in ok(*args)]  # type: ignore[attr-defined]

    assert slugs("--as", "sam", "projects", "list", "--status", "in_review") == [
        "study-b", "study-c"
    ]  # fmt: skip
    assert slugs("--as", "sam", "projects", "list", "--status", "active") == ["study-a"]
    both = slugs("--as", "sam", "projects", "list", "--status", "active", "--status", "in_review")
    assert both == ["study-a", "study-b", "study-c"]
    assert slugs("--as", "sam", "projects", "list", "--awaiting-my-vote") == ["study-c"]
    assert slugs("--as", "sol", "projects", "list", "--awaiting-my-vote") == ["study-b", "study-c"]
    code, _, err = run("--as", "sam", "projects", "list", "--status", "in review")
    assert code == 2 and "in_review" in err  # the accepted values are listed


def test_projects_show_gives_quorum_progress(cli, cohort) -> None:  # type: ignore[no-untyped-def]
    run, ok = cli
    _apply(ok, "study-a")
    ok("--as", "sam", "projects", "vote", "study-a", "reject", "--comment", "consent unclear")
    code, out, _ = run("--as", "sam", "projects", "show", "study-a")
    assert code == 0 and "in review" in out
    assert "votes      1 of 2 needed (0 approve, 1 reject)" in out
    assert ok("--as", "sam", "projects", "show", "study-a")["status"] == "in_review"


def test_datasets_show_gives_the_manifest_and_who_it_covers(cli, cohort, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, ok = cli
    release = tmp_path / "release"
    (release / "sub").mkdir()
    (release / "sub" / "more.bin").write_bytes(b"\x00\x01" * 1000)
    ok("--as", "sam", "datasets", "register", "cohort", str(release))
    _apply(ok, "study-a")
    ok("--as", "sam", "projects", "vote", "study-a", "approve")
    ok("--as", "sue", "projects", "vote", "study-a", "approve")
    ok("--as", "sam", "projects", "approve", "study-a")

    shown = ok("--as", "sam", "datasets", "show", "cohort@2")
    files = {p.relative_to(release).as_posix(): p for p in release.rglob("*") if p.is_file()}
    assert shown["manifest"] == {
        name: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "size": p.stat().st_size}
        for name, p in files.items()
    }
    assert shown["version"]["files"] == 2 and shown["participants"] == 0
    assert shown["approvals"] == []  # study-a was approved on cohort@1
    first = ok("--as", "sam", "datasets", "show", "cohort@1")
    assert first["approvals"] == [{"project": "study-a", "state": "active"}]
    assert ok("--as", "alice", "datasets", "show", "cohort")["approvals"] is None  # researcher
    code, out, _ = run("--as", "sam", "datasets", "show", "cohort@1")
    assert code == 0 and "study-a (active)" in out and "calls.txt" in out
    code, _, err = run("--as", "sam", "datasets", "show", "cohort@9")
    assert code == 3 and "cohort@9" in err


def test_datasets_retire_from_the_cli(cli, cohort) -> None:  # type: ignore[no-untyped-def]
    run, ok = cli
    retired = ok("--as", "sam", "datasets", "retire", "cohort@1", "--reason", "sample swap found")
    assert (retired["name"], retired["version"]) == ("cohort", 1)
    assert retired["retired_reason"] == "sample swap found"
    assert retired["retired_at"].endswith("Z")
    listed = {
        v["name"] + "@" + str(v["version"]): v for v in ok("--as", "alice", "datasets", "list")
    }
    assert listed["cohort@1"]["retired_reason"] == "sample swap found"
    code, out, _ = run("--as", "sam", "datasets", "show", "cohort@1")
    assert code == 0 and "sample swap found" in out and "retired" in out
    code, _, err = run("--as", "sam", "datasets", "retire", "cohort@1", "--reason", "again")
    assert code == 5 and "cannot retire dataset version cohort@1: it is retired" in err
    code, _, err = run("--as", "alice", "datasets", "retire", "cohort@1", "--reason", "x")
    assert code == 4 and "role not allowed" in err
    with pytest.raises(AssertionError, match="retired on .*: sample swap found"):
        _apply(ok, "late-study")


def test_consent_status_for_every_use_at_once(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, ok = cli
    consents = tmp_path / "consent.json"
    consents.write_text(json.dumps(bundle(
        consent("P1", duo=["DUO:0000042"]),                 # GRU: any purpose, anyone
        consent("P2", duo=["DUO:0000006", "DUO:0000046"]),  # HMB, non-commercial only
        consent("P3", duo=["DUO:0000011"]),                 # POA only
        consent("P4", duo=["DUO:0000042"], status="inactive"),  # withdrawn
        consent("P5", duo=["DUO:0000007"], diseases=["C50"]),   # DS breast cancer only
    )))  # fmt: skip
    ok("--as", "sam", "consent", "import", str(consents))
    summary = ok("--as", "sam", "consent", "status", "--every-use")
    # From DUO's definitions: GRU covers every purpose, HMB covers HMB, POA only POA; NCU keeps
    # use to academic organisations; a withdrawn consent and a DS consent cover none of these.
    assert summary["by_use"] == {
        "GRU": {"academic": 1, "industry": 1, "data_provider": 1},
        "HMB": {"academic": 2, "industry": 1, "data_provider": 1},
        "POA": {"academic": 2, "industry": 2, "data_provider": 2},
    }
    for purpose, counts in summary["by_use"].items():  # the one-cell question agrees
        for kind, count in counts.items():
            cell = ok("--as", "sam", "consent", "status", "--purpose", purpose, "--org-type", kind)
            assert cell["permitted"] == count
    code, out, _ = run("--as", "sam", "consent", "status", "--every-use")
    assert code == 0 and "Usable participants by purpose" in out and "data_provider" in out


def test_projects_show_gives_stewards_the_reach_of_an_application(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, ok = cli
    people = [f"P{i:06d}" for i in range(1, 7)]
    vcf = tmp_path / "cohort.vcf.gz"
    write_vcf(vcf, GenotypeSpec(samples=6, variants=20, seed=1), sample_ids=people)
    ok("--as", "sam", "ingest", "vcf", str(vcf), "--dataset", "wgs")
    consents = tmp_path / "consent.json"
    consents.write_text(json.dumps(bundle(
        consent(people[0], duo=["DUO:0000042"]),                 # GRU: covers HMB
        consent(people[1], duo=["DUO:0000011"]),                 # POA only
        consent(people[2], duo=["DUO:0000042"], status="inactive"),  # withdrawn
        consent(people[3], duo=["DUO:0000042"]),                 # GRU
        # people[4]: no consent on record
        consent(people[5], duo=["DUO:0000006", "DUO:0000046"]),  # HMB, academic only
        consent("P000099", duo=["DUO:0000042"]),                 # not in the dataset
    )))  # fmt: skip
    ok("--as", "sam", "consent", "import", str(consents))
    until = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    # alice's organisation is a data provider, so the academic-only consent does not count
    ok("--as", "alice", "projects", "apply", "hmb-study", "--title", "t", "--purpose", "HMB",
       "--ethics-ref", "IRB-1", "--expiry", until, "-d", "wgs@1")  # fmt: skip
    shown = ok("--as", "sam", "projects", "show", "hmb-study")
    assert shown["reach"] == [{"dataset": "wgs@1", "participants": 6, "consenting": 2}]
    code, out, _ = run("--as", "sam", "projects", "show", "hmb-study")
    assert code == 0 and "wgs@1: 2 of its 6 participants consent to" in out
    assert "reach" not in ok("--as", "alice", "projects", "show", "hmb-study")  # not a steward
