"""Chaining committed events on PostgreSQL in batches ("sealing").

With fsync on, a commit costs a WAL flush. If every writer chained its own event, the head row
would stay locked through that flush and writers would commit one at a time. Instead a writer
inserts its event into ``audit_pending`` in its own transaction (the event commits or rolls back
with the change it records, and concurrent commits share flushes), then, after the commit,
seals: under a transaction-scoped advisory lock it moves every waiting event into the chain in
one transaction (one flush for the batch). Writers queued behind it usually find their events
already chained and pass through without writing. So when an append's transaction has returned,
its event is in the chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from wgs_tre.audit.chain import FIELDS, event_hash
from wgs_tre.errors import IntegrityError

__all__ = ["REPAIR", "SEALER_LOCK", "WAITING", "seal"]

REPAIR = "run `wgs-tre audit verify` for the details and restore the store from a backup"
# The columns of a waiting event: all of an event's but its place in the chain.
WAITING = ("time", "actor", "action", "project", "dataset", "decision", "reason", "details")
SEALER_LOCK = 0x77677354_72654175  # any constant: one advisory lock names "the sealer"
_READ_WAITING = f"SELECT id, {', '.join(WAITING)} FROM audit_pending ORDER BY id LIMIT %s"  # noqa: S608
_BATCH = 5_000


def _chain(head_seq: int, prev_hash: str, waiting: Sequence[Any]) -> tuple[list[int], list[str]]:
    """The ids of ``waiting`` rows in order and their hashes as events after the head."""
    ids, hashes = [], []
    for seq, (pending_id, *values) in enumerate(waiting, start=head_seq + 1):
        fields: dict[str, Any] = dict(zip(WAITING, values, strict=True))
        fields.update(seq=seq, prev_hash=prev_hash)
        prev_hash = event_hash({name: fields[name] for name in FIELDS})
        ids.append(pending_id)
        hashes.append(prev_hash)
    return ids, hashes


def seal(engine: Engine) -> None:
    """Chain every event waiting in ``audit_pending`` (PostgreSQL), in one transaction per batch."""
    with engine.begin() as conn:
        cursor = conn.connection.cursor()
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SEALER_LOCK,))
        while True:
            cursor.execute(_READ_WAITING, (_BATCH,))
            waiting = cursor.fetchall()
            if not waiting:
                return
            cursor.execute("SELECT seq, hash FROM audit_head WHERE id = 1")
            found = cursor.fetchone()
            if found is None:
                raise IntegrityError(
                    "the audit log's head row is missing, so nothing can be audited and "
                    f"governed actions are refused; {REPAIR}"
                )
            ids, hashes = _chain(found[0], found[1], waiting)
            try:
                cursor.execute("SELECT audit_seal(%s, %s, %s)", (found[0], ids, hashes))
            except conn.dialect.dbapi.IntegrityError:  # type: ignore[union-attr]
                raise IntegrityError(
                    f"the audit log holds an event beyond its head (event {found[0]}), so "
                    f"governed actions are refused; {REPAIR}"
                ) from None
            if len(waiting) < _BATCH:
                return
