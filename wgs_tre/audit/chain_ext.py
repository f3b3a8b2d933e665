"""The SQLite extension that checks the audit chain inside SQLite (``chain_sqlite.c``).

Reading each event out of SQLite into Python costs more than a million events a second allows,
so the verifier's fast pass on SQLite runs in C: an aggregate, ``audit_chain_prefix``, that
SQLite feeds every event of a range and that returns how many leading events verify. It is
compiled on the machine by ``scripts/install`` (:func:`ensure_built`; gcc, SQLite's and OpenSSL's
headers), next to its source. Without it (not built, or older than its
source) the verifier uses its Python bulk pass: slower, same verdicts.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path

__all__ = ["LIBRARY", "SOURCE", "available", "build", "ensure_built", "load"]

SOURCE = Path(__file__).with_name("chain_sqlite.c")
# SQLite derives the entry point from the file name: sqlite3_chainsqlite_init.
LIBRARY = SOURCE.with_suffix(".so")


def available() -> bool:
    """Built, from the current source, and loadable by this Python's sqlite3."""
    return (
        hasattr(sqlite3.Connection, "enable_load_extension")
        and LIBRARY.exists()
        and LIBRARY.stat().st_mtime >= SOURCE.stat().st_mtime
    )


def load(connection: sqlite3.Connection) -> bool:
    """Register ``audit_chain_prefix`` on ``connection``; False if the extension is unavailable.

    Loading is switched on only for this call: SQL itself can never load a library.
    """
    if not available():
        return False
    connection.enable_load_extension(True)
    try:
        connection.load_extension(str(LIBRARY))
    finally:
        connection.enable_load_extension(False)
    return True


def build() -> Path:
    """Compile the extension next to its source (replacing it whole: running verifiers keep the
    library they loaded)."""
    with tempfile.NamedTemporaryFile(dir=LIBRARY.parent, suffix=".so", delete=False) as out:
        partial = Path(out.name)
    try:
        command = ["gcc", "-O2", "-Wall", "-Werror", "-fPIC", "-shared", str(SOURCE)]
        subprocess.run([*command, "-o", str(partial), "-lcrypto"], check=True)
        partial.chmod(0o755)  # session accounts load it too
        os.replace(partial, LIBRARY)
    finally:
        partial.unlink(missing_ok=True)
    return LIBRARY


def ensure_built() -> None:
    """Build the extension unless an up-to-date one is there (scripts/install)."""
    if not available():
        print(f"==> compiling {LIBRARY.name}, the audit verifier's SQLite extension", flush=True)
        build()
