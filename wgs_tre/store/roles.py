"""PostgreSQL: the application's role may use the tables, never own them.

A table's owner can disable its triggers (``ALTER TABLE ... DISABLE TRIGGER``) and so rewrite
the append-only audit log and dataset versions. Migrations therefore run as an owner role and
the hub, services and CLI as a runtime role that holds only these grants: reading and adding
rows everywhere, changing and removing rows only where the application itself does, and on the
append-only tables nothing but SELECT and INSERT (no UPDATE, DELETE or TRUNCATE).
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
    "report_note",
    "report_version",
)
AUDIT_APPEND = "audit_append(text, text, text, text, text, text, text, text)"


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
        rights = "SELECT, INSERT" if table in APPEND_ONLY else "SELECT, INSERT, UPDATE, DELETE"
        statements.append(f"GRANT {rights} ON {table} TO {who}")
    # The audit appender (migration 0004); it runs with the caller's rights, those above.
    statements.append(f"GRANT EXECUTE ON FUNCTION {AUDIT_APPEND} TO {who}")
    return statements


def grant_runtime_role(connection: Connection, role: str) -> None:
    """Give ``role`` the runtime grants on the store ``connection`` owns (PostgreSQL)."""
    quote = connection.dialect.identifier_preparer.quote
    for statement in runtime_grants(role, quote):
        connection.execute(text(statement))
