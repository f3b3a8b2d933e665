"""The audit log: append-only, hash-chained, and tamper-evident against raw SQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import multiprocessing
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DatabaseError

from tests.conftest import BACKENDS
from tests.world import World
from wgs_tre.audit import GENESIS, append, event_hash, events, verify, verify_store
from wgs_tre.audit.export import ExportFormat, export_lines
from wgs_tre.store import Store
from wgs_tre.types import Action


@pytest.fixture(params=["exact", "sequential", "parallel"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _report(store: Store, mode: str = "sequential"):  # type: ignore[no-untyped-def]
    """Verify every event one by one (exact), in one pass with the bulk pass first (on SQLite,
    inside SQLite where the extension is built), or split into three ranges in workers (threads
    running the extension, else processes): every mode must give the same verdict."""
    with store.session() as session:
        if mode in ("exact", "sequential"):
            return verify(session, bulk=mode == "sequential")
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


def forged_after(store: Store, seq: int) -> dict[str, object]:
    """An event chained to event ``seq`` correctly, by someone who knows the algorithm."""
    forged: dict[str, object] = {
        "seq": seq + 1,
        "time": "2026-01-01T00:00:00.000000Z",
        "actor": "mallory",
        "action": "project.apply",
        "project": None,
        "dataset": None,
        "decision": "allowed",
        "reason": "looks legitimate",
        "details": "{}",
        "prev_hash": _hash_of(store, seq),
    }
    forged["hash"] = event_hash(forged)
    return forged


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


# Values whose JSON escaping differs between encoders if any: quotes, backslashes, every control
# character PostgreSQL's text holds (all but NUL), DEL, line and paragraph separators, non-ASCII
# in and beyond the BMP.
AWKWARD = ['say "hi"\\', "".join(map(chr, range(1, 32))) + "\x7f", "\u2028\u2029/ålice 中 😀"]


def documented_hash(event: dict[str, Any]) -> str:
    """The oracle: SHA-256 of the documented canonical form (every column but the hash, sorted
    keys, no whitespace, UTF-8), with the standard library."""
    document = {k: v for k, v in event.items() if k != "hash"}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_awkward_text_is_hashed_as_documented(store: Store) -> None:
    """On PostgreSQL audit_append() renders and hashes the event in the server: byte for byte
    the documented form, whatever the text holds, nulls included."""
    with store.session() as session:
        for i, value in enumerate(AWKWARD * 2):
            append(
                session,
                actor=value[:64],
                action=Action.DATA_ACCESS,
                project=None if i % 2 else value[:40],
                dataset=value[:120] if i % 2 else None,
                reason=value,
                details={"note": value, "n": [i, None]},
            )
    with store.session() as session:
        chain = [e.as_dict() for e in events(session)]
    assert len(chain) == len(AWKWARD) * 2
    assert [documented_hash(e) for e in chain] == [e["hash"] for e in chain]
    assert _report(store, "exact").ok


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET reason = 'x'", "DELETE FROM audit_event"]
)
def test_the_database_refuses_updates_and_deletes(store: Store, statement: str) -> None:
    _seed(store)
    with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(statement))
    assert _report(store).ok


def test_stored_hashes_are_sha256_of_the_documented_canonical_form(store: Store) -> None:
    """A known answer computed here with the standard library, not the implementation: SHA-256
    over JSON with sorted keys, no whitespace, UTF-8, of every column but the hash."""
    with store.session() as session:
        append(
            session,
            actor="ålice",
            action=Action.DATA_ACCESS,
            project="brca",
            dataset="wgs@1",
            reason='say "hi"\n',
            details={"rows": 3, "b": [1, "x"]},
            when=dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
        )
    with store.session() as session:
        (event,) = events(session)
    document = {
        "action": "data.access",
        "actor": "ålice",
        "dataset": "wgs@1",
        "decision": "allowed",
        "details": '{"b":[1,"x"],"rows":3}',
        "prev_hash": "0" * 64,
        "project": "brca",
        "reason": 'say "hi"\n',
        "seq": 1,
        "time": "2026-01-02T03:04:05.678901Z",
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert event.as_dict() == {**document, "hash": hashlib.sha256(canonical.encode()).hexdigest()}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "project.apply"),
        ("actor", "someone-else"),
        ("dataset", "other@2"),
        ("decision", "refused"),
        ("details", '{"rows":0}'),
        ("project", "elsewhere"),
        ("reason", "nothing happened"),
        ("time", "2020-01-01T00:00:00.000000Z"),
        ("prev_hash", "1" * 64),
        ("hash", "2" * 64),
    ],
)
def test_editing_any_column_is_detected_and_named(store: Store, column: str, value: str) -> None:
    _seed(store)
    with as_dba(store) as conn:
        conn.execute(text(f"UPDATE audit_event SET {column} = :v WHERE seq = 5"), {"v": value})
    report = _report(store)
    assert not report.ok and report.first_bad_seq == 5, report.summary()


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


def test_inserting_a_well_forged_event_is_named(store: Store, mode: str) -> None:
    """An attacker who knows the algorithm chains the forged event to event 5 correctly; the
    genuine event after it still points at event 5, past the forgery, which is named."""
    _seed(store)
    forged = forged_after(store, 5)
    with as_dba(store) as conn:
        _shift_up_from(conn, 6)
        columns = ", ".join(forged)
        conn.execute(
            text(f"INSERT INTO audit_event ({columns}) VALUES (:{', :'.join(forged)})"), forged
        )
    report = _report(store, mode)
    assert not report.ok and report.first_bad_seq == 6
    assert "inserted" in report.problem and "forged" in report.problem


def test_a_forgery_in_the_last_event_of_a_range_is_named(store: Store) -> None:
    """The same insertion where it ends one worker's range: the link is checked across."""
    _seed(store, 11)
    forged = dict(_hash_of_event(store, 4), seq=4, reason="forged", prev_hash=_hash_of(store, 3))
    forged["hash"] = event_hash(forged)
    with as_dba(store) as conn:
        _shift_up_from(conn, 4)
        columns = ", ".join(c for c in forged)
        conn.execute(
            text(f"INSERT INTO audit_event ({columns}) VALUES (:{', :'.join(forged)})"), forged
        )
    with store.session() as session:  # 12 events in ranges 1-4, 5-8, 9-12: event 4 ends one
        url = store.url.render_as_string(hide_password=False)
        report = verify(session, workers=3, url=url, min_parallel=0)
    assert not report.ok and report.first_bad_seq == 4 and "inserted" in report.problem


def _hash_of_event(store: Store, seq: int) -> dict[str, object]:
    with store.session() as session:
        event = next(events(session, after=seq - 1, limit=1)).as_dict()
    event.pop("hash")
    return event


def _forge_beyond_the_head(store: Store) -> None:
    """A well-formed event appended after the head, the head row left alone."""
    with store.session() as session:
        head_seq, head_hash = session.execute(text("SELECT seq, hash FROM audit_head")).one()
    forged = dict(_hash_of_event(store, head_seq), seq=head_seq + 1, prev_hash=head_hash)
    forged["reason"] = "never happened"
    forged["hash"] = event_hash(forged)
    with store.engine.begin() as conn:  # an insert: the append-only triggers allow it
        columns = ", ".join(forged)
        conn.execute(
            text(f"INSERT INTO audit_event ({columns}) VALUES (:{', :'.join(forged)})"), forged
        )


def test_an_event_forged_beyond_the_head_is_named(store: Store, mode: str) -> None:
    _seed(store)
    _forge_beyond_the_head(store)
    report = _report(store, mode)
    assert not report.ok and report.first_bad_seq == 11
    assert "beyond the head" in report.problem


def test_a_deleted_head_row_is_reported(store: Store, mode: str) -> None:
    _seed(store)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_head"))
    report = _report(store, mode)
    assert not report.ok and "head row" in report.problem and "missing" in report.summary()


def test_a_rewritten_head_hash_is_named(store: Store, mode: str) -> None:
    _seed(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": "a" * 64})
    report = _report(store, mode)
    assert not report.ok and report.first_bad_seq == 10 and "head's hash" in report.problem


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


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not selected")
@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_events_whose_chaining_was_cut_short_are_chained_later_and_never_lost(
    store: Store,
) -> None:
    """PostgreSQL commits an event first and chains it after. If the chaining never happens
    (the process dies between the two), the event waits in the inbox: the next append chains
    it, and so does a verify; nothing is lost and the order of the chain is the inbox's."""
    _seed(store, 3)
    with store.engine.begin() as conn:  # committed, then the "process" is gone: no chaining
        for i in range(2):
            append(conn, actor="cut-short", action=Action.AUDIT_READ, reason=str(i))
    with store.session() as session:
        assert [e.actor for e in events(session)].count("cut-short") == 0
        assert session.execute(text("SELECT count(*) FROM audit_pending")).scalar() == 2
    with store.session() as session:
        append(session, actor="next", action=Action.AUDIT_READ)
    with store.session() as session:
        chain = [(e.seq, e.actor, e.reason) for e in events(session)]
        assert session.execute(text("SELECT count(*) FROM audit_pending")).scalar() == 0
    assert chain[3:] == [(4, "cut-short", "0"), (5, "cut-short", "1"), (6, "next", "")]
    with store.engine.begin() as conn:
        append(conn, actor="cut-short", action=Action.AUDIT_READ, reason="again")
    report = verify_store(store)
    assert report.ok and report.events == 7, report.summary()


def _append_until(url: str, worker: int, stop: Any) -> int:
    store = Store(url)
    count = 0
    while not stop.is_set():
        with store.session() as session:
            append(session, actor=f"worker{worker}", action=Action.AUDIT_READ, reason=str(count))
        count += 1
    store.dispose()
    return count


def _verify_repeatedly(url: str, times: int) -> list[str]:
    store = Store(url)
    while _last_seq(store) < 200:  # until the writers are under way
        time.sleep(0.05)
    found = []
    for _ in range(times):
        with store.session() as session:
            found.append(verify(session).summary())
    store.dispose()
    return found


def test_verifying_beside_eight_writers_raises_no_false_alarm(store: Store) -> None:
    """Eight processes append while two verify, 50 verifies in all: every one sees a whole
    chain (on PostgreSQL the head and the last event come from one snapshot)."""
    url = store.url.render_as_string(hide_password=False)
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(10, mp_context=spawn) as pool:
        stop = manager.Event()
        writers = [pool.submit(_append_until, url, w, stop) for w in range(8)]
        verifiers = [pool.submit(_verify_repeatedly, url, 25) for _ in range(2)]
        summaries = [s for v in verifiers for s in v.result()]
        stop.set()
        appended = sum(w.result() for w in writers)
    assert len(summaries) == 50
    assert [s for s in summaries if "intact" not in s] == []
    final = _report(store)
    assert final.ok and final.events == appended


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
    with store.session() as session:
        (line,) = export_lines(events(session), ExportFormat.CEF)
    assert "reason=a\\=b\\nc\\\\d|e " in line
    assert "\n" not in line


def test_cef_keeps_a_forged_line_break_in_the_header_on_one_line(store: Store) -> None:
    """The action is a header field; a row written past the appender can hold anything."""
    _seed(store, 1)
    with as_dba(store) as conn:
        conn.execute(text("UPDATE audit_event SET action = :a"), {"a": "x\r\nCEF:0|forged|y"})
    with store.session() as session:
        (line,) = export_lines(events(session), ExportFormat.CEF)
    assert "\n" not in line and "\r" not in line and "x\\r\\nCEF:0\\|forged\\|y" in line


def _cli(world: World, *args: str, user: str = "sam") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wgs_tre", *args],
        capture_output=True,
        text=True,
        env=world.cli_env(user),
        check=False,
    )


def test_cli_verify_names_the_bad_event_with_exit_code_7(world: World) -> None:
    with as_dba(world.store) as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'someone-else' WHERE seq = 3"))
    result = _cli(world, "audit", "verify")
    assert result.returncode == 7, result.stderr
    assert "BROKEN at event 3" in result.stderr and "edited" in result.stderr
    assert "Traceback" not in result.stderr


def _last_seq(store: Store) -> int:
    with store.session() as session:
        return int(session.execute(text("SELECT max(seq) FROM audit_event")).scalar_one() or 0)


def _projects(store: Store) -> int:
    with store.session() as session:
        return int(session.execute(text("SELECT count(*) FROM project")).scalar_one())


@pytest.mark.parametrize("forgery", ["event beyond the head", "head row deleted"])
def test_a_broken_end_of_log_is_reported_and_then_refuses_governed_commands(
    world: World, forgery: str
) -> None:
    """Verify reports before it tries to record its verdict (which appends to the very chain
    that is broken); every governed command then refuses with a one-line reason."""
    if forgery == "event beyond the head":
        _forge_beyond_the_head(world.store)
        named = f"BROKEN at event {_last_seq(world.store)}: beyond the head"
    else:
        with world.store.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_head"))
        named = "head row (audit_head) is missing"
    before, projects = _last_seq(world.store), _projects(world.store)
    result = _cli(world, "audit", "verify")
    assert result.returncode == 7 and named in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    expiry = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    apply = ("--title", "T", "--purpose", "GRU", "--ethics-ref", "E", "-d", "cohort@1")
    refused = _cli(world, "projects", "apply", "new", *apply, "--expiry", expiry, user="alice")
    assert refused.returncode == 7, refused.stderr
    assert "audit log" in refused.stderr and "audit verify" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert _last_seq(world.store) == before  # nothing was appended past the damage
    assert _projects(world.store) == projects  # and the refused change was not made


def test_cef_export_of_a_corrupt_time_names_the_event_and_leaves_no_part_file(
    world: World, tmp_path: Path
) -> None:
    with as_dba(world.store) as conn:
        conn.execute(text("UPDATE audit_event SET time = 'yesterday' WHERE seq = 2"))
    exports = tmp_path / "exports"
    exports.mkdir()
    result = _cli(world, "audit", "export", "--format", "cef", "-o", str(exports / "audit.cef"))
    assert result.returncode == 7 and "audit event 2" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert list(exports.iterdir()) == []
    missing = _cli(world, "audit", "export", "-o", str(exports / "no" / "a.jsonl"))
    assert missing.returncode == 6 and "no such directory" in missing.stderr, missing.stderr
