"""The verifier's fast pass on SQLite: whole batches of events checked without a Python step per
event.

Where the SQLite extension is built (:mod:`wgs_tre.audit.chain_ext`), the whole check runs inside
SQLite, in C: an aggregate over a batch returns how many of its leading events verify (sequence,
link, SHA-256 over the canonical JSON it renders), and Python only reads the batch's boundary
rows and any anchors in it. That is what makes a million events a second reachable: reading
each row out into Python alone costs more.

Otherwise (:func:`check_in_python`), SQLite builds each event's canonical JSON itself
(``json_object`` with the keys in ``FIELDS`` order renders strings, integers and nulls byte for
byte as :func:`~wgs_tre.audit.chain.canonical_json` does), and the checks run over whole columns
at C speed: ``map`` for SHA-256, tuple comparison for the sequence numbers, the links and the
hashes.

Either pass only ever vouches for events: the first that does not check out (an edited, missing
or forged event, or a value rendered differently from the canonical form) stops it, and the
exact per-event checker in :mod:`wgs_tre.audit.verify` takes over from there and names the
problem. An event that passes here passes there too: equal SHA-256 means the bytes rendered here
are the canonical bytes appended, and those parse back to exactly the values stored.
"""

from __future__ import annotations

import hashlib
import operator
import sqlite3
from collections.abc import Callable, Mapping
from typing import Protocol

from sqlalchemy import Connection

from wgs_tre.audit import chain_ext
from wgs_tre.audit.chain import FIELDS

__all__ = ["Progress", "check_in_bulk", "check_in_python", "check_in_sqlite"]

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
    """Advance ``span`` over the events that verify, in SQLite if the extension is built, else
    in Python; stop at or before the first that does not (or at the end of the range)."""
    if chain_ext.available():
        check_in_sqlite(conn, span, batch, progress)
    else:
        check_in_python(conn, span, batch, progress)


# Rows reach the aggregate in the order of the primary key's index it scans; rows in any other
# order would end the run (seq must follow seq), never pass. An ORDER BY would cost a third.
_PREFIX = (
    "SELECT audit_chain_prefix(:first, :entry, seq, prev_hash, hash, action, actor, dataset, "
    "decision, details, project, reason, time) FROM audit_event "
    "WHERE seq >= :first AND seq <= :last"
)
# Pages read by mapping the file rather than by a system call each: a fifth faster.
_MMAP_BYTES = 1 << 30


def check_in_sqlite(
    conn: Connection, span: Progress, batch: int, progress: Callable[[int], None] | None
) -> None:
    """:func:`check_in_bulk` with the extension (which must be built): each batch's events are
    checked by ``audit_chain_prefix``; the run stops at the first event it does not vouch for."""
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection) or not chain_ext.load(raw):
        raise RuntimeError(f"the SQLite extension {chain_ext.LIBRARY} is not built")
    cursor = raw.cursor()
    (mmap_before,) = cursor.execute("PRAGMA mmap_size").fetchone()
    cursor.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
    try:
        while span.count < span.last - span.first + 1:
            start = span.first + span.count
            last = min(start + batch - 1, span.last)
            entry = span.exit_hash if span.count else None
            (verified,) = cursor.execute(
                _PREFIX, {"first": start, "last": last, "entry": entry}
            ).fetchone()
            verified = _before_differing_anchor(cursor, span.anchors, start, verified)
            if verified:
                _advance(cursor, span, start, verified)
                if progress is not None:
                    progress(span.count)
            if verified < last - start + 1:
                return
    except sqlite3.Error:
        return  # the exact pass reads the same rows and says what is wrong with them
    finally:
        cursor.execute(f"PRAGMA mmap_size = {int(mmap_before)}")
        cursor.close()


def _before_differing_anchor(
    cursor: sqlite3.Cursor, anchors: Mapping[int, str], start: int, verified: int
) -> int:
    """How many of the ``verified`` events from ``start`` come before the first whose hash
    differs from its anchor."""
    inside = sorted(seq for seq in anchors if start <= seq < start + verified)
    for seq in inside:
        (digest,) = cursor.execute("SELECT hash FROM audit_event WHERE seq = ?", (seq,)).fetchone()
        if digest != anchors[seq]:
            return seq - start
    return verified


def _advance(cursor: sqlite3.Cursor, span: Progress, start: int, verified: int) -> None:
    """Move ``span`` over ``verified`` events from ``start``, reading the links at both ends."""
    end = start + verified - 1
    ends = {
        seq: (prev_hash, digest)
        for seq, prev_hash, digest in cursor.execute(
            "SELECT seq, prev_hash, hash FROM audit_event WHERE seq IN (?, ?)", (start, end)
        )
    }
    (entry_prev, _), (exit_prev, exit_hash) = ends[start], ends[end]
    if span.count == 0:
        span.entry_prev_hash = entry_prev
    span.count += verified
    span.exit_hash, span.exit_prev_hash = exit_hash, exit_prev


def check_in_python(
    conn: Connection, span: Progress, batch: int, progress: Callable[[int], None] | None
) -> None:
    """:func:`check_in_bulk` without the extension: SQLite renders each event's canonical JSON,
    Python hashes it and compares whole batches."""
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
