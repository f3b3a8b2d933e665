"""Verifying the audit chain end to end.

Walks every event in ``seq`` order and checks, for each, that its sequence number follows the
previous one, that its ``prev_hash`` is the previous event's hash, and that its own hash matches
its contents; then that the head row names the last event (so deleting the newest events shows).
The first event that fails is named. A chain rewritten wholesale by someone who recomputed every
hash verifies by itself; ``anchors`` (seq, hash pairs kept elsewhere, e.g. in a SIEM) catch that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wgs_tre.audit.chain import FIELDS, GENESIS, event_hash
from wgs_tre.store.models import AuditEvent, AuditHead

__all__ = ["VerifyReport", "verify"]


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


def verify(
    session: Session,
    *,
    anchors: Mapping[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = 20_000,
) -> VerifyReport:
    """Check the whole chain; ``progress`` is called with the number of events checked so far."""
    anchors = dict(anchors or {})
    columns = [getattr(AuditEvent, name) for name in (*FIELDS, "hash")]
    rows = session.execute(
        select(*columns).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    )
    names = (*FIELDS, "hash")
    expected_seq, prev_hash, count = 1, GENESIS, 0

    def broken(seq: int, problem: str) -> VerifyReport:
        return VerifyReport(False, count, expected_seq - 1, prev_hash, seq, problem)

    for values in rows:
        event = dict(zip(names, values, strict=True))
        seq = event["seq"]
        if seq != expected_seq:
            what = "missing" if seq > expected_seq else "out of order"
            return broken(seq, f"expected event {expected_seq} here, found {seq} ({what})")
        if event["prev_hash"] != prev_hash:
            return broken(
                seq,
                f"prev_hash does not match event {seq - 1}'s hash: an event before it was "
                "inserted, deleted, edited or reordered",
            )
        if event_hash(event) != event["hash"]:
            return broken(seq, "contents do not match its hash: the event was edited")
        if seq in anchors and anchors.pop(seq) != event["hash"]:
            return broken(seq, "hash differs from the anchor kept outside the store: rewritten")
        prev_hash = event["hash"]
        expected_seq += 1
        count += 1
        if progress is not None and count % batch == 0:
            progress(count)
    if progress is not None:
        progress(count)
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    if (head.seq, head.hash) != (count, prev_hash):
        return VerifyReport(
            False,
            count,
            count,
            prev_hash,
            count + 1 if head.seq > count else head.seq,
            f"the head records event {head.seq} but the chain ends at event {count}: "
            "the newest events were deleted or the head was altered",
        )
    if anchors:
        first = min(anchors)
        return VerifyReport(False, count, count, prev_hash, first, "anchored event is missing")
    return VerifyReport(True, count, count, prev_hash)
