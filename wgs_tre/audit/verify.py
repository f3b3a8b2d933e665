"""Verifying the audit chain end to end.

For each event in ``seq`` order: its sequence number follows the previous one, its
``prev_hash`` is the previous event's hash, and its own hash matches its contents; finally the
head row must name the last event (so deleting the newest events shows). The first event that
fails is named. A chain rewritten wholesale by someone who recomputed every hash verifies by
itself; ``anchors`` (seq, hash pairs kept elsewhere, e.g. by a SIEM) catch that.

Long chains are checked in parallel: each worker process verifies a contiguous range, and the
links between ranges are checked when the results are combined.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from wgs_tre.audit.chain import FIELDS, GENESIS, hash_sorted_values
from wgs_tre.store.engine import Store
from wgs_tre.store.models import AuditEvent, AuditHead

__all__ = ["VerifyReport", "verify", "verify_store"]

_COLUMNS = ", ".join(FIELDS)  # constants, not input
_SEQ, _PREV = FIELDS.index("seq"), FIELDS.index("prev_hash")
# Below this many events a single process is faster than starting workers.
PARALLEL_THRESHOLD = 200_000


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
        return f"audit log BROKEN at event {self.first_bad_seq}: {self.problem}"


@dataclass
class _Range:
    """What one pass over events ``first..last`` found."""

    first: int
    last: int
    entry_prev_hash: str | None = None  # prev_hash of the range's first event
    exit_hash: str | None = None  # hash of the range's last event
    count: int = 0
    bad_seq: int | None = None
    problem: str = ""
    anchors: dict[int, str] = field(default_factory=dict)


def _check_range(
    conn: Connection, span: _Range, batch: int, progress: Callable[[int], None] | None
) -> _Range:
    cursor = conn.connection.cursor()  # DB-API: verifying is bound by per-row overhead
    cursor.execute(
        f"SELECT {_COLUMNS}, hash FROM audit_event "  # noqa: S608
        f"WHERE seq >= {int(span.first)} AND seq <= {int(span.last)} ORDER BY seq"
    )
    expected, prev = span.first, None
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
                span.bad_seq = seq
                span.problem = (
                    f"prev_hash does not match event {seq - 1}'s hash: an event before it was "
                    "inserted, deleted, edited or reordered"
                )
                return span
            if hash_sorted_values(row[:-1]) != digest:
                span.bad_seq, span.problem = (
                    seq,
                    "contents do not match its hash: the event was edited",
                )
                return span
            if seq in span.anchors and span.anchors[seq] != digest:
                span.bad_seq = seq
                span.problem = "hash differs from the anchor kept outside the store: rewritten"
                return span
            prev, expected = digest, expected + 1
        span.count += len(rows)
        if progress is not None:
            progress(span.count)
    cursor.close()
    span.exit_hash = prev
    if span.count != span.last - span.first + 1:
        span.bad_seq = expected + 1
        span.problem = f"expected event {expected} here, found {expected + 1} (missing)"
    return span


def _check_range_in_worker(url: str, span: _Range, batch: int) -> _Range:
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            return _check_range(conn, span, batch, None)
    finally:
        store.dispose()


def _combine(
    spans: list[_Range], head: tuple[int, str], anchors: Mapping[int, str]
) -> VerifyReport:
    prev_hash, count = GENESIS, 0
    for span in spans:
        if span.count and span.entry_prev_hash != prev_hash:
            return VerifyReport(
                False,
                count,
                count,
                prev_hash,
                span.first,
                f"prev_hash does not match event {span.first - 1}'s hash: an event before it "
                "was inserted, deleted, edited or reordered",
            )
        if span.bad_seq is not None:
            return VerifyReport(False, count, count, prev_hash, span.bad_seq, span.problem)
        if span.count:
            prev_hash = span.exit_hash or prev_hash
        count += span.count
    if head != (count, prev_hash):
        return VerifyReport(
            False,
            count,
            count,
            prev_hash,
            count + 1 if head[0] > count else head[0],
            f"the head records event {head[0]} but the chain ends at event {count}: "
            "the newest events were deleted or the head was altered",
        )
    missing = sorted(seq for seq in anchors if seq > count)
    if missing:
        return VerifyReport(False, count, count, prev_hash, missing[0], "anchored event is missing")
    return VerifyReport(True, count, count, prev_hash)


def verify(
    session: Session,
    *,
    anchors: Mapping[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = 20_000,
    workers: int = 1,
    url: str | None = None,
    min_parallel: int = PARALLEL_THRESHOLD,
) -> VerifyReport:
    """Check the whole chain in ``session``; see the module docstring.

    With ``workers`` > 1 and ``url`` (the store's URL, for the worker processes), chains of at
    least ``min_parallel`` events are split into ranges checked in parallel.
    """
    anchors = dict(anchors or {})
    last = session.scalar(select(func.max(AuditEvent.seq))) or 0
    head_row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    head = (head_row.seq, head_row.hash)
    if workers <= 1 or url is None or last < max(min_parallel, 1):
        span = _Range(1, last, anchors=anchors)
        return _combine([_check_range(session.connection(), span, batch, progress)], head, anchors)
    step = -(-last // workers)
    spans = [
        _Range(
            lo,
            min(lo + step - 1, last),
            anchors={s: h for s, h in anchors.items() if lo <= s < lo + step},
        )
        for lo in range(1, last + 1, step)
    ]
    with ProcessPoolExecutor(len(spans), mp_context=multiprocessing.get_context("spawn")) as pool:
        done = list(
            pool.map(_check_range_in_worker, [url] * len(spans), spans, [batch] * len(spans))
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
    """:func:`verify` on a store, in parallel on every CPU for long chains."""
    with store.session() as session:
        return verify(
            session,
            anchors=anchors,
            progress=progress,
            workers=os.cpu_count() or 1,
            url=store.url.render_as_string(hide_password=False),
        )
