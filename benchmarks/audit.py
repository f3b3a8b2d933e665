"""Audit log throughput: append rate and verify rate, against targets and a raw-SQLite baseline.

Targets (issues 3 and 12): append >= 5,000 events/s on SQLite, each event in its own transaction
(``wgs_tre.audit.record``, the path of standalone events such as access decisions); verify
>= 1,000,000 events/s (issue 12; it was 200,000). On SQLite verify checks the chain inside
SQLite with the extension scripts/install builds (the line says whether it was there). Beside the
verify rate, the ceiling of a verifier that hashes in Python: SHA-256 alone over the same events'
canonical bytes (read beforehand, not timed) with ``hashlib``, times the CPUs. Also shown: an
append inside an ORM session, the path of governance operations, whose session costs more than
the append itself.
The baseline is plain ``sqlite3`` doing one INSERT + COMMIT per row with the same pragmas: the
floor any chained log on SQLite pays. ``--postgres``: PostgreSQL (fsync on) too, whose target
is >= 2,000 events/s from 8 writer processes at once (issue 12), the chain verified whole and
unforked after; its other lines are for information.

Usage: .venv/bin/python benchmarks/audit.py [--appends N] [--chain N] [--postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import multiprocessing
import operator
import os
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wgs_tre.audit import append, chain_ext, head, record, verify_store
from wgs_tre.audit.chain import FIELDS
from wgs_tre.audit.checkpoint import append_to_file, sign_head
from wgs_tre.store import Store
from wgs_tre.types import Action

APPEND_TARGET, VERIFY_TARGET, CHECKPOINT_TARGET_MS = 5_000, 1_000_000, 5
CONCURRENT_TARGET = 2_000  # PostgreSQL, 8 writers, fsync on (issue 12)
NOW = dt.datetime.now(dt.UTC)


EVENT: dict[str, Any] = {
    "actor": "researcher1",
    "action": Action.DATA_ACCESS,
    "project": "brca-study",
    "dataset": "cohort@3",
    "reason": "approved use",
}


def append_rate(store: Store, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        record(store, details={"rows": i}, **EVENT)
    return n / (time.perf_counter() - start)


def session_append_rate(store: Store, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        with store.session() as session:
            append(session, details={"rows": i}, **EVENT)
    return n / (time.perf_counter() - start)


def fill(store: Store, n: int, batch: int = 5_000) -> None:
    done = 0
    while done < n:
        with store.session() as session:
            for i in range(min(batch, n - done)):
                append(
                    session, actor="svc", action=Action.DATA_ACCESS, reason="bulk", details={"i": i}
                )
        done += batch


def verify_rate(store: Store) -> tuple[float, int]:
    start = time.perf_counter()
    report = verify_store(store)
    elapsed = time.perf_counter() - start
    assert report.ok, report.summary()
    return report.events / elapsed, report.events


def hash_ceiling(store: Store) -> float:
    """Events/s of SHA-256 alone over every event's canonical bytes, on one CPU: no verifier that
    hashes each event with ``hashlib`` goes faster per CPU."""
    with store.engine.connect() as conn:
        cursor = conn.connection.cursor()
        cursor.execute(f"SELECT {', '.join(FIELDS)} FROM audit_event ORDER BY seq")
        documents = [orjson.dumps(dict(zip(FIELDS, row, strict=True))) for row in cursor]
    start = time.perf_counter()
    digests = list(map(operator.methodcaller("hexdigest"), map(hashlib.sha256, documents)))
    elapsed = time.perf_counter() - start
    assert len(digests) == len(documents)
    return len(documents) / elapsed


def _append_for(url: str, seconds: float) -> int:
    store = Store(url)
    count, stop = 0, time.perf_counter() + seconds
    while time.perf_counter() < stop:
        record(store, details={"rows": count}, **EVENT)
        count += 1
    store.dispose()
    return count


def concurrent_append_rate(store: Store, writers: int, seconds: float = 10) -> float:
    """Events/s with ``writers`` processes each appending one event per transaction; the chain
    must stay whole (verified after)."""
    url = store.url.render_as_string(hide_password=False)
    before = verify_store(store).events
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(writers, mp_context=spawn) as pool:
        counts = list(pool.map(_append_for, [url] * writers, [seconds] * writers))
    report = verify_store(store)
    assert report.ok and report.events == before + sum(counts), report.summary()
    return sum(counts) / seconds


def checkpoint_times(store: Store, n: int = 200) -> list[float]:
    """Milliseconds to sign the head (read it, sign, append to the file outside the database,
    fsync), without the audit event the CLI adds (an append, measured above)."""
    private = Ed25519PrivateKey.generate()
    times = []
    with tempfile.TemporaryDirectory() as tmp, store.session() as session:
        for _ in range(n):
            start = time.perf_counter()
            seq, digest = head(session)
            append_to_file(Path(tmp) / "checkpoints.jsonl", sign_head(private, seq, digest, NOW))
            times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def raw_sqlite_rate(path: Path, n: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, actor TEXT, action TEXT, hash TEXT)")
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, 'steward1', 'dataset.open', ?)", (i, "0" * 64))
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - start)
    conn.close()
    return rate


def run(label: str, url: str, args: argparse.Namespace, baseline: float | None) -> None:
    store = Store(url)
    store.upgrade()
    appends = append_rate(store, args.appends)
    in_session = session_append_rate(store, args.appends // 4)
    fill(store, args.chain - args.appends - args.appends // 4)
    verifies, events = verify_rate(store)
    ceiling = hash_ceiling(store) * (os.cpu_count() or 1)
    signing = checkpoint_times(store)
    by_writers = {n: concurrent_append_rate(store, n, args.seconds) for n in (1, args.writers)}
    store.dispose()
    # The single-writer append and verify targets are SQLite's (the embedded default); on
    # PostgreSQL the target is the concurrent append rate below.
    sqlite = label == "sqlite"
    ok = "PASS" if appends >= APPEND_TARGET else "FAIL"
    ratio = f" ({appends / baseline:.2f}x raw sqlite3)" if baseline else ""
    verdict = f"target {APPEND_TARGET:,}  {ok}{ratio}" if sqlite else "(info)"
    print(f"{label:<11} append {appends:>10,.0f} events/s  {verdict}")
    print(f"{label:<11} append {in_session:>10,.0f} events/s  inside an ORM session (information)")
    ok = "PASS" if verifies >= VERIFY_TARGET else "FAIL"
    where = ""
    if sqlite:
        where = ", in SQLite" if chain_ext.available() else ", extension NOT built: in Python"
    verdict = f"target {VERIFY_TARGET:,}  {ok}" if sqlite else "(info)"
    print(f"{label:<11} verify {verifies:>10,.0f} events/s  {verdict}  ({events:,} events{where})")
    print(
        f"{label:<11} hash   {ceiling:>10,.0f} events/s  SHA-256 alone over the same bytes, "
        f"x {os.cpu_count()} CPUs: the ceiling of hashing in Python"
    )
    for n, rate in by_writers.items():
        target = CONCURRENT_TARGET if n == args.writers and not sqlite else None
        verdict = (
            f"target {target:,}  {'PASS' if rate >= target else 'FAIL'}" if target else "(info)"
        )
        print(f"{label:<11} append {rate:>10,.0f} events/s  {n} writer process(es)  {verdict}")
    median, worst = signing[len(signing) // 2], signing[-1]
    ok = "PASS" if median < CHECKPOINT_TARGET_MS else "FAIL"
    print(
        f"{label:<11} checkpoint {median:>6.2f} ms median, {worst:.2f} ms worst (sign the head, "
        f"fsync to the file)  target < {CHECKPOINT_TARGET_MS} ms  {ok}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=20_000, help="single-event transactions")
    parser.add_argument("--chain", type=int, default=500_000, help="chain length to verify")
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL (fsync on)")
    parser.add_argument("--writers", type=int, default=8, help="concurrent writer processes")
    parser.add_argument("--seconds", type=float, default=10, help="for each concurrent run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = raw_sqlite_rate(Path(tmp) / "raw.db", args.appends)
        print(f"{'baseline':<11} append {baseline:>10,.0f} rows/s    raw sqlite3, 1 row per commit")
        run("sqlite", f"sqlite:///{tmp}/governance.db", args, baseline)
    if args.postgres:
        from tests.postgres import PostgresServer

        server = PostgresServer.start(fsync=True)  # commits as production makes them
        try:
            run("postgresql", server.url(), args, None)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
