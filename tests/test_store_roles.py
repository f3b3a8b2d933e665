"""PostgreSQL: the TRE's runtime role cannot alter what is append-only, not even by its triggers.

`wgs-tre init --owner-url` runs the migrations as an owner role and grants the runtime role
(WGS_TRE_DATABASE_URL) only what the TRE needs. The runtime role then attacks the audit log and
the dataset versions with raw SQL; each attempt must be refused by the database's privileges
(not by the triggers, which an owner could switch off). The same attack by a role that owns the
tables (what `init` without --owner-url sets up) succeeds, which shows the attack is real.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError

from tests.conftest import BACKENDS, REPO
from tests.postgres import PostgresServer
from wgs_tre.audit import verify
from wgs_tre.store import Store

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not selected")

ATTACKS = [
    "ALTER TABLE audit_event DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_event_append_only ON audit_event",
    "ALTER TABLE audit_event OWNER TO CURRENT_USER",
    "UPDATE audit_event SET reason = 'nothing happened'",
    "DELETE FROM audit_event",
    "TRUNCATE audit_event",
    "UPDATE dataset_version SET checksum = 'x'",
    "DELETE FROM dataset_version",
    "TRUNCATE dataset_version CASCADE",
    "CREATE TABLE audit_copy (seq integer)",
    "DROP FUNCTION audit_append",  # 0004's appender, retired
    # the chain is written only by audit_chain(), with the owner's rights (migration 0006)
    "INSERT INTO audit_event VALUES (99, 't', 'mallory', 'project.apply', NULL, NULL, "
    "'allowed', '', '{}', 'x', 'y')",
    "UPDATE audit_head SET seq = 99",
    "INSERT INTO audit_pending (time, actor, action, decision, reason, details) "
    "VALUES ('t', 'mallory', 'project.apply', 'allowed', '', '{}')",
    "DELETE FROM audit_pending",
    "SELECT audit_append('t', 'mallory', 'project.apply', NULL, NULL, 'allowed', '', '{}')",
    "CREATE OR REPLACE FUNCTION audit_chain(bigint, boolean) RETURNS bigint "
    "LANGUAGE sql AS 'SELECT 0::bigint'",
]


def _url(server: PostgresServer, role: str, database: str) -> str:
    return f"postgresql+psycopg://{role}@127.0.0.1:{server.port}/{database}"


@pytest.fixture
def roles_database(postgres: PostgresServer) -> Iterator[str]:
    engine = create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for database in ("roles_split", "roles_single"):
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        for role in ("tre_owner", "tre_app"):
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
            conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text("CREATE DATABASE roles_split OWNER tre_owner"))
        conn.execute(text("CREATE DATABASE roles_single OWNER tre_app"))
    yield "ok"
    with engine.connect() as conn:
        conn.execute(text("DROP DATABASE roles_split WITH (FORCE)"))
        conn.execute(text("DROP DATABASE roles_single WITH (FORCE)"))
        conn.execute(text("DROP ROLE tre_owner"))
        conn.execute(text("DROP ROLE tre_app"))
    engine.dispose()


def _wgs_tre(url: str, tmp_path: Path, *args: str, owner_url: str = "") -> str:
    env = {
        "WGS_TRE_DATABASE_URL": url,
        "WGS_TRE_DATA_DIR": str(tmp_path),
        "WGS_TRE_POLICY_DIR": str(REPO / "policies"),
        "WGS_TRE_AS": "root-admin",  # root acts as the account
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "400",  # one line per message
    }
    if owner_url:
        env["WGS_TRE_OWNER_DATABASE_URL"] = owner_url
    done = subprocess.run(
        [sys.executable, "-m", "wgs_tre", *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def _use_the_tre(url: str, tmp_path: Path) -> None:
    """Governed work through the CLI: accounts, a dataset version, audit events."""
    _wgs_tre(url, tmp_path, "orgs", "create", "NCGM", "--type", "data_provider")
    _wgs_tre(url, tmp_path, "users", "create", "sam", "-r", "steward", "--org", "NCGM")
    release = tmp_path / "release.txt"
    release.write_text("genotypes")
    _wgs_tre(
        url,
        tmp_path,
        "--as",
        "sam",
        "datasets",
        "register",
        "cohort",
        str(release),
        "--kind",
        "variants",
    )
    _wgs_tre(url, tmp_path, "--as", "sam", "audit", "verify")


def _attempt(url: str, statement: str) -> str:
    """Run ``statement`` as the role of ``url``; what the database said ('' if it worked)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
        return ""
    except DatabaseError as exc:
        return str(exc.orig)
    finally:
        engine.dispose()


def test_the_runtime_role_cannot_alter_the_append_only_tables(
    postgres: PostgresServer, roles_database: str, tmp_path: Path
) -> None:
    app = _url(postgres, "tre_app", "roles_split")
    said = _wgs_tre(
        app,
        tmp_path,
        "init",
        "--admin",
        "root-admin",
        owner_url=_url(postgres, "tre_owner", "roles_split"),
    )
    assert "runtime role tre_app may not alter the append-only tables" in said
    _use_the_tre(app, tmp_path)
    for statement in ATTACKS:
        refusal = _attempt(app, statement)
        assert "permission denied" in refusal or "must be owner" in refusal, (statement, refusal)
    store = Store(app)
    with store.session() as session:
        report = verify(session)
    store.dispose()
    assert report.ok and report.events >= 5


def test_a_role_that_owns_the_tables_can_switch_the_triggers_off(
    postgres: PostgresServer, roles_database: str, tmp_path: Path
) -> None:
    """Without --owner-url the TRE's role owns the tables: init warns, and it is right to."""
    app = _url(postgres, "tre_app", "roles_single")
    said = _wgs_tre(app, tmp_path, "init", "--admin", "root-admin")
    assert "warning: the TRE's own role owns the tables" in said
    _use_the_tre(app, tmp_path)
    assert _attempt(app, "ALTER TABLE audit_event DISABLE TRIGGER ALL") == ""
    assert _attempt(app, "DELETE FROM audit_event WHERE seq = 2") == ""
    store = Store(app)
    with store.session() as session:
        assert not verify(session).ok
    store.dispose()
