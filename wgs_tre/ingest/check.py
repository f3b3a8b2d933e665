"""``wgs-tre store check``: what interrupted or refused ingests left under the datasets
directory, found and, with ``fix``, removed; audited as ``store.check``.

What counts as an orphan, and how an ingest in progress is told apart (its staging lock is
held), is :mod:`wgs_tre.ingest.staging`'s to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from wgs_tre.governance.context import Context
from wgs_tre.governance.datasets import version_locations
from wgs_tre.ingest.staging import Orphan, sweep
from wgs_tre.types import Action

__all__ = ["StoreCheck", "check_store", "plural"]


@dataclass(frozen=True)
class StoreCheck:
    """The orphans found under ``root``, how many were removed and their size in bytes, and how
    many ingests in progress were left alone."""

    root: Path
    fix: bool
    orphans: list[Orphan]
    removed: int
    size_bytes: int
    in_progress: int


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def check_store(ctx: Context, root: Path, *, fix: bool = False) -> StoreCheck:
    """Sweep every dataset directory under ``root`` (see :func:`~wgs_tre.ingest.staging.sweep`);
    remove the orphans if ``fix``. The audit event records the counts, never the paths."""
    ctx.check(Action.STORE_CHECK)
    registered = partial(version_locations, ctx, action=Action.STORE_CHECK)
    orphans: list[Orphan] = []
    in_progress = 0
    parents = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for parent in parents:
        found = sweep(parent, registered=registered, fix=fix)
        orphans += found.orphans
        in_progress += found.in_progress
    removed = sum(o.removed for o in orphans)
    size = sum(o.size_bytes for o in orphans)
    reason = f"{plural(len(orphans), 'orphan')} ({size} bytes)"
    if fix:
        reason += f", {removed} removed"
    if in_progress:
        reason += f"; {plural(in_progress, 'ingest')} in progress left alone"
    with ctx.transaction(Action.STORE_CHECK) as tx:
        tx.audit(
            reason,
            details={"fix": fix, "orphans": len(orphans), "removed": removed,
                     "size_bytes": size, "in_progress": in_progress},
        )  # fmt: skip
    return StoreCheck(root, fix, orphans, removed, size, in_progress)
