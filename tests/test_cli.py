"""The ``wgs-tre`` command line, driven as a user would: help everywhere, a whole governance
walkthrough with ``--json``, and one-line errors with meaningful exit codes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tests.fhir_factory import bundle, consent
from wgs_tre.cli import app, main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``wgs-tre ARGS`` in-process on a fresh SQLite store; return (exit code, out, err)."""
    monkeypatch.setenv("WGS_TRE_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("WGS_TRE_POLICY_DIR", str(REPO / "policies"))
    monkeypatch.delenv("WGS_TRE_DATABASE_URL", raising=False)
    monkeypatch.delenv("WGS_TRE_USER", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def ok_json(cli, *args: str) -> Any:  # type: ignore[no-untyped-def]
    code, out, err = cli("--json", *args)
    assert code == 0, err
    return json.loads(out)


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


ALL_COMMANDS = _commands(typer.main.get_command(app))


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "wgs-tre")
def test_every_command_explains_itself(cli, path: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(*path, "--help")
    assert code == 0
    assert "Usage:" in out
    leaf = typer.main.get_command(app)
    for name in path:
        leaf = leaf.commands[name]  # type: ignore[attr-defined]
    assert leaf.help, f"{' '.join(path)} has no help text"


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
    assert all(line.startswith("CEF:0|") for line in exported.read_text().splitlines())
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


def test_the_installed_entry_point_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "wgs-tre"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "audit" in result.stdout
