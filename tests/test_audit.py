"""The audit log: append-only, hash-chained, and tamper-evident against raw SQL."""

from __future__ import annotations

import itertools
import multiprocessing
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import orjson
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DatabaseError

from tests.world import World
from wgs_tre.audit import GENESIS, append, event_hash, events, verify
from wgs_tre.audit.export import ExportFormat, export_lines
from wgs_tre.store import Store
from wgs_tre.types import Action


@pytest.fixture(params=["sequential", "parallel"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _report(store: Store, mode: str = "sequential"):  # type: ignore[no-untyped-def]
    """Verify in one pass, or split into three ranges in worker processes."""
    with store.session() as session:
        if mode == "sequential":
            return verify(session)
        url = store.url.render_as_string(hide_password=False)
        return verify(session, workers=3, url=url, min_parallel=0)


def _seed(store: Store, n: int = 10) -> None:
    with store.session() as session:
        for i in range(n):
            append(session, actor=f"user{i % 3}", action=Action.AUDIT_READ, reason=f"event {i}")


@contextmanager
def as_dba(store: Store) -> Iterator[Connection]:
    """A connection with the append-only triggers dropped: what an attacker with DBA rights has."""
    with store.engine.begin() as conn:
        if store.is_sqlite:
            for name in ("audit_event_no_update", "audit_event_no_delete"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
        yield conn


def _hash_of(store: Store, seq: int) -> str:
    with store.session() as session:
        return next(e.hash for e in events(session, after=seq - 1, limit=1))


def test_a_fresh_chain_verifies(store: Store, mode: str) -> None:
    assert _report(store, mode).ok and _report(store, mode).events == 0
    _seed(store)
    report = _report(store, mode)
    assert report.ok and report.events == 10 and report.head_seq == 10
    with store.session() as session:
        chain = list(events(session))
    assert chain[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))
    assert all(event_hash(e.as_dict()) == e.hash for e in chain)


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET reason = 'x'", "DELETE FROM audit_event"]
)
def test_the_database_refuses_updates_and_deletes(store: Store, statement: str) -> None:
    _seed(store)
    with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(statement))
    assert _report(store).ok


def test_edit_is_detected_and_named(store: Store, mode: str) -> None:
    _seed(store)
    with as_dba(store) as conn:
        conn.execute(text("UPDATE audit_event SET reason = 'nothing happened' WHERE seq = 5"))
    report = _report(store, mode)
    assert not report.ok and report.first_bad_seq == 5
    assert "edited" in report.problem


def test_deleting_an_event_is_detected_and_named(store: Store, mode: str) -> None:
    _seed(store)
    with as_dba(store) as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 5"))
    report = _report(store, mode)
    assert not report.ok and report.first_bad_seq == 6
    assert "expected event 5" in report.problem


def test_deleting_the_newest_events_is_detected(store: Store, mode: str) -> None:
    _seed(store)
    with as_dba(store) as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq >= 9"))
    report = _report(store, mode)
    assert not report.ok and report.first_bad_seq == 9
    assert "head records event 10" in report.problem


def _shift_up_from(conn: Connection, seq: int) -> None:
    # Two steps, so no primary key collides on the way (PostgreSQL checks every row).
    conn.execute(text("UPDATE audit_event SET seq = -(seq + 1) WHERE seq >= :s"), {"s": seq})
    conn.execute(text("UPDATE audit_event SET seq = -seq WHERE seq < 0"))


def test_inserting_a_well_forged_event_is_detected_after_it(store: Store, mode: str) -> None:
    """An attacker who knows the algorithm chains the forged event to event 5 correctly; the
    event after it still points at event 5, so the chain breaks there."""
    _seed(store)
    forged = {
        "seq": 6,
        "time": "2026-01-01T00:00:00.000000Z",
        "actor": "mallory",
        "action": "project.apply",
        "project": None,
        "dataset": None,
        "decision": "allowed",
        "reason": "looks legitimate",
        "details": "{}",
        "prev_hash": _hash_of(store, 5),
    }
    forged["hash"] = event_hash(forged)
    with as_dba(store) as conn:
        _shift_up_from(conn, 6)
        columns = ", ".join(forged)
        conn.execute(
            text(f"INSERT INTO audit_event ({columns}) VALUES (:{', :'.join(forged)})"), forged
        )
    report = _report(store, mode)
    assert not report.ok and report.first_bad_seq == 7
    assert "prev_hash" in report.problem


def test_appending_a_naive_forgery_is_detected(store: Store, mode: str) -> None:
    _seed(store)
    with as_dba(store) as conn:
        conn.execute(
            text(
                "INSERT INTO audit_event (seq, time, actor, action, decision, reason, details, "
                "prev_hash, hash) VALUES (11, 't', 'mallory', 'x', 'allowed', '', '{}', :p, :h)"
            ),
            {"p": "f" * 64, "h": "e" * 64},
        )
    report = _report(store, mode)
    assert not report.ok and report.first_bad_seq == 11


def test_reordering_is_detected_and_named(store: Store, mode: str) -> None:
    _seed(store)
    with as_dba(store) as conn:
        conn.execute(text("UPDATE audit_event SET seq = -1 WHERE seq = 5"))
        conn.execute(text("UPDATE audit_event SET seq = 5 WHERE seq = 6"))
        conn.execute(text("UPDATE audit_event SET seq = 6 WHERE seq = -1"))
    report = _report(store, mode)
    assert not report.ok and report.first_bad_seq == 5


def test_a_wholesale_rewrite_is_caught_by_an_anchor(store: Store) -> None:
    """Recomputing every hash after an edit makes the chain self-consistent; the hash of event 5
    kept outside the store (a SIEM export) still exposes it."""
    _seed(store)
    anchor = {5: _hash_of(store, 5)}
    with store.session() as session:
        chain = [e.as_dict() for e in events(session)]
    chain[4]["reason"] = "rewritten"
    prev = chain[3]["hash"]
    for event in chain[4:]:
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(event)
    with as_dba(store) as conn:
        for event in chain[4:]:
            conn.execute(
                text(
                    "UPDATE audit_event SET reason=:reason, prev_hash=:prev_hash, hash=:hash "
                    "WHERE seq=:seq"
                ),
                event,
            )
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    assert _report(store).ok  # the limit of an unanchored hash chain
    with store.session() as session:
        report = verify(session, anchors=anchor)
    assert not report.ok and report.first_bad_seq == 5 and "anchor" in report.problem


def test_details_never_carry_participant_data_or_secrets(store: Store) -> None:
    for key in ("participant_id", "pseudonym", "api_token", "password", "patient"):
        with pytest.raises(ValueError, match="no participant data"), store.session() as session:
            append(session, actor="x", action=Action.AUDIT_READ, details={key: "P0001"})
    assert _report(store).events == 0


def test_every_event_names_an_action_of_the_enum(store: Store) -> None:
    """The log names nothing outside ``types.Action`` (the check is where every event is
    written, so every test that audits anything checks it too)."""
    for action in ("session.begin", "egress.allowed", "made.up", ""):
        with pytest.raises(ValueError, match="not a wgs_tre.types.Action"), store.session() as s:
            append(s, actor="x", action=action)  # type: ignore[arg-type]
    assert _report(store).events == 0
    with store.session() as session:
        append(session, actor="x", action="session.start")  # type: ignore[arg-type]
    assert _report(store).events == 1  # a value of the enum, spelled as text, is that action


def _append_many(url: str, worker: int, count: int) -> None:
    store = Store(url)
    for i in range(count):
        with store.session() as session:
            append(session, actor=f"worker{worker}", action=Action.AUDIT_READ, reason=str(i))
    store.dispose()


def test_concurrent_appends_from_many_processes_never_fork_or_lose_events(store: Store) -> None:
    workers, each = 4, 150
    url = store.url.render_as_string(hide_password=False)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=spawn) as pool:
        list(pool.map(_append_many, [url] * workers, range(workers), [each] * workers))
    report = _report(store)
    assert report.ok and report.events == workers * each
    with store.session() as session:
        seen = {(e.actor, e.reason) for e in events(session)}
    assert seen == {(f"worker{w}", str(i)) for w in range(workers) for i in range(each)}


def test_exports_carry_every_event_with_its_hash(world: World) -> None:
    with world.store.session() as session:
        chain = list(events(session))
        jsonl = [orjson.loads(line) for line in export_lines(events(session), ExportFormat.JSONL)]
        cef = list(export_lines(events(session), ExportFormat.CEF))
    assert [e["hash"] for e in jsonl] == [e.hash for e in chain]
    assert all(isinstance(e["details"], dict) for e in jsonl)
    assert len(cef) == len(chain)
    for line, event in zip(cef, chain, strict=True):
        assert line.startswith("CEF:0|WGS-TRE|wgs-tre|")
        assert f"externalId={event.seq} " in line and f"cs3={event.hash}" in line


def test_cef_escapes_separators(store: Store) -> None:
    with store.session() as session:
        append(session, actor="a", action=Action.AUDIT_READ, reason="a=b\nc\\d|e")
        (line,) = export_lines(events(session), ExportFormat.CEF)
    assert "reason=a\\=b\\nc\\\\d|e " in line
    assert "\n" not in line


def test_cli_verify_names_the_bad_event_with_exit_code_7(world: World) -> None:
    with as_dba(world.store) as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'someone-else' WHERE seq = 3"))
    env = {
        "WGS_TRE_DATABASE_URL": world.store.url.render_as_string(False),
        "WGS_TRE_POLICY_DIR": str(world.policies.source),
        "WGS_TRE_USER": "sam",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "wgs_tre", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 7, result.stderr
    assert "BROKEN at event 3" in result.stderr and "edited" in result.stderr
    assert "Traceback" not in result.stderr
