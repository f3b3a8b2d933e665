"""Opening the governance store: SQLite by default, PostgreSQL by URL.

Every governed write takes the database's write lock at the start of its transaction (SQLite:
``BEGIN IMMEDIATE``, for every transaction; PostgreSQL: an advisory lock taken first by
:meth:`Store.writing`), so transactions from the hub, services and the CLI serialize instead of
failing half-way, and what a decision read cannot change before it commits (two stewards
approving one application at once: one approval, one "it is approved"). On PostgreSQL a session
that audited something chains its events once it has committed (``chaining``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from wgs_tre.errors import ConfigurationError, StoreNotReady
from wgs_tre.store import chaining
from wgs_tre.store.roles import grant_runtime_role

__all__ = ["Store", "open_store"]

MIGRATIONS = Path(__file__).parent / "migrations"
GOVERNED = 7_466_011_298  # PostgreSQL advisory lock: one governed transaction at a time


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's lazy BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "foreign_keys=ON",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "busy_timeout=60000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Straight to the driver: this runs for every transaction, including each audit append.
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE")


class Store:
    """A governance database: sessions, schema revision and migrations."""

    def __init__(self, url: str) -> None:
        try:
            self.url = make_url(url)
        except ArgumentError:
            raise ConfigurationError(f"not a database URL: {url!r}") from None
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: Engine = create_engine(
            self.url,
            pool_pre_ping=not self.is_sqlite,
            # JSON columns (consent permissions) are read for every participant at every open
            json_deserializer=orjson.loads,
        )
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def location(self) -> str:
        """The URL without its password, safe to print."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed if the block succeeds, rolled back if it raises. Audit
        events it appended are in the chain when the block returns."""
        with self._sessions() as session, session.begin():
            yield session
        pending = session.info.get(chaining.PENDING)
        if pending is not None:
            chaining.chain(self.engine, pending)

    def chain_audit(self, *, durable: bool = False) -> int:
        """PostgreSQL: chain every committed audit event not chained yet (``chaining``);
        ``durable``: and wait until the chain is on disk. Nothing to do on SQLite."""
        return 0 if self.is_sqlite else chaining.chain(self.engine, durable=durable)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One transaction that decides and writes: it holds the write lock from its first
        statement, so nothing it reads changes under it (PostgreSQL's reads do not wait for
        writers; SQLite's ``BEGIN IMMEDIATE`` already waits)."""
        with self.session() as session:
            if not self.is_sqlite:
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": GOVERNED})
            yield session

    def _alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return config

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def current_revision(self) -> str | None:
        if self.is_sqlite and not self._sqlite_file_exists():
            return None
        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except OperationalError as exc:
            raise ConfigurationError(
                f"cannot reach the governance store at {self.location}: {exc.orig}"
            ) from None

    def _sqlite_file_exists(self) -> bool:
        database = self.url.database
        return not database or database == ":memory:" or Path(database).exists()

    def check_ready(self) -> None:
        """Raise :class:`StoreNotReady` unless the schema is at the current revision."""
        current, head = self.current_revision(), self.head_revision()
        if current is None:
            raise StoreNotReady(
                f"no governance store at {self.location}; create it with `wgs-tre init`"
            )
        if current != head:
            raise StoreNotReady(
                f"governance store at {self.location} is at schema {current}, this version "
                f"needs {head}; run `wgs-tre init` to upgrade it"
            )

    def upgrade(self) -> None:
        """Create or upgrade the schema to the current revision (idempotent)."""
        database = Path(self.url.database) if self.is_sqlite and self.url.database else None
        if database is not None:
            # The store is the trust anchor: only its owner (the hub, the CLI as root) may read it.
            database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            database.touch(mode=0o600, exist_ok=True)
            database.chmod(0o600)
        config = self._alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @property
    def role(self) -> str | None:
        """The database role this store connects as (PostgreSQL), or None (SQLite)."""
        return None if self.is_sqlite else self.url.username

    def same_database(self, other: Store) -> bool:
        return (self.url.host, self.url.port, self.url.database) == (
            other.url.host,
            other.url.port,
            other.url.database,
        )

    def grant_runtime_role(self, role: str) -> None:
        """As the tables' owner, give ``role`` what the application needs and no more
        (see :mod:`wgs_tre.store.roles`)."""
        with self.engine.begin() as connection:
            grant_runtime_role(connection, role)

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str) -> Store:
    return Store(url)
