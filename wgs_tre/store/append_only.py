"""Triggers that make a table append-only in the database itself, for migrations to install.

The application never updates or deletes rows of these tables; the triggers refuse it to anyone
else too. Someone with DBA rights can still drop them: ``wgs-tre audit verify`` catches what a
rewritten audit log would hide.
"""

from __future__ import annotations

from alembic import op

__all__ = ["allow_changes", "refuse_changes"]


def refuse_changes(table: str) -> None:
    """Install the triggers refusing UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION wgs_tre_refuse_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION wgs_tre_refuse_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            )


def allow_changes(table: str) -> None:
    """Drop what :func:`refuse_changes` installed (a downgrade)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
