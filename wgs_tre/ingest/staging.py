"""Staging directories: write aside, then move into place while registering.

An ingest writes into ``root/<dataset>/.ingest-<tag>`` and, inside the registering transaction,
renames it to ``root/<dataset>/v<N>-<tag>``. Beside it, the lock file ``.ingest-<tag>.lock`` is
held (``fcntl.flock``, exclusive) by the ingesting process from before the staging directory
exists until after the version is registered or the directory removed. The kernel drops the lock
when the process ends, however it ends (``kill -9`` included), so whatever carries a tag whose
lock nobody holds belongs to no live ingest: a staging directory, a version directory that was
never registered, a lock file left behind. :func:`sweep` finds those (and, told what is
registered, a dataset directory they alone fill) and removes them; :func:`staging` sweeps its
dataset before it starts, and ``wgs-tre store check`` sweeps them all.

A tag is only ever judged with its lock held by the judge (:class:`_Claim`), and what is
registered is read after that, so an ingest that is still running, or one that registers its
version meanwhile, is never taken for an orphan.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = ["Orphan", "OrphanKind", "Staging", "Sweep", "staging", "sweep"]

_STAGING = re.compile(r"^\.ingest-([0-9a-f]{8})$")
_LOCK = re.compile(r"^\.ingest-([0-9a-f]{8})\.lock$")
_VERSION = re.compile(r"^v[0-9]+-([0-9a-f]{8})$")

Registered = Callable[[], set[str]]  # resolved paths of the registered versions, read when asked


def _lock_path(parent: Path, tag: str) -> Path:
    return parent / f".ingest-{tag}.lock"


class Staging:
    """A hidden directory under ``root/name`` that becomes ``root/name/v<N>-<tag>``."""

    def __init__(self, root: Path, name: str, tag: str) -> None:
        self.tag = tag
        self.parent = root / name
        self.path = self.parent / f".ingest-{tag}"
        self.final: Path | None = None

    def place(self, version: int) -> Path:
        """Move the staged files to their final location (called inside the registration)."""
        self.final = self.parent / f"v{version}-{self.tag}"
        self.path.rename(self.final)
        return self.final


def _same_file(fd: int, path: Path) -> bool:
    """Is ``fd`` still the file at ``path`` (a sweep may have unlinked it)?"""
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _hold_new_tag(parent: Path) -> tuple[str, int]:
    """A fresh tag and the open, exclusively locked descriptor of its new lock file."""
    for _ in range(100):
        tag = secrets.token_hex(4)  # 8 hex digits, as the patterns above expect
        path = _lock_path(parent, tag)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        except FileNotFoundError:  # a refused ingest removed the empty dataset directory
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a sweep is judging it (and will remove it): another tag
            os.close(fd)
            continue
        if _same_file(fd, path):
            os.write(fd, f"{os.getpid()}\n".encode())  # for people; the lock is what counts
            return tag, fd
        os.close(fd)  # a sweep removed it between our open and our lock: another tag
    raise RuntimeError(f"could not create a staging lock in {parent}")


def _release(parent: Path, tag: str, fd: int) -> None:
    """Remove the lock file, then drop the lock. In that order: whoever waited for the lock and
    gets it next finds the path gone or another file there, and knows it lost (``_same_file``)."""
    with contextlib.suppress(FileNotFoundError):
        _lock_path(parent, tag).unlink()
    os.close(fd)


@contextmanager
def staging(root: Path, name: str, *, registered: Registered | None = None) -> Iterator[Staging]:
    """A staging directory, removed (with anything moved into place) if the block fails, and
    with it the dataset's directory (and ``root``) if they were made for it and are empty: a
    refused ingest leaves the store as it found it. Before it starts, what stale ingests of the
    dataset left is removed (``registered`` tells which version directories are registered;
    without it they are left alone)."""
    sweep(root / name, registered=registered, fix=True)
    made = [d for d in (root, root / name) if not d.exists()]
    # Raw data: only the TRE's own account may enter (sessions read dispensals, never this).
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    (root / name).mkdir(mode=0o700, exist_ok=True)
    tag, fd = _hold_new_tag(root / name)
    stage = Staging(root, name, tag)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage.path, ignore_errors=True)
        if stage.final is not None:
            shutil.rmtree(stage.final, ignore_errors=True)
        _release(stage.parent, tag, fd)
        for directory in reversed(made):
            with contextlib.suppress(OSError):  # not empty: another ingest is using it
                directory.rmdir()
        raise
    _release(stage.parent, tag, fd)


class OrphanKind(StrEnum):
    STAGING = "staging directory"
    UNREGISTERED = "unregistered version directory"
    LOCK = "lock file"
    EMPTY = "empty dataset directory"


@dataclass(frozen=True)
class Orphan:
    """Something under the datasets directory that no live ingest and no registered version
    owns. ``removed`` says whether this sweep removed it."""

    dataset: str
    kind: OrphanKind
    path: Path
    size_bytes: int
    removed: bool


@dataclass(frozen=True)
class Sweep:
    """What a sweep found: the orphans, and how many ingests in progress it left alone."""

    orphans: list[Orphan]
    in_progress: int


class _Claim:
    """A sweep's hold on one tag: ``take()`` locks its lock file (made if missing) unless a
    process holds it; while held, no ingest of that tag is alive or can start."""

    def __init__(self, parent: Path, tag: str) -> None:
        self.parent, self.tag = parent, tag
        self.path = _lock_path(parent, tag)
        self.existed = self.path.exists()
        self.fd: int | None = None

    def take(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        except FileNotFoundError:  # the dataset directory went away meanwhile
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a live ingest (or another sweep) holds it
            os.close(fd)
            return False
        if not _same_file(fd, self.path):  # another sweep removed it meanwhile
            os.close(fd)
            return False
        self.fd = fd
        return True

    def close(self, *, remove: bool) -> None:
        """Drop the lock; remove the lock file first if asked, or if the claim created it."""
        if self.fd is None:
            return
        if remove or not self.existed:
            _release(self.parent, self.tag, self.fd)
        else:
            os.close(self.fd)
        self.fd = None


def _size(path: Path) -> int:
    if not path.is_dir():
        return path.stat().st_size if path.exists() else 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def sweep(parent: Path, *, registered: Registered | None = None, fix: bool = False) -> Sweep:
    """Find (and with ``fix`` remove) what dead ingests left in one dataset directory.

    Staging directories and lock files of tags no process holds are orphans; so are version
    directories of such tags that are not registered, and the dataset directory itself if only
    orphans fill it and no registered version lives in it, when ``registered`` is given.
    """
    try:
        entries = sorted(parent.iterdir())
    except FileNotFoundError:
        return Sweep([], 0)
    known = set(registered()) if registered is not None else set()
    tags: set[str] = set()
    for entry in entries:
        for pattern in (_STAGING, _LOCK):
            if match := pattern.match(entry.name):
                tags.add(match[1])
        match = _VERSION.match(entry.name)
        if match and registered is not None and str(entry.resolve()) not in known:
            tags.add(match[1])
    claims = {tag: _Claim(parent, tag) for tag in sorted(tags)}
    held = {tag for tag, claim in claims.items() if claim.take()}
    try:
        # Read what is registered only now: a version registered before its lock was dropped
        # is in this answer, and no version of a held tag can be registered until we let go.
        known = set(registered()) if registered is not None else set()
        found: list[tuple[OrphanKind, Path]] = []
        with_data: set[str] = set()  # held tags whose lock goes with a directory found here
        for entry in entries:
            match = _STAGING.match(entry.name) or _VERSION.match(entry.name)
            if match is None or match[1] not in held:
                continue
            if _STAGING.match(entry.name):
                found.append((OrphanKind.STAGING, entry))
            elif registered is not None and str(entry.resolve()) not in known:
                found.append((OrphanKind.UNREGISTERED, entry))
            else:
                continue
            with_data.add(match[1])
        found += [
            (OrphanKind.LOCK, claims[tag].path)
            for tag in sorted(held - with_data)
            if claims[tag].existed
        ]
        orphans = [_judge(parent, kind, path, fix) for kind, path in found]
    finally:
        for tag in held:
            claims[tag].close(remove=fix)
    live = len(tags) - len(held)
    rest = {e for e in entries if e.exists()} if fix else set(entries)
    rest -= {o.path for o in orphans} | {claims[tag].path for tag in with_data}
    if registered is not None and not rest and not live and not _holds_registered(parent, known):
        orphans.append(_judge(parent, OrphanKind.EMPTY, parent, fix))
    return Sweep(orphans, live)


def _holds_registered(parent: Path, known: set[str]) -> bool:
    prefix = str(parent.resolve()) + os.sep
    return any(path.startswith(prefix) for path in known)


def _judge(parent: Path, kind: OrphanKind, path: Path, fix: bool) -> Orphan:
    size = 0 if kind is OrphanKind.EMPTY else _size(path)  # its orphans count their own
    if fix:
        if kind is OrphanKind.EMPTY:
            with contextlib.suppress(OSError):  # an ingest started meanwhile: leave it
                path.rmdir()
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return Orphan(parent.name, kind, path, size, fix and not path.exists())
