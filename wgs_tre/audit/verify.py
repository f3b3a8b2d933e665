"""Verifying the audit chain end to end.

For each event in ``seq`` order: its sequence number follows the previous one, its
``prev_hash`` is the previous event's hash, and its own hash matches its contents; finally the
head row must name the last event (so deleting the newest events, or appending one without the
appender, shows). The first event that fails is named; an event inserted into the chain is
named itself, not the genuine one after it. A chain rewritten wholesale by someone who
recomputed every hash verifies by itself; ``anchors`` (seq, hash pairs kept elsewhere: a SIEM's
copy, or signed checkpoints, see :mod:`wgs_tre.audit.checkpoint`) catch that.

The head and the last event are read in one statement, so one snapshot: writers appending
meanwhile never look like a deletion (on PostgreSQL, two statements under READ COMMITTED would
see two different moments). Only events up to that last one are checked.

On SQLite, batches of events are first checked in bulk (:mod:`wgs_tre.audit.bulk_check`); from
the first event the bulk pass does not vouch for, events are checked one by one, which names the
problem. ``bulk=False`` checks every event one by one.

Long chains are checked in parallel: each worker verifies a contiguous range, and the links
between ranges are checked when the results are combined. Workers are threads where the check
runs inside SQLite's C code (the SQLite extension, which runs without Python's lock), processes
otherwise.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from wgs_tre.audit import chain_ext
from wgs_tre.audit.bulk_check import check_in_bulk
from wgs_tre.audit.chain import FIELDS, GENESIS, hash_sorted_values
from wgs_tre.errors import IntegrityError
from wgs_tre.store.engine import Store

__all__ = ["VerifyReport", "verify", "verify_store"]

_COLUMNS = ", ".join(FIELDS)  # constants, not input
_SEQ, _PREV = FIELDS.index("seq"), FIELDS.index("prev_hash")
# Below this many events a single process is faster than starting worker processes; threads
# cost far less to start.
PARALLEL_THRESHOLD = 200_000
THREADS_THRESHOLD = 20_000


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""

    def summary(self) -> str:
        if self.ok:
            return f"audit log intact: {self.events} events, head {self.head_seq}:{self.head_hash}"
        if self.first_bad_seq is None:
            return f"audit log BROKEN: {self.problem}"
        return f"audit log BROKEN at event {self.first_bad_seq}: {self.problem}"


@dataclass
class _Range:
    """What one pass over events ``first..last`` found."""

    first: int
    last: int
    entry_prev_hash: str | None = None  # prev_hash of the range's first event
    exit_hash: str | None = None  # hash of the range's last event
    exit_prev_hash: str | None = None  # prev_hash of the range's last event
    count: int = 0
    bad_seq: int | None = None
    problem: str = ""
    anchors: dict[int, str] = field(default_factory=dict)


def _check_range(
    conn: Connection,
    span: _Range,
    batch: int,
    progress: Callable[[int], None] | None,
    bulk: bool = True,
) -> _Range:
    if bulk and conn.dialect.name == "sqlite":
        check_in_bulk(conn, span, batch, progress)
    return _check_exactly(conn, span, batch, progress)


def _check_exactly(
    conn: Connection, span: _Range, batch: int, progress: Callable[[int], None] | None
) -> _Range:
    """Check the range's events one by one from where the fast pass (if any) stopped, naming the
    first that fails."""
    expected = span.first + span.count
    prev, link = span.exit_hash, span.exit_prev_hash  # link: the previous event's prev_hash
    cursor = conn.connection.cursor()  # DB-API: verifying is bound by per-row overhead
    cursor.execute(
        f"SELECT {_COLUMNS}, hash FROM audit_event "  # noqa: S608
        f"WHERE seq >= {int(expected)} AND seq <= {int(span.last)} ORDER BY seq"
    )
    while rows := cursor.fetchmany(batch):
        for row in rows:
            seq, digest = row[_SEQ], row[-1]
            if seq != expected:
                what = "missing" if seq > expected else "out of order"
                span.bad_seq, span.problem = (
                    seq,
                    f"expected event {expected} here, found {seq} ({what})",
                )
                return span
            if prev is None:
                span.entry_prev_hash = row[_PREV]
            elif row[_PREV] != prev:
                span.bad_seq, span.problem = _broken_link(seq, row[_PREV], link)
                return span
            if not _hash_matches(row[:-1], digest):
                span.bad_seq, span.problem = (
                    seq,
                    "contents do not match its hash: the event was edited",
                )
                return span
            if seq in span.anchors and span.anchors[seq] != digest:
                span.bad_seq = seq
                span.problem = (
                    "hash differs from the anchor kept outside the store (a signed checkpoint or "
                    "a SIEM's copy): the chain was rewritten up to here"
                )
                return span
            prev, link, expected = digest, row[_PREV], expected + 1
        span.count += len(rows)
        if progress is not None:
            progress(span.count)
    cursor.close()
    span.exit_hash, span.exit_prev_hash = prev, link
    if span.count != span.last - span.first + 1:
        span.bad_seq = expected + 1
        span.problem = f"expected event {expected} here, found {expected + 1} (missing)"
    return span


def _hash_matches(values: tuple[object, ...], digest: str) -> bool:
    try:
        return hash_sorted_values(values) == digest
    except TypeError:  # a value no JSON holds (a BLOB written by hand): not what was appended
        return False


def _broken_link(seq: int, prev_hash: str, link: str | None) -> tuple[int, str]:
    """Event ``seq`` does not point at event ``seq - 1``. If it points where event ``seq - 1``
    does, that event was slipped in between: name it, not the genuine event after it."""
    if prev_hash == link:
        return seq - 1, (
            f"inserted: event {seq} links to event {seq - 2}, past this one, so this one was "
            "added afterwards (forged)"
        )
    return seq, (
        f"prev_hash does not match event {seq - 1}'s hash: an event before it was "
        "inserted, deleted, edited or reordered"
    )


def _check_range_in_worker(url: str, span: _Range, batch: int, bulk: bool) -> _Range:
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            return _check_range(conn, span, batch, None, bulk)
    finally:
        store.dispose()


def _checks_in_c(url: str | None, bulk: bool) -> bool:
    """Whether the bulk pass runs in SQLite's C code, which releases Python's lock: then workers
    can be threads."""
    return bulk and url is not None and url.startswith("sqlite") and chain_ext.available()


def _pool(in_c: bool, count: int) -> Executor:
    if in_c:
        return ThreadPoolExecutor(count)
    return ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"))


def _combine(
    spans: list[_Range], head: tuple[int | None, str | None], anchors: Mapping[int, str]
) -> VerifyReport:
    prev_hash, link, count = GENESIS, None, 0
    for span in spans:
        if span.entry_prev_hash is not None and span.entry_prev_hash != prev_hash:
            bad, problem = _broken_link(span.first, span.entry_prev_hash, link)
            return VerifyReport(False, count, count, prev_hash, bad, problem)
        if span.bad_seq is not None:
            return VerifyReport(False, count, count, prev_hash, span.bad_seq, span.problem)
        if span.count:
            prev_hash, link = span.exit_hash or prev_hash, span.exit_prev_hash
        count += span.count
    head_problem = _head_problem(head, count, prev_hash)
    if head_problem is not None:
        return VerifyReport(False, count, count, prev_hash, *head_problem)
    missing = sorted(seq for seq in anchors if seq > count)
    if missing:
        return VerifyReport(
            False,
            count,
            count,
            prev_hash,
            missing[0],
            "anchored event is missing (a signed checkpoint or a SIEM's copy holds it): the "
            "chain was cut and rewritten",
        )
    return VerifyReport(True, count, count, prev_hash)


def _head_problem(
    head: tuple[int | None, str | None], count: int, last_hash: str
) -> tuple[int | None, str] | None:
    """What is wrong with the head row given a chain of ``count`` events ending in ``last_hash``
    (every event of which verified), or None."""
    head_seq, head_hash = head
    if head_seq is None:
        return None, "the head row (audit_head) is missing: it was deleted"
    if head_seq < count:
        return head_seq + 1, (
            f"beyond the head, which records event {head_seq}: it was added without the "
            "appender (forged), or the head was moved back"
        )
    if head_seq > count:
        return count + 1, (
            f"the head records event {head_seq} but the chain ends at event {count}: "
            "the newest events were deleted or the head was altered"
        )
    if head_hash != last_hash:
        return count or None, (
            f"the head's hash differs from event {count}'s: the event or the head was rewritten"
        )
    return None


def _last_and_head(session: Session) -> tuple[int, tuple[int | None, str | None]]:
    """The last event's seq and the head row, in one statement: one snapshot."""
    row = session.execute(
        text(
            "SELECT (SELECT max(seq) FROM audit_event), "
            "(SELECT seq FROM audit_head WHERE id = 1), (SELECT hash FROM audit_head WHERE id = 1)"
        )
    ).one()
    return row[0] or 0, (row[1], row[2])


def verify(
    session: Session,
    *,
    anchors: Mapping[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = 20_000,
    workers: int = 1,
    url: str | None = None,
    min_parallel: int | None = None,
    bulk: bool = True,
) -> VerifyReport:
    """Check the whole chain in ``session``; see the module docstring.

    With ``workers`` > 1 and ``url`` (the store's URL, for the workers), chains of at least
    ``min_parallel`` events (by default, as many as make workers worth starting) are split into
    ranges checked in parallel. ``bulk=False``: no bulk pass, every event checked one by one.
    """
    anchors = dict(anchors or {})
    last, head = _last_and_head(session)
    in_c = _checks_in_c(url, bulk)
    if min_parallel is None:
        min_parallel = THREADS_THRESHOLD if in_c else PARALLEL_THRESHOLD
    if workers <= 1 or url is None or last < max(min_parallel, 1):
        span = _Range(1, last, anchors=anchors)
        checked = _check_range(session.connection(), span, batch, progress, bulk)
        return _combine([checked], head, anchors)
    step = -(-last // workers)
    spans = [
        _Range(
            lo,
            min(lo + step - 1, last),
            anchors={s: h for s, h in anchors.items() if lo <= s < lo + step},
        )
        for lo in range(1, last + 1, step)
    ]
    with _pool(in_c, len(spans)) as pool:
        done = list(
            pool.map(
                _check_range_in_worker,
                [url] * len(spans),
                spans,
                [batch] * len(spans),
                [bulk] * len(spans),
            )
        )
    if progress is not None:
        progress(sum(s.count for s in done))
    return _combine(done, head, anchors)


def verify_store(
    store: Store,
    *,
    anchors: Mapping[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """:func:`verify` on a store, in parallel on every CPU for long chains. On PostgreSQL
    the events committed so far are chained first, and the chain is on disk before it is
    read; a chain too broken to take more is reported by the check itself."""
    with contextlib.suppress(IntegrityError):
        store.chain_audit(durable=True)
    with store.session() as session:
        return verify(
            session,
            anchors=anchors,
            progress=progress,
            workers=os.cpu_count() or 1,
            url=store.url.render_as_string(hide_password=False),
        )
