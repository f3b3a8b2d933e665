"""The CLI behaves like the tools people know: global options anywhere on the line, ``-h``,
``--version``, and errors as JSON wherever ``--json`` was written."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from wgs_tre.cli import hoist_global_options
from wgs_tre.cli.common import LineProgress, progress_bar
from wgs_tre.store import Store
from wgs_tre.store.models import AuditEvent


@pytest.fixture
def cli(cli):  # type: ignore[no-untyped-def]
    """The shared runner (tests/conftest.py) on a store with an admin and an organisation."""
    for args in (
        ("init", "--admin", "root1"),
        ("--as", "root1", "orgs", "create", "NCGM", "--type", "academic"),
    ):
        code, _, err = cli(*args)
        assert code == 0, err
    return cli


def last_event(tmp_path: Path) -> AuditEvent:
    store = Store(f"sqlite:///{tmp_path / 'state' / 'governance.db'}")
    try:
        with store.session() as session:
            event = session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
            assert event is not None
            session.expunge(event)
            return event
    finally:
        store.dispose()


def test_json_and_as_work_after_the_subcommand(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("users", "create", "sam", "-r", "steward", "--org", "NCGM",
                         "--as", "root1", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["username"] == "sam"
    event = last_event(tmp_path)
    assert (event.actor, event.action) == ("root1", "user.create")
    code, out, err = cli("users", "list", "--json", "--as=sam")
    assert code == 0, err
    assert {u["username"] for u in json.loads(out)} == {"root1", "sam"}


def test_an_error_is_json_wherever_json_was_written(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("users", "grant", "ghost", "steward", "--as", "root1", "--json")
    assert code == 3 and err == "error: no user named 'ghost'\n"
    assert json.loads(out)["error"] == "NotFound"


def test_arguments_after_a_double_dash_stay_where_they_are() -> None:
    assert hoist_global_options(["audit", "tail", "--json", "--as", "x", "--", "--json"]) == [
        "--json", "--as", "x", "audit", "tail", "--", "--json"
    ]  # fmt: skip
    # A missing value is left for the parser to report.
    assert hoist_global_options(["show", "p", "--as"]) == ["show", "p", "--as"]


@pytest.mark.parametrize("where", [(), ("projects",), ("projects", "show")])
def test_dash_h_is_help(cli, where: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(*where, "-h")
    assert code == 0 and "Usage: wgs-tre" in out and " ".join(where) in out


def test_version(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("--version")
    assert (code, out) == (0, f"wgs-tre {importlib.metadata.version('wgs-tre')}\n")


def test_json_has_one_time_format_and_nested_objects(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("--as", "root1", "users", "create", "sam", "-r", "steward", "--org", "NCGM")[0] == 0
    release = tmp_path / "release"
    release.mkdir()
    (release / "calls.txt").write_text("v1")
    code, out, err = cli("datasets", "register", "cohort", str(release), "--kind", "variants",
                         "--as", "sam", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["registered_at"].endswith("Z")
    code, out, err = cli("audit", "tail", "-n", "1", "--as", "sam", "--json")
    assert code == 0, err
    (event,) = json.loads(out)
    assert event["time"].endswith("Z") and event["dataset"] == "cohort@1"
    assert isinstance(event["details"], dict), "details is an object, not a JSON string"
    code, out, _ = cli("audit", "tail", "-n", "1", "--as", "sam")
    header = next(line for line in out.splitlines() if "seq" in line)
    assert "dataset" in header and "cohort" in out


def test_a_quick_command_in_a_log_prints_no_progress(tmp_path: Path) -> None:
    """Not on a terminal (CI, a log file): no progress bar and no carriage returns; work this
    short prints nothing but its result."""
    script = Path(sys.executable).parent / "wgs-tre"
    done = subprocess.run(
        [str(script), "demo-data", str(tmp_path / "cohort"), "--samples", "20",
         "--variants", "200"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "WGS_TRE_DATA_DIR": str(tmp_path / "state")},
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert "cohort of 20 participants" in done.stdout


def test_progress_in_a_log_is_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    bar = progress_bar("simulating variants", total=2000)
    assert isinstance(bar, LineProgress)  # stderr is captured here, not a terminal
    bar.quiet_seconds = 0.0
    with bar:
        for _ in range(4):
            bar.advance(bar.task_ids[0], 500)
    lines = capsys.readouterr().err.splitlines()
    assert "\r" not in "".join(lines)
    assert [line.split(" in ")[0] for line in lines] == [
        "simulating variants: running of 2000",
        "simulating variants: 25% (500)",
        "simulating variants: 50% (1000)",
        "simulating variants: 75% (1500)",
        "simulating variants: done after 2000",
    ]


def test_progress_of_unknown_size_reports_at_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    progress = LineProgress("ingesting x.vcf.gz", None, unit_bytes=True)
    progress.quiet_seconds = progress.every_seconds = 0.0
    with pytest.raises(KeyboardInterrupt), progress as bar:
        bar.advance(bar.task_ids[0], 2_500_000)
        bar.advance(bar.task_ids[0], 2_500_000)
        raise KeyboardInterrupt
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" in ")[0] for line in lines] == [
        "ingesting x.vcf.gz: running",
        "ingesting x.vcf.gz: 2.5 MB",
        "ingesting x.vcf.gz: 5.0 MB",
        "ingesting x.vcf.gz: stopped after 5.0 MB",
    ]


def test_a_short_piece_of_work_stays_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    with LineProgress("hashing", 10, unit_bytes=False) as bar:  # quiet for its first 2 s
        bar.advance(bar.task_ids[0], 10)
    assert capsys.readouterr().err == ""


def test_a_reader_that_stops_reading_is_not_an_error(tmp_path: Path) -> None:
    """``wgs-tre ... | head -n 1``: once the reader has gone, what is left to write goes
    nowhere; the command still succeeds and prints no traceback (a shell with ``pipefail``
    would otherwise fail the pipeline, as the README's tour found)."""
    env = {**os.environ, "WGS_TRE_DATA_DIR": str(tmp_path)}
    env.pop("WGS_TRE_DATABASE_URL", None)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte
    try:
        done = subprocess.run(
            [sys.executable, "-m", "wgs_tre", "--help"],
            stdout=write, stderr=subprocess.PIPE, env=env, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr
