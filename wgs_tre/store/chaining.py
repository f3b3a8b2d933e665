"""PostgreSQL: chaining the audit events committed to the inbox (migration 0006).

An appender submits its event in its own transaction (``audit_submit()``); once that commits,
:func:`chain` runs ``audit_chain()``, which moves every committed pending event into the chain.
A session that submitted an event notes its pending id in ``session.info[PENDING]``, and
``Store.session`` chains after the commit: when a governed call returns, its event is in the
chain. SQLite appends chained events directly and never comes here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from wgs_tre.errors import IntegrityError

__all__ = ["PENDING", "broken_log", "chain", "chain_on"]

PENDING = "wgs_tre.audit_pending"  # Session.info key: the newest event this session submitted

_REPAIR = "run `wgs-tre audit verify` for the details and restore the store from a backup"
_BY_SQLSTATE = {
    # audit_submit()/audit_chain(), or SQLite's appender, on a head row that is gone
    "P0002": (
        "the audit log's head row is missing, so nothing can be audited and governed actions "
        f"are refused; {_REPAIR}"
    ),
    # a row sits where the next event would go: written without the appender
    "23505": (
        "the audit log holds an event beyond its head, so governed actions are refused; " + _REPAIR
    ),
}


def broken_log(error: BaseException) -> IntegrityError | None:
    """The refusal for a database error that means the log's end was tampered with, or None."""
    message = _BY_SQLSTATE.get(getattr(error, "sqlstate", None) or "")
    return IntegrityError(message) if message else None


def chain_on(connection: Connection, after: int | None = None, *, durable: bool = False) -> int:
    """Chain what is pending, on an autocommit ``connection``; returns how many were chained.

    ``after``: the caller's own pending event; if someone has chained it already, return at
    once. ``durable``: also wait until every chaining so far is on disk (before a verify, an
    export or a signed checkpoint; a crash could otherwise undo chain positions shown since).
    """
    cursor: Any = connection.connection.cursor()
    try:
        cursor.execute("SELECT audit_chain(%s, %s)", (after, durable))
        return int(cursor.fetchone()[0])
    except connection.dialect.dbapi.Error as error:  # type: ignore[union-attr]
        refusal = broken_log(error)
        if refusal is None:
            raise
        raise refusal from None
    finally:
        cursor.close()


def chain(engine: Engine, after: int | None = None, *, durable: bool = False) -> int:
    """:func:`chain_on` on a connection of its own."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return chain_on(connection, after, durable=durable)
