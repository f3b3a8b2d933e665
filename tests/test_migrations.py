"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from wgs_tre.store import Store
from wgs_tre.store.models import Base


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_store_reports_its_revision_and_upgrade_is_idempotent(store: Store) -> None:
    assert store.current_revision() == store.head_revision()
    store.check_ready()
    store.upgrade()
    assert store.current_revision() == store.head_revision()
