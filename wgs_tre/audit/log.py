"""Appending to and reading the audit log.

An event holds who, action, project, dataset, decision, reason and time, plus a small ``details``
object; never participant data or secrets (keys that suggest them are refused). Appends lock the
single ``audit_head`` row, so concurrent writers (hub, services, CLI) queue up and the chain never
forks. An event is appended in the caller's transaction: it commits or rolls back with the state
change it records. On PostgreSQL the append is one call of the server-side ``audit_append()``
(migration 0004), which hashes the same canonical bytes: one round trip while the head is locked
instead of three.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from wgs_tre.audit.chain import FIELDS, canonical_json, event_hash
from wgs_tre.errors import IntegrityError
from wgs_tre.store.engine import Store
from wgs_tre.store.models import AuditEvent, AuditHead
from wgs_tre.types import Action, Decision

__all__ = ["AuditRecord", "append", "events", "head", "record", "record_refusal"]

# Keys a ``details`` object may never carry: participant data and secrets stay out of the log.
_FORBIDDEN_KEY_PARTS = ("participant", "pseudonym", "patient", "password", "secret", "token")


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time: str
    actor: str
    action: str
    project: str | None
    dataset: str | None
    decision: str
    reason: str
    details: str
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (*FIELDS, "hash")}


def _timestamp(when: dt.datetime | None) -> str:
    moment = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_details(details: Mapping[str, Any]) -> str:
    for key in details:
        lowered = key.lower()
        if any(part in lowered for part in _FORBIDDEN_KEY_PARTS):
            raise ValueError(f"audit details may not carry {key!r}: no participant data or secrets")
    return canonical_json(dict(details)).decode()


# The append is the hottest write path (every audited access), so it talks to the DB-API cursor
# directly: compiling three SQLAlchemy statements costs ten times SQLite's own work per event.
_COLUMNS = (*FIELDS, "hash")
# SQLite (named parameters): three statements, no round trips; PostgreSQL calls audit_append().
_READ_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
_INSERT = "INSERT INTO audit_event ({}) VALUES ({})".format(  # noqa: S608 (constants)
    ", ".join(_COLUMNS), ", ".join(f":{c}" for c in _COLUMNS)
)
_MOVE_HEAD = "UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"
_SERVER_SIDE = (  # PostgreSQL (pyformat)
    "SELECT new_seq, new_prev_hash, new_hash FROM audit_append(%(time)s, %(actor)s, "
    "%(action)s, %(project)s, %(dataset)s, %(decision)s, %(reason)s, %(details)s)"
)
_NO_DATA_FOUND = "P0002"  # what audit_append() raises when the head row is missing


_ACTIONS = frozenset(Action)
_REPAIR = "run `wgs-tre audit verify` for the details and restore the store from a backup"
_MISSING_HEAD = (
    "the audit log's head row is missing, so nothing can be audited and governed actions are "
    f"refused; {_REPAIR}"
)


def append(
    session: Session | Connection,
    *,
    actor: str,
    action: Action,
    decision: Decision = Decision.ALLOWED,
    reason: str = "",
    project: str | None = None,
    dataset: str | None = None,
    details: Mapping[str, Any] | None = None,
    when: dt.datetime | None = None,
) -> AuditRecord:
    """Append one event in the transaction of ``session`` (ORM) or ``connection`` (Core).
    ``action`` must be a :class:`~wgs_tre.types.Action`: the log names nothing else."""
    if action not in _ACTIONS:
        raise ValueError(f"audit action {action!r} is not a wgs_tre.types.Action")
    conn = session.connection() if isinstance(session, Session) else session
    fields: dict[str, Any] = {
        "time": _timestamp(when),
        "actor": actor,
        "action": str(action),
        "project": project,
        "dataset": dataset,
        "decision": str(decision),
        "reason": reason,
        "details": _check_details(details or {}),
    }
    dbapi: Any = conn.dialect.dbapi
    cursor = conn.connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            cursor.execute(_SERVER_SIDE, fields)
            # audit_append() returns one row or raises
            row = cast("tuple[int, str, str]", cursor.fetchone())
            fields["seq"], fields["prev_hash"], fields["hash"] = row
        else:
            _append_here(cursor, fields)
    except dbapi.IntegrityError:
        # Only a row the appender did not write can sit beyond the head.
        which = f"an event {fields['seq']}" if "seq" in fields else "an event"
        raise IntegrityError(
            f"the audit log holds {which} beyond its head, so governed actions are refused; "
            + _REPAIR
        ) from None
    except dbapi.Error as error:
        if getattr(error, "sqlstate", None) == _NO_DATA_FOUND:
            raise IntegrityError(_MISSING_HEAD) from None
        raise
    finally:
        cursor.close()
    return AuditRecord(**fields)


def _append_here(cursor: Any, fields: dict[str, Any]) -> None:
    """Read the head (SQLite: the transaction holds the write lock), insert the event hashed
    here, move the head; ``fields`` gains seq, prev_hash and hash."""
    cursor.execute(_READ_HEAD)
    head_seq, head_hash = cursor.fetchone() or (None, None)
    if head_seq is None:
        raise IntegrityError(_MISSING_HEAD)
    fields.update(seq=head_seq + 1, prev_hash=head_hash)
    fields["hash"] = event_hash(fields)
    cursor.execute(_INSERT, fields)
    cursor.execute(_MOVE_HEAD, {"seq": fields["seq"], "hash": fields["hash"]})


def head(session: Session) -> tuple[int, str]:
    """The head row: the last event's seq and hash."""
    found = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if found is None:
        raise IntegrityError(f"the audit log's head row is missing; {_REPAIR}")
    return found.seq, found.hash


def record(store: Store, **event: Any) -> AuditRecord:
    """Append one event in a transaction of its own (for events not tied to a state change,
    such as data-access decisions); the cheapest way to write one event."""
    if store.is_sqlite:
        with store.engine.begin() as connection:
            return append(connection, **event)
    # PostgreSQL: the append is one statement, so in autocommit it is the whole transaction and
    # the head stays locked only while the server appends and commits, no round trip more.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return append(connection, **event)


def record_refusal(store: Store, **event: Any) -> AuditRecord:
    """Audit a refused request in a transaction of its own.

    The request's own transaction is rolled back when it is refused; the refusal must still be
    recorded, so it is written separately.
    """
    return record(store, decision=Decision.REFUSED, **event)


def events(
    session: Session,
    *,
    after: int = 0,
    limit: int | None = None,
    last: int | None = None,
    project: str | None = None,
    actor: str | None = None,
    since: dt.datetime | None = None,
    action: str | None = None,
) -> Iterator[AuditRecord]:
    """Events in chain order, optionally filtered; ``last=N`` gives the N most recent."""
    query = select(AuditEvent).where(AuditEvent.seq > after)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if since is not None:  # stored times are fixed-width UTC text, so text order is time order
        query = query.where(AuditEvent.time >= _timestamp(since))
    if project is not None:
        query = query.where(AuditEvent.project == project)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if last is not None:
        tail = query.order_by(AuditEvent.seq.desc()).limit(last).subquery()
        query = select(AuditEvent).join(tail, AuditEvent.seq == tail.c.seq)
    query = query.order_by(AuditEvent.seq)
    if limit is not None:
        query = query.limit(limit)
    for row in session.scalars(query.execution_options(yield_per=1000)):
        yield AuditRecord(**{name: getattr(row, name) for name in (*FIELDS, "hash")})
