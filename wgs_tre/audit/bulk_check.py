"""The verifier's fast pass on SQLite: whole batches of events checked without a Python step per
event.

SQLite builds each event's canonical JSON itself (``json_object`` with the keys in ``FIELDS``
order renders strings, integers and nulls byte for byte as :func:`~wgs_tre.audit.chain.
canonical_json` does), and the checks run over whole columns at C speed: ``map`` for SHA-256,
tuple comparison for the sequence numbers, the links and the hashes. Per event that leaves the
row fetch and the hash, which is what makes a million events a second reachable.

The pass only ever vouches for a batch: the first batch that does not check out (an edited,
missing or forged event, or a value SQLite renders differently from the canonical form) stops
it, and the exact per-event checker in :mod:`wgs_tre.audit.verify` takes over from there and
names the problem. A batch that passes here passes there too: equal SHA-256 means SQLite's bytes
are the canonical bytes, and those parse back to exactly the values stored.
"""

from __future__ import annotations

import hashlib
import operator
import sqlite3
from collections.abc import Callable, Mapping
from typing import Protocol

from sqlalchemy import Connection

from wgs_tre.audit.chain import FIELDS

__all__ = ["Progress", "check_in_bulk"]

_DOCUMENT = "CAST(json_object({}) AS BLOB)".format(", ".join(f"'{f}', {f}" for f in FIELDS))
_HEX = operator.methodcaller("hexdigest")


class Progress(Protocol):
    """What the fast pass advances: the state of a range being verified (see ``verify._Range``)."""

    first: int
    last: int
    count: int
    entry_prev_hash: str | None
    exit_hash: str | None
    exit_prev_hash: str | None
    anchors: dict[int, str]


def _anchors_match(anchors: Mapping[int, str], start: int, hashes: tuple[str, ...]) -> bool:
    end = start + len(hashes)
    return all(
        hashes[seq - start] == digest for seq, digest in anchors.items() if start <= seq < end
    )


def check_in_bulk(
    conn: Connection, span: Progress, batch: int, progress: Callable[[int], None] | None
) -> None:
    """Advance ``span`` over the batches of its events that verify; stop at the first that does
    not (or at the end of the range)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(
            f"SELECT seq, prev_hash, hash, {_DOCUMENT} FROM audit_event "  # noqa: S608
            f"WHERE seq >= {int(span.first)} AND seq <= {int(span.last)} ORDER BY seq"
        )
        while rows := cursor.fetchmany(batch):
            seqs, prevs, hashes, documents = zip(*rows, strict=True)
            start = span.first + span.count
            intact = (
                seqs == tuple(range(start, start + len(rows)))
                and (span.count == 0 or prevs[0] == span.exit_hash)
                and prevs[1:] == hashes[:-1]
                and tuple(map(_HEX, map(hashlib.sha256, documents))) == hashes
                and _anchors_match(span.anchors, start, hashes)
            )
            if not intact:
                return
            if span.count == 0:
                span.entry_prev_hash = prevs[0]
            span.count += len(rows)
            span.exit_hash, span.exit_prev_hash = hashes[-1], prevs[-1]
            if progress is not None:
                progress(span.count)
    except sqlite3.Error:
        return  # e.g. a BLOB where text belongs, which json_object refuses: the exact pass names it
    finally:
        cursor.close()
