"""The verifier's bulk passes on SQLite, in Python and inside SQLite (the extension, which
scripts/install builds: without it these tests fail, they do not skip): each vouches for the
events of an intact chain (hashes checked here against the documented canonical form, computed
with the standard library) and never for a tampered one, and the exact pass that takes over
names the same event as a verify without the bulk pass."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests import test_audit
from tests.test_audit import _hash_of, _seed, _shift_up_from, as_dba, documented_hash, forged_after
from wgs_tre.audit import GENESIS, append, chain_ext, events, verify
from wgs_tre.audit.bulk_check import _PREFIX, check_in_python, check_in_sqlite
from wgs_tre.audit.verify import _Range
from wgs_tre.store import Store
from wgs_tre.types import Action

AWKWARD = [*test_audit.AWKWARD, "nul \x00"]  # SQLite's text holds NUL too


@pytest.fixture
def sqlite_store(sqlite_template: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "governance.db"
    shutil.copy(sqlite_template, path)
    store = Store(f"sqlite:///{path}")
    yield store
    store.dispose()


@pytest.fixture(params=["python", "sqlite"])
def bulk_pass(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _bulk(
    store: Store, bulk_pass: str, first: int, last: int, batch: int, **anchors: str
) -> _Range:
    span = _Range(first, last, anchors={int(k[1:]): v for k, v in anchors.items()})
    check = check_in_sqlite if bulk_pass == "sqlite" else check_in_python
    with store.engine.connect() as conn:
        check(conn, span, batch, None)
    return span


def _vouchable(bulk_pass: str, events: int, batch: int) -> int:
    """How many of the first ``events`` intact events a pass vouches for: the Python pass whole
    batches only, the extension up to the event."""
    return events if bulk_pass == "sqlite" else events // batch * batch


def test_the_bulk_pass_vouches_for_every_event_of_an_intact_chain(
    sqlite_store: Store, bulk_pass: str
) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    with sqlite_store.session() as session:
        for i, value in enumerate(AWKWARD * 3):
            append(
                session,
                actor=value[:64],
                action=Action.DATA_ACCESS,
                project=None if i % 2 else "brca",
                reason=value,
                details={"note": value, "n": [i, None]},
                when=when,
            )
    with sqlite_store.session() as session:
        chain = [e.as_dict() for e in events(session)]
    assert all(documented_hash(event) == event["hash"] for event in chain)
    span = _bulk(sqlite_store, bulk_pass, 1, len(chain), batch=4)
    assert (span.count, span.entry_prev_hash) == (len(chain), "0" * 64)
    assert (span.exit_hash, span.exit_prev_hash) == (chain[-1]["hash"], chain[-1]["prev_hash"])


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # SQLite holds UTF-8


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"actor": _TEXT, "reason": _TEXT, "project": st.none() | _TEXT, "details": _TEXT}
        ),
        min_size=1,
        max_size=4,
    )
)
def test_the_extension_renders_any_text_as_the_documented_form(
    values: list[dict[str, Any]],
) -> None:
    """Every character, escaped or not, hashed inside SQLite as the standard library hashes it:
    a chain of such events is vouched for whole."""
    conn = sqlite3.connect(":memory:")
    assert chain_ext.load(conn), "run scripts/install: it builds the SQLite extension"
    conn.execute(
        "CREATE TABLE audit_event (seq, time, actor, action, project, dataset, decision, reason, "
        "details, prev_hash, hash)"
    )
    prev = GENESIS
    for seq, fields in enumerate(values, 1):
        event = dict(fields, seq=seq, time="t", action="a", dataset=None, decision="allowed")
        event["prev_hash"] = prev
        event["hash"] = prev = documented_hash(event)
        conn.execute(
            f"INSERT INTO audit_event ({', '.join(event)}) VALUES ({', '.join('?' * len(event))})",
            tuple(event.values()),
        )
    (verified,) = conn.execute(
        _PREFIX, {"first": 1, "last": len(values), "entry": GENESIS}
    ).fetchone()
    conn.close()
    assert verified == len(values)


def _edit_reason(store: Store) -> None:
    with as_dba(store) as conn:
        conn.execute(text("UPDATE audit_event SET reason = 'nothing happened' WHERE seq = 5"))


def _edit_hash(store: Store) -> None:
    with as_dba(store) as conn:
        conn.execute(text("UPDATE audit_event SET hash = :h WHERE seq = 5"), {"h": "2" * 64})


def _delete(store: Store) -> None:
    with as_dba(store) as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 5"))


def _insert_well_forged(store: Store) -> None:
    forged = forged_after(store, 4)
    with as_dba(store) as conn:
        _shift_up_from(conn, 5)
        columns = ", ".join(forged)
        conn.execute(
            text(f"INSERT INTO audit_event ({columns}) VALUES (:{', :'.join(forged)})"), forged
        )


def _replace_well_forged(store: Store) -> None:
    """Event 5 swapped for a forgery whose own hash is right: only event 6's link shows it."""
    forged = forged_after(store, 4)
    with as_dba(store) as conn:
        assignments = ", ".join(f"{c} = :{c}" for c in forged)
        conn.execute(text(f"UPDATE audit_event SET {assignments} WHERE seq = 5"), forged)


# (tampering, the event a verify names, how many events the bulk pass may vouch for: those before
# the first it must refuse). A well-forged event 5 is consistent itself; event 6 breaks its link.
TAMPERING: list[tuple[Callable[[Store], None], int, int]] = [
    (_edit_reason, 5, 4),
    (_edit_hash, 5, 4),
    (_delete, 6, 4),
    (_insert_well_forged, 5, 5),
    (_replace_well_forged, 6, 5),
]


@pytest.mark.parametrize(
    ("tamper", "named", "vouched"), TAMPERING, ids=[t.__name__.strip("_") for t, *_ in TAMPERING]
)
def test_the_bulk_pass_stops_at_tampering_and_the_exact_pass_names_it(
    sqlite_store: Store, bulk_pass: str, tamper: Callable[[Store], None], named: int, vouched: int
) -> None:
    _seed(sqlite_store, 10)
    tamper(sqlite_store)
    for batch in (1, 4):  # a break between batches, then within one
        count = _bulk(sqlite_store, bulk_pass, 1, 10, batch).count
        assert count == _vouchable(bulk_pass, vouched, batch), batch
    with sqlite_store.session() as session:  # the exact pass resumes after 1 or 2 bulk batches
        plain = verify(session, bulk=False)
        small, default = verify(session, batch=3), verify(session)
    assert not plain.ok and plain.first_bad_seq == named, plain.summary()
    assert small.summary() == default.summary() == plain.summary()


def test_a_range_starting_at_a_deleted_event_is_not_vouched_for(
    sqlite_store: Store, bulk_pass: str
) -> None:
    """A worker's range whose first event is gone: no earlier event links to check, so only the
    sequence numbers show it."""
    _seed(sqlite_store, 10)
    _delete(sqlite_store)
    assert _bulk(sqlite_store, bulk_pass, 5, 10, batch=10).count == 0


def test_an_anchor_that_differs_stops_the_bulk_pass(sqlite_store: Store, bulk_pass: str) -> None:
    _seed(sqlite_store, 10)
    assert _bulk(sqlite_store, bulk_pass, 1, 10, batch=3, s5=_hash_of(sqlite_store, 5)).count == 10
    count = _bulk(sqlite_store, bulk_pass, 1, 10, batch=3, s5="f" * 64).count
    assert count == _vouchable(bulk_pass, 4, 3)


def test_a_value_sqlite_cannot_render_falls_back_to_the_exact_pass(
    sqlite_store: Store, bulk_pass: str
) -> None:
    """A BLOB where text belongs (json_object fails, the extension refuses it): the exact pass
    judges the event."""
    _seed(sqlite_store, 10)
    with as_dba(sqlite_store) as conn:
        conn.execute(text("UPDATE audit_event SET reason = x'00ff' WHERE seq = 7"))
    assert _bulk(sqlite_store, bulk_pass, 1, 10, batch=3).count <= 6  # sqlite3 reads a row ahead
    with sqlite_store.session() as session:
        report = verify(session, batch=3)
    assert not report.ok and report.first_bad_seq == 7 and "edited" in report.problem
