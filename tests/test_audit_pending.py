"""An event commits or rolls back with the change it records, and is chained by the time its
transaction has returned: on PostgreSQL through ``audit_pending`` and sealing after the commit
(see wgs_tre.audit.seal), on SQLite directly. Counted with raw SQL, on both backends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text

from tests.conftest import BACKENDS, _postgres_store
from tests.postgres import PostgresServer
from tests.test_audit import _seed
from wgs_tre.audit import append, events, record, verify, verify_store
from wgs_tre.audit.seal import SEALER_LOCK, seal
from wgs_tre.store import Store
from wgs_tre.store.models import Organisation
from wgs_tre.types import Action, OrgType


def _counts(store: Store) -> tuple[int, int, int]:
    """(chained events, the head's seq, events waiting to be chained)."""
    with store.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM audit_event), (SELECT seq FROM audit_head), "
                "(SELECT count(*) FROM audit_pending)"
            )
        ).one()
    return row[0], row[1], row[2]


class Refused(Exception):
    pass


def _organisations(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(Organisation.name).order_by(Organisation.name)))


@pytest.fixture
def postgres_store(postgres: PostgresServer) -> Iterator[Store]:
    store = _postgres_store(postgres)
    yield store
    store.dispose()


def test_a_rolled_back_change_leaves_no_event(store: Store) -> None:
    _seed(store, 3)
    with pytest.raises(Refused), store.session() as session:
        session.add(Organisation(name="ghost", org_type=OrgType.ACADEMIC))
        append(session, actor="sam", action=Action.ORG_CREATE, reason="ghost")
        raise Refused
    assert _counts(store) == (3, 3, 0)
    assert _organisations(store) == []


def test_a_committed_change_has_its_event_chained_when_the_block_returns(store: Store) -> None:
    _seed(store, 3)
    with store.session() as session:
        session.add(Organisation(name="carol's", org_type=OrgType.ACADEMIC))
        append(session, actor="sam", action=Action.ORG_CREATE, reason="carol's")
    assert _counts(store) == (4, 4, 0) and _organisations(store) == ["carol's"]
    record(store, actor="svc", action=Action.DATA_ACCESS, reason="standalone")
    assert _counts(store) == (5, 5, 0)
    with store.session() as session:
        assert [e.reason for e in events(session, after=3)] == ["carol's", "standalone"]
        assert verify(session).ok


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not selected")
def test_an_event_left_waiting_is_reported_and_chained_by_the_next_seal(
    postgres_store: Store,
) -> None:
    """A writer killed between its commit and sealing (here: a Core connection whose caller
    never seals) leaves its event waiting; verify counts it, and any later seal chains it.
    (SQLite chains in the writer's own transaction: nothing ever waits there.)"""
    store = postgres_store
    _seed(store, 3)
    with store.engine.begin() as conn:
        append(conn, actor="svc", action=Action.DATA_ACCESS, reason="left waiting")
    assert _counts(store) == (3, 3, 1)
    with store.session() as session:
        report = verify(session)
    assert report.ok and report.waiting == 1 and "1 more committed" in report.summary()
    assert verify_store(store).ok
    assert _counts(store) == (4, 4, 0)
    seal(store.engine)  # nothing waiting: nothing written
    assert _counts(store) == (4, 4, 0)


def _poll(condition: str, store: Store, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    with store.engine.connect() as conn:
        while not conn.execute(text(condition)).scalar():
            assert time.monotonic() < deadline, f"still not true after {seconds} s: {condition}"
            time.sleep(0.02)
            conn.rollback()  # a fresh snapshot for the next look


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not selected")
def test_a_writer_queued_behind_a_sealer_returns_with_its_event_chained(
    postgres_store: Store,
) -> None:
    """A sealer that read the waiting events before this writer committed holds the lock; the
    writer must not return until its own event is chained (nothing is left behind)."""
    store = postgres_store
    _seed(store, 2)
    with ThreadPoolExecutor(1) as pool, store.engine.connect() as sealer:
        sealer.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEALER_LOCK})
        writer = pool.submit(record, store, actor="svc", action=Action.DATA_ACCESS, reason="late")
        _poll("SELECT count(*) = 1 FROM audit_pending", store)  # committed, waiting
        _poll(
            "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", store
        )
        assert not writer.done()
        sealer.commit()  # the sealer lets go without having seen the late event
        writer.result(timeout=20)
    assert _counts(store) == (3, 3, 0)
