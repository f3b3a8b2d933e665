"""The governance store (SQLAlchemy models, Alembic migrations, engines)."""

from wgs_tre.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
