"""Writers racing on one store: hold what every audited write waits for, start the racers as
real CLI processes, and let go once all of them wait, so each has read what it reads before any
other commits."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select, text

from wgs_tre.store import Store
from wgs_tre.store.models import AuditHead

__all__ = ["holding_the_audit_head", "race", "until_waiting_on"]


@contextmanager
def holding_the_audit_head(store: Store) -> Iterator[None]:
    """A transaction holding what every audited write waits for: SQLite's write lock (every
    transaction begins with BEGIN IMMEDIATE), PostgreSQL's audit head row (as appenders lock it).
    Writers started meanwhile get as far as they can and wait."""
    with store.session() as session:
        session.execute(select(AuditHead).with_for_update())
        yield


def until_waiting_on(store: Store, processes: list[subprocess.Popen[str]]) -> None:
    """Until every process waits on the store: PostgreSQL lists their backends as waiting for a
    lock; on SQLite, a process that has the database open waits at its first BEGIN IMMEDIATE."""
    deadline = time.monotonic() + 60
    database = Path(store.url.database or "")

    def waiting() -> int:
        if not store.is_sqlite:
            with store.engine.connect() as conn:
                return int(conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )).scalar_one())  # fmt: skip
        opened = 0
        for process in processes:
            with contextlib.suppress(OSError):
                fds = Path(f"/proc/{process.pid}/fd").iterdir()
                opened += any(Path(os.readlink(fd)) == database for fd in fds)
        return opened

    while waiting() < len(processes):
        assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
        assert time.monotonic() < deadline, "the writers did not reach the store"
        time.sleep(0.1)


def race(
    store: Store, commands: list[tuple[list[str], dict[str, str]]]
) -> list[tuple[int, str, str]]:
    """Run every (argv, environment) as a process of its own, each having read what it reads
    before any commits; their (exit code, stdout, stderr), in order of exit code."""
    with holding_the_audit_head(store):
        racers = [
            subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
            for argv, env in commands
        ]  # fmt: skip
        until_waiting_on(store, racers)
    return sorted((p.wait(60), *p.communicate()) for p in racers)
