"""Appending to and reading the audit log.

An event holds who, action, project, dataset, decision, reason and time, plus a small ``details``
object; never participant data or secrets (keys that suggest them are refused). An event is
appended in the caller's transaction: it commits or rolls back with the state change it records.
The chain never forks: on SQLite each appender holds the write lock while it reads the head,
inserts the event hashed here and moves the head. On PostgreSQL the event is submitted to the
inbox (``audit_submit()``, migration 0006), so concurrent commits overlap, and chained right
after its commit (``wgs_tre.store.chaining``): by the server, which hashes the same canonical
bytes, one chainer at a time.
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
from wgs_tre.store import chaining
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
# SQLite (named parameters): three statements, no round trips; PostgreSQL submits to the inbox.
_READ_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
_INSERT = "INSERT INTO audit_event ({}) VALUES ({})".format(  # noqa: S608 (constants)
    ", ".join(_COLUMNS), ", ".join(f":{c}" for c in _COLUMNS)
)
_MOVE_HEAD = "UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"
_SUBMIT = (  # PostgreSQL (pyformat)
    "SELECT audit_submit(%(time)s, %(actor)s, %(action)s, %(project)s, %(dataset)s, "
    "%(decision)s, %(reason)s, %(details)s)"
)


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
) -> int | None:
    """Append one event in the transaction of ``session`` (ORM) or ``connection`` (Core).
    ``action`` must be a :class:`~wgs_tre.types.Action`: the log names nothing else.

    PostgreSQL: returns the event's id in the inbox. A session chains it when
    ``Store.session`` commits; a caller holding a bare connection chains it with
    ``chaining.chain_on`` after committing (as :func:`record` does)."""
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
        if conn.dialect.name != "postgresql":
            _append_here(cursor, fields)
            return None
        cursor.execute(_SUBMIT, fields)
        pending = int(cast("tuple[int]", cursor.fetchone())[0])
        if isinstance(session, Session):
            session.info[chaining.PENDING] = pending
        return pending
    except dbapi.Error as error:
        refusal = chaining.broken_log(error)
        if refusal is None and isinstance(error, dbapi.IntegrityError):
            # SQLite: only a row the appender did not write can sit beyond the head
            refusal = IntegrityError(
                f"the audit log holds an event {fields['seq']} beyond its head, so governed "
                f"actions are refused; {_REPAIR}"
            )
        if refusal is None:
            raise
        raise refusal from None
    finally:
        cursor.close()


def _append_here(cursor: Any, fields: dict[str, Any]) -> None:
    """Read the head (SQLite: the transaction holds the write lock), insert the event hashed
    here, move the head."""
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


def record(store: Store, **event: Any) -> None:
    """Append one event in a transaction of its own (for events not tied to a state change,
    such as data-access decisions); the cheapest way to write one event. It is in the chain
    when this returns."""
    if store.is_sqlite:
        with store.engine.begin() as connection:
            append(connection, **event)
        return
    # PostgreSQL: the submit is one statement, so in autocommit it is the whole transaction
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        pending = append(connection, **event)
        chaining.chain_on(connection, pending)


def record_refusal(store: Store, **event: Any) -> None:
    """Audit a refused request in a transaction of its own.

    The request's own transaction is rolled back when it is refused; the refusal must still be
    recorded, so it is written separately.
    """
    record(store, decision=Decision.REFUSED, **event)


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
