"""PostgreSQL: the application's role may use the tables, never own them.

A table's owner can disable its triggers (``ALTER TABLE ... DISABLE TRIGGER``) and so rewrite
the append-only audit log and dataset versions. Migrations therefore run as an owner role and
the hub, services and CLI as a runtime role that holds only these grants: reading and adding
rows everywhere, changing and removing rows only where the application itself does, and on the
append-only tables nothing but SELECT and INSERT (no UPDATE, DELETE or TRUNCATE). The audit log
is read-only to it: events enter through ``audit_submit()`` and are chained by ``audit_chain()``,
which run with the owner's rights (migration 0006).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, text

from wgs_tre.store.models import Base

__all__ = ["APPEND_ONLY", "grant_runtime_role", "runtime_grants"]

# Rows of these tables are never changed or removed (the migrations' triggers say so too).
APPEND_ONLY = (
    "audit_event",
    "dataset_retirement",
    "dataset_version",
    "output_review",
    "report_note",
    "report_version",
)
# Written only by the owner's functions below: SELECT for the runtime role, or nothing.
THROUGH_FUNCTIONS = {"audit_event": "SELECT", "audit_head": "SELECT", "audit_pending": ""}
AUDIT_FUNCTIONS = (
    "audit_submit(text, text, text, text, text, text, text, text)",
    "audit_chain(bigint, boolean)",
)
RETIRED_FUNCTIONS = ("audit_append(text, text, text, text, text, text, text, text)",)  # 0004


def runtime_grants(role: str, quote: Callable[[str], str] = str) -> list[str]:
    """The statements that give ``role`` (quoted by ``quote``) what the application needs."""
    who = quote(role)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
        f"GRANT USAGE ON SCHEMA public TO {who}",
        f"GRANT SELECT ON alembic_version TO {who}",  # the schema check at every start
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}",
    ]
    for table in sorted(Base.metadata.tables):
        if table in THROUGH_FUNCTIONS:
            rights = THROUGH_FUNCTIONS[table]
        elif table in APPEND_ONLY:
            rights = "SELECT, INSERT"
        else:
            rights = "SELECT, INSERT, UPDATE, DELETE"
        if rights:
            statements.append(f"GRANT {rights} ON {table} TO {who}")
    statements += [f"REVOKE ALL ON FUNCTION {f} FROM {who}" for f in RETIRED_FUNCTIONS]
    statements += [f"GRANT EXECUTE ON FUNCTION {f} TO {who}" for f in AUDIT_FUNCTIONS]
    return statements


def grant_runtime_role(connection: Connection, role: str) -> None:
    """Give ``role`` the runtime grants on the store ``connection`` owns (PostgreSQL)."""
    quote = connection.dialect.identifier_preparer.quote
    for statement in runtime_grants(role, quote):
        connection.execute(text(statement))
