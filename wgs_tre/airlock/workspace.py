"""Reading a project's workspace for the airlock: the workspace is the researchers' to change
while the airlock (running as root, outside the session) reads it, so a file is taken only
through the workspace, without following a link on the way, and hashed before and after it is
copied; and the checks of the free text people give (purposes, justifications, comments)."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from wgs_tre.errors import AccessRefused, InvalidInput, Reason

__all__ = ["MAX_TEXT", "checked_text", "copy_checked", "in_workspace", "open_in", "sha256_of"]

MAX_TEXT = 4000  # characters in a purpose, a justification or a comment


def checked_text(
    where: str, text: str, *, required: bool, reader: str = "the stewards who review it"
) -> str:
    """``text`` stripped; refused if empty when ``required``, or longer than ``MAX_TEXT``."""
    text = text.strip()
    if required and not text:
        raise InvalidInput(where, f"is empty: say why, for {reader}")
    if len(text) > MAX_TEXT:
        raise InvalidInput(where, f"{len(text)} characters; at most {MAX_TEXT}")
    return text


def in_workspace(workspace: Path, path: Path | str, ref: str) -> tuple[Path, str]:
    """The real file ``path`` names (relative to the workspace, or absolute) and its name in
    the workspace; refused if it, or any link on the way, leads outside the workspace."""
    root = workspace.resolve()
    candidate = Path(path)
    candidate = candidate if candidate.is_absolute() else root / candidate
    real = candidate.resolve()  # follows every symbolic link
    if not real.is_relative_to(root):
        raise AccessRefused(Reason.OUTSIDE_WORKSPACE, f"{path} (output request {ref})")
    if not real.is_file():
        raise InvalidInput(str(path), "is not a file in the project's workspace")
    return real, real.relative_to(root).as_posix()


def open_in(root: Path, name: str, ref: str) -> BinaryIO:
    """Open the workspace file ``name`` (as stored: its real path in the workspace) without
    following a link anywhere on the way. Each directory is opened from the one before with
    ``O_NOFOLLOW``, so a directory or file swapped for a link after the path was checked is
    refused, not followed: the CLI runs as root over a directory the researcher controls."""
    parts = PurePosixPath(name).parts
    if not parts or any(part in (".", "..", "/") for part in parts):
        raise AccessRefused(Reason.OUTSIDE_WORKSPACE, f"{name} (output request {ref})")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        here = os.open(root, flags | os.O_DIRECTORY)
        try:
            for part in parts[:-1]:
                below = os.open(part, flags | os.O_DIRECTORY, dir_fd=here)
                os.close(here)
                here = below
            # O_NONBLOCK: a FIFO put there opens at once (and is refused below), never hangs
            fd = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=here)
        finally:
            os.close(here)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link where a directory or file was
            raise AccessRefused(
                Reason.OUTSIDE_WORKSPACE, f"{name} (output request {ref})"
            ) from None
        raise InvalidInput(
            name, f"cannot be read in the project's workspace: {exc.strerror}"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidInput(name, "is not a file in the project's workspace")
    return os.fdopen(fd, "rb")


def copy_checked(source: BinaryIO, target: Path, name: str) -> tuple[int, str]:
    """Copy the open ``source`` to ``target``; the file's SHA-256 before copying must be the
    copy's, or it changed while it was copied."""
    before = sha256_of(source)
    source.seek(0)
    with target.open("xb") as writing:
        shutil.copyfileobj(source, writing)
        writing.flush()
        os.fsync(writing.fileno())
    with target.open("rb") as copied:
        after = sha256_of(copied)
    if after != before:
        raise InvalidInput(name, "changed while it was copied: submit again")
    return target.stat().st_size, after


def sha256_of(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()
