"""The ``wgs-tre`` command line, driven as a user would: help everywhere, a whole governance
walkthrough with ``--json``, the shapes of ``--json`` answers, and one-line errors with the exit
code the README documents for each error class."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tests.fhir_factory import bundle, consent
from tests.world import CAST, World
from wgs_tre.cli import app
from wgs_tre.consent import registry
from wgs_tre.store import Store

REPO = Path(__file__).resolve().parent.parent


def ok_json(cli, *args: str) -> Any:  # type: ignore[no-untyped-def]
    code, out, err = cli("--json", *args)
    assert code == 0, err
    return json.loads(out)


def event_count(tmp_path: Path) -> int:
    """Audit events in the CLI's default SQLite store, counted with plain SQL."""
    with closing(sqlite3.connect(tmp_path / "state" / "governance.db")) as db:
        (count,) = db.execute("SELECT count(*) FROM audit_event").fetchone()
    return int(count)


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


ALL_COMMANDS = _commands(typer.main.get_command(app))


def test_every_command_explains_itself(cli) -> None:  # type: ignore[no-untyped-def]
    """One pass over the whole command tree: each command has help text, and ``--help`` shows
    that command's own usage line."""
    root = typer.main.get_command(app)
    assert len(ALL_COMMANDS) > 40  # the walk found the tree
    for path in ALL_COMMANDS:
        leaf = root
        for name in path:
            leaf = leaf.commands[name]  # type: ignore[attr-defined]
        assert leaf.help, f"{' '.join(path)} has no help text"
        code, out, _ = cli(*path, "--help")
        assert code == 0
        assert " ".join(("Usage: wgs-tre", *path)) in " ".join(out.split())


def test_governance_walkthrough(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert ok_json(cli, "init", "--admin", "root1")["admin"]["roles"] == ["admin"]
    admin = ("--as", "root1")
    for org, kind in (("Uni A", "academic"), ("NCGM", "academic")):
        ok_json(cli, *admin, "orgs", "create", org, "--type", kind)
    ok_json(cli, *admin, "users", "create", "alice", "-r", "researcher", "--org", "Uni A")
    for steward in ("sam", "sue"):
        ok_json(cli, *admin, "users", "create", steward, "-r", "steward", "--org", "NCGM")
    data = tmp_path / "release"
    data.mkdir()
    (data / "calls.vcf").write_text("##fileformat=VCFv4.3\n")
    version = ok_json(
        cli, "--as", "sam", "datasets", "register", "cohort", str(data), "--kind", "variants"
    )
    assert version["version"] == 1 and version["files"] == 1
    until = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    applied = ok_json(
        cli,
        "--as",
        "alice",
        "projects",
        "apply",
        "brca-study",
        "--title",
        "BRCA",
        "--purpose",
        "DS",
        "--disease",
        "C50",
        "--ethics-ref",
        "IRB-7",
        "-d",
        "cohort@1",
        "--expiry",
        until,
    )
    assert applied["status"] == "in_review" and applied["disease"] == "C50"
    ok_json(cli, "--as", "sam", "projects", "vote", "brca-study", "approve")
    code, _, err = cli("--as", "sam", "projects", "approve", "brca-study")
    assert code == 4 and "1 of the 2 votes needed" in err
    ok_json(cli, "--as", "sue", "projects", "vote", "brca-study", "approve", "--comment", "fine")
    approved = ok_json(cli, "--as", "sue", "projects", "approve", "brca-study")
    assert approved["approval"]["datasets"] == ["cohort@1"]
    assert approved["approval"]["expires_at"].startswith(until)
    shown = ok_json(cli, "--as", "alice", "projects", "show", "brca-study")
    assert shown["status"] == "active" and [
        v["steward"] for v in shown["application"]["votes"]
    ] == ["sam", "sue"]
    code, out, _ = cli("--as", "alice", "projects", "show", "brca-study")
    assert code == 0 and "brca-study" in out and "active" in out

    consents = tmp_path / "consent.json"
    consents.write_text(json.dumps(bundle(consent("P1"), consent("P2", status="inactive"))))
    (report,) = ok_json(cli, "--as", "sam", "consent", "import", str(consents))
    assert (report["consents"], report["withdrawals"]) == (2, 1)
    status = ok_json(
        cli, "--as", "sam", "consent", "status", "--purpose", "GRU", "--org-type", "industry"
    )
    assert (status["participants"], status["permitted"]) == (2, 1)
    history = ok_json(cli, "--as", "sam", "consent", "history", "P2")
    assert history[0]["withdrawn"] is True

    verified = ok_json(cli, "--as", "sam", "audit", "verify")
    assert verified["ok"] is True and verified["events"] > 10
    exported = tmp_path / "audit.jsonl"
    ok_json(cli, "--as", "sam", "audit", "export", "--format", "cef", "-o", str(exported))
    lines = exported.read_text().splitlines()
    assert len(lines) == event_count(tmp_path) > 10  # every event, the export's own included
    assert all(line.startswith("CEF:0|") for line in lines)
    assert "audit.export" in lines[-1]
    anchor = f"{verified['head_seq']}:{verified['head_hash']}"
    assert ok_json(cli, "--as", "sam", "audit", "verify", "--anchor", anchor)["ok"] is True
    tail = ok_json(cli, "--as", "sam", "audit", "tail", "-n", "3")
    assert [e["action"] for e in tail][-1] == "audit.verify"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("projects", "frobnicate"), 2, "No such command"),
        (("users", "create", "bob", "-r", "wizard"), 2, "'wizard' is not one of"),
        (("projects", "renew", "x", "--until", "next week"), 2, "next week"),
        (("projects", "apply", "x"), 2, "Missing option"),
        (("users", "list"), 8, "no governance store at"),
    ],
)
def test_bad_arguments_give_one_line_errors(cli, args, code, message) -> None:  # type: ignore[no-untyped-def]
    got, out, err = cli("--as", "root1", *args)
    assert got == code
    assert message in out + err
    assert "Traceback" not in out + err


def test_user_mistakes_map_to_exit_codes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("init", "--admin", "root1")
    assert cli("--as", "root1", "users", "grant", "ghost", "steward")[0] == 3  # not found
    assert cli("--as", "root1", "orgs", "create", "A", "--type", "academic")[0] == 0
    assert cli("--as", "root1", "orgs", "create", "A", "--type", "academic")[0] == 5  # exists
    assert cli("--as", "ghost", "users", "list")[0] == 4  # refused
    code, _, err = cli("--as", "root1", "consent", "import", str(tmp_path / "none.json"))
    assert code == 4  # root1 is an admin, not a steward: refused before reading anything
    assert "may not consent.import" in err


def test_errors_are_json_with_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``--json``: the error as one JSON document on stdout (its class, exit code, message and
    fields), beside the line on stderr; a command that printed its report keeps it alone."""
    cli("init", "--admin", "root1")
    code, out, err = cli("--json", "--as", "root1", "users", "grant", "ghost", "steward")
    assert code == 3 and err == "error: no user named 'ghost'\n"
    assert json.loads(out) == {
        "error": "NotFound",
        "exit_code": 3,
        "message": "no user named 'ghost'",
        "fields": {"kind": "user", "name": "ghost"},
    }
    cli("--as", "root1", "orgs", "create", "NCGM", "--type", "academic")
    cli("--as", "root1", "users", "create", "sam", "-r", "steward", "--org", "NCGM")
    data = tmp_path / "release.txt"
    data.write_text("v1")
    assert cli("--as", "sam", "datasets", "register", "d", str(data), "--kind", "variants")[0] == 0
    data.write_text("changed")
    code, out, err = cli("--json", "--as", "sam", "datasets", "verify", "d@1")
    assert code == 7 and "differs from what was registered" in err
    assert json.loads(out) == {"dataset": "d@1", "ok": False, "problems": [
        "release.txt: contents changed"
    ]}  # fmt: skip


@pytest.fixture
def governed(tmp_path: Path, policies) -> World:  # type: ignore[no-untyped-def]
    """The CLI's default store (under WGS_TRE_DATA_DIR, see ``cli``) holding the test cast and
    an approved project, ``brca-study`` (alice, bob), built through the library."""
    (tmp_path / "state").mkdir()
    store = Store(f"sqlite:///{tmp_path / 'state' / 'governance.db'}")
    store.upgrade()
    world = World.build(store, policies, tmp_path)
    world.approved("brca-study")
    yield world
    store.dispose()


def _in_review(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    world.apply("uni-a-study")  # alice's, of Uni A: stella (Uni A) is conflicted
    return ()


def _consent_imported(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    path = world.tmp / "consent.json"
    path.write_text(json.dumps(bundle(consent("P1"))))
    registry.import_file(world.ctx("sam"), path)
    return (str(path),)


def _head_row_deleted(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    with closing(sqlite3.connect(world.tmp / "state" / "governance.db")) as db, db:
        db.execute("DELETE FROM audit_head")
    return ()


def _no_store(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    monkeypatch.setenv("WGS_TRE_DATA_DIR", str(world.tmp / "elsewhere"))
    return ()


def _broken_policy(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    broken = world.tmp / "policies"
    shutil.copytree(REPO / "policies", broken)
    (broken / "roles.yaml").write_text("roles:\n  researcher:\n    - data.acess\n")
    monkeypatch.setenv("WGS_TRE_POLICY_DIR", str(broken))
    return ()


def _nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    return ()


EXPIRY = (dt.date.today() + dt.timedelta(days=30)).isoformat()
APPLY = ("projects", "apply", "x", "--title", "t", "--ethics-ref", "I-1", "-d", "cohort")
# Each error class once, with the exit code the README documents for it ("Exit codes: ...").
# ``prepare`` sets the scene and returns arguments to append.
ERRORS = {
    "NotFound": (3, _nothing, ("--as", "sam", "projects", "show", "ghost"), "ghost"),
    "AccessRefused": (4, _nothing, ("--as", "alice", "users", "list"), "may not user.list"),
    "ConflictOfInterest": (
        4,
        _in_review,
        ("--as", "stella", "projects", "vote", "uni-a-study", "approve"),
        "stella",
    ),
    "QuorumNotMet": (
        4,
        _in_review,
        ("--as", "sam", "projects", "approve", "uni-a-study"),
        "votes needed",
    ),
    "AlreadyExists": (
        5,
        _nothing,
        ("--as", "root1", "orgs", "create", "Uni A", "--type", "academic"),
        "Uni A",
    ),
    "InvalidTransition": (
        5,
        _nothing,
        ("--as", "sam", "projects", "reinstate", "brca-study", "--reason", "r"),
        "active",
    ),
    "InvalidInput": (
        6,
        _nothing,
        ("--as", "alice", *APPLY, "--purpose", "XYZ", "--expiry", EXPIRY),
        "unknown DUO code 'XYZ'",
    ),
    "AlreadyImported": (
        6,
        _consent_imported,
        ("--as", "sam", "consent", "import"),
        "already imported",
    ),
    "PolicyError": (6, _broken_policy, ("--as", "sam", "users", "list"), "roles.yaml"),
    "IntegrityError": (
        7,
        _head_row_deleted,
        ("--as", "root1", "orgs", "create", "New", "--type", "academic"),
        "head row is missing",
    ),
    "StoreNotReady": (8, _no_store, ("--as", "sam", "users", "list"), "no governance store at"),
}


@pytest.mark.parametrize("error", list(ERRORS))
def test_each_error_class_has_its_exit_code(cli, governed, monkeypatch, error: str) -> None:  # type: ignore[no-untyped-def]
    """The exit code, the error on stderr in one line, and with --json the same error as a
    document on stdout."""
    code, prepare, args, message = ERRORS[error]
    extra = prepare(governed, monkeypatch)
    got, out, err = cli("--json", *args, *extra)
    assert got == code, err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    document = json.loads(out)
    assert (document["error"], document["exit_code"]) == (error, code)
    assert message in document["message"]


def test_json_output_shapes(cli, governed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What scripts read: the keys of a few --json answers and their values, checked against
    the cast the store was built with and against the store itself."""
    listed = ok_json(cli, "--as", "root1", "users", "list")
    assert {u["username"]: (u["roles"], u["organisation"]) for u in listed} == {
        **{name: ([role.value for role in roles], org) for name, (roles, org) in CAST.items()},
        "root1": (["admin"], None),
    }
    assert all(
        set(u) == {"username", "full_name", "email", "organisation", "roles", "state"}
        for u in listed
    )

    (version,) = ok_json(cli, "--as", "alice", "datasets", "list")
    release = tmp_path / "cohort-genotypes.txt"
    assert (version["name"], version["version"], version["kind"]) == ("cohort", 1, "variants")
    assert version["size_bytes"] == release.stat().st_size and version["files"] == 1
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", version["checksum"])

    shown = ok_json(cli, "--as", "alice", "projects", "show", "brca-study")
    assert (shown["slug"], shown["lead"], shown["status"]) == ("brca-study", "alice", "active")
    assert (shown["purpose"], shown["disease"], shown["org_type"]) == (
        "DUO:0000042",
        None,
        "academic",
    )
    assert shown["approval"]["members"] == ["alice", "bob"]
    assert shown["approval"]["datasets"] == ["cohort@1"]
    assert [(v["steward"], v["vote"]) for v in shown["application"]["votes"]] == [
        ("sam", "approve"),
        ("sue", "approve"),
    ]

    events = event_count(tmp_path)
    verified = ok_json(cli, "--as", "sam", "audit", "verify")
    assert verified["ok"] is True and verified["events"] == verified["head_seq"] == events
    assert re.fullmatch(r"[0-9a-f]{64}", verified["head_hash"])
    (last,) = ok_json(cli, "--as", "sam", "audit", "tail", "-n", "1")
    assert (last["seq"], last["prev_hash"]) == (events + 1, verified["head_hash"])
    assert (last["actor"], last["action"], last["decision"]) == ("sam", "audit.verify", "allowed")


def test_plain_output_is_for_people(cli, governed) -> None:  # type: ignore[no-untyped-def]
    """Without --json: a table naming every user, and one line saying what verify found."""
    code, out, err = cli("--as", "root1", "users", "list")
    assert code == 0 and err == ""
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert sorted(row.split("│")[1].strip() for row in rows) == sorted([*CAST, "root1"])
    code, out, _ = cli("--as", "sam", "audit", "verify")
    assert code == 0
    assert re.search(r"audit log intact: \d+ events", " ".join(out.split()))


def test_the_installed_entry_point_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "wgs-tre"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "audit" in result.stdout
