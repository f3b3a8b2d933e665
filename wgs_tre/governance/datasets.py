"""Datasets: named, versioned, immutable releases registered by a steward with checksums.

A version records a manifest (every file's SHA-256 and size) and a checksum over the manifest, so
``verify_version`` can later prove the files on disk are the ones that were registered.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy.exc
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from wgs_tre.errors import InvalidInput, InvalidTransition, NotFound
from wgs_tre.governance.context import Context
from wgs_tre.governance.views import DatasetVersionView, effective_state
from wgs_tre.store.models import (
    Approval,
    Dataset,
    DatasetRetirement,
    DatasetVersion,
    Participant,
    dataset_participant,
)
from wgs_tre.types import Action, DatasetKind

__all__ = [
    "build_manifest",
    "check_name",
    "get_version",
    "list_versions",
    "manifest_checksum",
    "register_version",
    "retire_version",
    "show_version",
    "verify_version",
    "version_locations",
]

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_CHUNK = 1 << 20


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(
    root: Path, progress: Callable[[int], None] | None = None
) -> dict[str, dict[str, Any]]:
    """``{relative path: {"sha256": ..., "size": ...}}`` for a file or every file under a dir."""
    if not root.exists():
        raise InvalidInput(str(root), "no such file or directory")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    if not files:
        raise InvalidInput(str(root), "directory holds no files")
    manifest: dict[str, dict[str, Any]] = {}
    for path in files:
        name = path.name if path == root else path.relative_to(root).as_posix()
        size = path.stat().st_size
        manifest[name] = {"sha256": _sha256_file(path), "size": size}
        if progress:
            progress(size)
    return manifest


def manifest_checksum(manifest: dict[str, dict[str, Any]]) -> str:
    body = orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(body).hexdigest()


def check_name(name: str) -> None:
    """Refuse a name datasets may not have (it also names the directory an ingest writes)."""
    if not NAME.match(name):
        raise InvalidInput(
            f"dataset name {name!r}", "use lower-case letters, digits, '.', '_' or '-'"
        )


def parse_label(label: str) -> tuple[str, int | None]:
    """``name@3`` -> ("name", 3); ``name`` -> ("name", None) meaning the latest version."""
    name, _, version = label.partition("@")
    if not version:
        return name, None
    if not version.isdigit():
        raise InvalidInput(f"dataset {label!r}", "version must be a number, as in name@2")
    return name, int(version)


def get_version(session: Session, label: str, *, in_use: bool = False) -> DatasetVersion:
    """The version ``label`` names (``name`` alone: the latest). ``in_use``: for a new use
    (an application), so ``name`` means the latest version not retired, and naming a retired
    one is refused with when and why it was retired."""
    name, version = parse_label(label)
    query = select(DatasetVersion).join(Dataset).where(Dataset.name == name)
    if version is None:
        if in_use:
            query = query.where(~DatasetVersion.retirement.has())
        query = query.order_by(DatasetVersion.version.desc()).limit(1)
    else:
        query = query.where(DatasetVersion.version == version)
    found = session.scalar(query)
    if found is None:
        raise NotFound("dataset version" if version or not in_use else "usable version", label)
    if in_use and found.retirement is not None:
        raise InvalidInput(f"dataset {label!r}", retirement(found))
    return found


def retirement(version: DatasetVersion) -> str:
    """ "retired on 2026-12-01: <reason>" for a retired version."""
    assert version.retirement is not None
    retired = version.retirement
    return f"retired on {retired.retired_at.date().isoformat()}: {retired.reason}"


def retire_version(ctx: Context, label: str, reason: str) -> DatasetVersionView:
    """Retire one version (``name@N``): no new application may name it and no session may
    read it from now on; its record, files and audit history stay. It cannot be undone: a
    corrected release is a new version."""
    _, number = parse_label(label)
    if number is None:
        raise InvalidInput(f"dataset {label!r}", "name the version to retire, as in name@2")
    if not reason.strip():
        raise InvalidInput("reason", "say why the version is retired (researchers see it)")
    with ctx.transaction(Action.DATASET_RETIRE, dataset=label) as tx:
        version = get_version(tx.session, label)
        already_retired = InvalidTransition(f"dataset version {label}", "retired", "retire", ())
        if version.retirement is not None:
            raise already_retired
        version.retirement = DatasetRetirement(
            retired_at=tx.now, retired_by=tx.user.id, reason=reason.strip()
        )
        try:
            tx.session.flush()
        except sqlalchemy.exc.IntegrityError:
            # Another steward retired it after we read it (PostgreSQL reads do not wait for
            # writers): the version's retirement row exists, its key refuses a second one.
            raise already_retired from None
        tx.audit(f"retired {label}", details={"reason": version.retirement.reason})
        return DatasetVersionView.of(version)


def register_version(
    ctx: Context,
    name: str,
    path: Path,
    *,
    kind: str | None = None,
    description: str = "",
    manifest: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[int], None] | None = None,
    participants: Sequence[str] = (),
    place: Callable[[int], Path] | None = None,
) -> DatasetVersionView:
    """Register the files at ``path`` as the next version of dataset ``name``.

    ``manifest`` may be passed by an ingest that already hashed what it wrote; ``participants``
    are the internal ids whose data the version holds. ``place(version)``, if given, moves the
    files to their final location inside the registering transaction and returns it, so a
    version is never visible before its files are in place.
    """
    check_name(name)
    ctx.check(Action.DATASET_REGISTER)
    path = path.resolve()
    manifest = manifest if manifest is not None else build_manifest(path, progress)
    with ctx.transaction(Action.DATASET_REGISTER, dataset=name) as tx:
        dataset = tx.session.scalar(select(Dataset).where(Dataset.name == name))
        if dataset is None:
            if kind is None:
                raise InvalidInput(f"dataset {name!r}", "a new dataset needs a kind")
            known = DatasetKind.parse(kind, where=f"dataset {name!r}")
            dataset = Dataset(name=name, kind=known, description=description, created_at=tx.now)
            tx.session.add(dataset)
            tx.session.flush()
        elif kind is not None and kind != dataset.kind:
            raise InvalidInput(f"dataset {name!r}", f"is of kind {dataset.kind}, not {kind}")
        latest = tx.session.scalar(
            select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == dataset.id)
        )
        number = (latest or 0) + 1
        location = place(number) if place else path
        version = DatasetVersion(
            dataset=dataset,
            version=number,
            uri=str(location),
            checksum=manifest_checksum(manifest),
            manifest=manifest,
            size_bytes=sum(entry["size"] for entry in manifest.values()),
            registered_by=tx.user.id,
            registered_at=tx.now,
        )
        tx.session.add(version)
        tx.session.flush()
        _record_participants(tx.session, version.id, participants)
        tx.dataset = version.label
        tx.audit(
            f"registered {version.label} ({len(manifest)} files)",
            details={"checksum": version.checksum, "size_bytes": version.size_bytes},
        )
        return DatasetVersionView.of(version)


def _record_participants(session: Session, version_id: int, participants: Sequence[str]) -> None:
    if not participants:
        return
    known = set(session.scalars(select(Participant.id).where(Participant.id.in_(participants))))
    new = [{"id": p} for p in participants if p not in known]
    if new:
        session.execute(insert(Participant), new)
    session.execute(
        insert(dataset_participant),
        [{"dataset_version_id": version_id, "participant_id": p} for p in participants],
    )


def list_versions(ctx: Context) -> list[DatasetVersionView]:
    with ctx.transaction(Action.DATASET_LIST, audited=False) as tx:
        rows = tx.session.scalars(
            select(DatasetVersion).join(Dataset).order_by(Dataset.name, DatasetVersion.version)
        )
        return [DatasetVersionView.of(v) for v in rows]


@dataclass(frozen=True)
class DatasetVersionDetail:
    """One version as ``datasets show`` gives it: the version, its manifest (file -> bytes and
    SHA-256), how many participants it holds, and, for those who may see every project, the
    approvals that cover it."""

    version: DatasetVersionView
    manifest: dict[str, dict[str, Any]]
    participants: int
    approvals: list[dict[str, str]] | None


def show_version(ctx: Context, label: str) -> DatasetVersionDetail:
    with ctx.transaction(Action.DATASET_LIST, audited=False) as tx:
        version = get_version(tx.session, label)
        participants = tx.session.scalar(
            select(func.count())
            .select_from(dataset_participant)
            .where(dataset_participant.c.dataset_version_id == version.id)
        )
        approvals = None
        if ctx.policies.roles.allows(tx.user.roles, Action.PROJECT_READ_ALL):
            covering = tx.session.scalars(
                select(Approval)
                .where(Approval.dataset_versions.contains(version))
                .order_by(Approval.id)
            )
            approvals = [
                {"project": a.project.slug, "state": effective_state(a, tx.now).value}
                for a in covering
            ]
        return DatasetVersionDetail(
            DatasetVersionView.of(version), dict(version.manifest), participants or 0, approvals
        )


def version_locations(
    ctx: Context, *, action: Action = Action.DATASET_LIST, name: str | None = None
) -> set[str]:
    """Where the registered versions (of dataset ``name``, or of every dataset) live, as
    resolved paths: what an ingest or ``store check`` must never take for an orphan. Decided
    as ``action`` (the operation asking), not audited."""
    with ctx.transaction(action, audited=False) as tx:
        query = select(DatasetVersion.uri)
        if name is not None:
            query = query.join(Dataset).where(Dataset.name == name)
        return {str(Path(uri).resolve()) for uri in tx.session.scalars(query)}


def verify_version(ctx: Context, label: str) -> list[str]:
    """Re-hash a version's files; return the problems found (empty when intact)."""
    with ctx.transaction(Action.DATASET_LIST, audited=False) as tx:
        version = get_version(tx.session, label)
        expected, root = version.manifest, Path(version.uri)
    try:
        actual = build_manifest(root)
    except InvalidInput as exc:
        return [exc.message]
    problems = [f"{name}: missing" for name in expected if name not in actual]
    problems += [
        f"{name}: not in the registered version" for name in actual if name not in expected
    ]
    problems += [
        f"{name}: contents changed"
        for name, entry in expected.items()
        if name in actual and actual[name]["sha256"] != entry["sha256"]
    ]
    return problems
