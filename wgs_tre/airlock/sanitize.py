"""The airlock's file sanitizer (issue 17, item 4): every file crossing the airlock, either way.

:func:`sanitize` reads a file, decides its type by content (libmagic, :mod:`.filetypes`), and
refuses it when that type is not allowed in the direction (``policies/files.yaml``), when its
name says something else than its content (an executable called ``table.csv``), or when it is
larger than the direction allows. A file that passes is written, cleaned, to a new file:

- images (PNG, JPEG, GIF, TIFF, WebP) encoded again from their pixels, without EXIF (GPS
  included), XMP, text chunks, comments or ICC profile (:mod:`.metadata`);
- PDFs without document information, XMP, JavaScript, attachments or actions; encrypted PDFs
  refused (:mod:`.metadata`);
- SVG drawings refused if they hold scripts, event handlers, links out or HTML
  (:mod:`.documents`);
- notebooks without outputs and execution counts (unless ``keep_outputs``: the outputs are
  what is reviewed), and without widget state and other metadata (:mod:`.documents`);
- archives inspected member by member, without unpacking (:mod:`.archives`);
- text (CSV, TSV, code, JSON) must be UTF-8, a Parquet file must have its footer.

The input is never changed. The output is written under a temporary name in its directory and
renamed into place, so an interruption leaves no half-written file under the output's name.
Refusals are :class:`~wgs_tre.errors.AccessRefused` with a reason code (the type, the name, the
size, an unsafe archive, active content, encryption); a file that is not what it claims to be
(a damaged PNG, an invalid notebook) is :class:`~wgs_tre.errors.InvalidInput`. Both name the
file and say what to do.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import pyarrow.parquet as pq

from wgs_tre.airlock.archives import inspect_archive
from wgs_tre.airlock.documents import check_svg, clean_notebook
from wgs_tre.airlock.filepolicy import Direction, FilePolicy
from wgs_tre.airlock.filetypes import (
    ARCHIVES,
    HEAD,
    IMAGES,
    TEXTS,
    FileType,
    contradicts,
    describe,
    detect,
    suffixes,
    utf8_problem,
)
from wgs_tre.airlock.metadata import clean_image, clean_pdf
from wgs_tre.errors import AccessRefused, InvalidInput, Reason

__all__ = ["Sanitized", "sanitize"]

_BLOCK = 1 << 20


@dataclass(frozen=True)
class Sanitized:
    """A file that may cross: where its cleaned copy is, what it is, and what was done."""

    path: Path  # the cleaned copy
    mime: FileType  # its type, by content
    actions: tuple[str, ...]  # what was removed or checked, in plain words
    size: int
    sha256: str  # of the cleaned copy
    needs_approval: bool  # ingress, and policies/files.yaml wants a steward's approval


def sanitize(
    path: Path,
    *,
    direction: Direction,
    out: Path,
    policy: FilePolicy | None = None,
    keep_outputs: bool = False,
    name: str | None = None,
) -> Sanitized:
    """Check the file at ``path`` for crossing the airlock in ``direction`` and write its
    cleaned copy to ``out`` (a new file, or an existing directory to put it in under its own
    name). ``policy``: ``policies/files.yaml`` (default: its defaults); ``keep_outputs``: a
    notebook's outputs are the reviewed object; ``name``: the file as the researcher knows it
    (default: the path's name), used for its type and in messages."""
    direction = Direction(direction)
    policy = policy if policy is not None else FilePolicy()
    rules = policy.rules(direction)
    name = name or path.name
    target = Path(out) / PurePosixPath(name).name if Path(out).is_dir() else Path(out)
    if target.exists() or target.is_symlink():
        raise InvalidInput(str(target), "already exists: the cleaned copy goes to a new file")
    with _open(path, name) as source:
        size = os.fstat(source.fileno()).st_size
        if size == 0:
            raise InvalidInput(name, "is empty")
        if size > rules.max_file_size:
            raise AccessRefused(
                Reason.FILE_TOO_LARGE,
                f"{name}: {_mib(size)}; at most {_mib(rules.max_file_size)} may "
                f"{direction.crossing}: make it smaller or split it",
            )
        head = source.read(HEAD)
        source.seek(max(size - 4, 0))
        mime = detect(head, source.read(4))
        source.seek(0)
        _check_type(name, mime, rules.allow, direction)
        kind = FileType(mime)
        actions, blocks = _process(source, size, name, kind, direction, policy, keep_outputs)
        written, digest = _write(target, blocks)
    return Sanitized(
        path=target,
        mime=kind,
        actions=tuple(actions),
        size=written,
        sha256=digest,
        needs_approval=direction is Direction.INGRESS and policy.ingress_needs_approval,
    )


def _process(
    source: BinaryIO,
    size: int,
    name: str,
    kind: FileType,
    direction: Direction,
    policy: FilePolicy,
    keep_outputs: bool,
) -> tuple[list[str], Iterable[bytes]]:
    """Check or clean the open file of ``kind``: what was done, and the bytes to write."""
    if kind in ARCHIVES:
        actions = inspect_archive(
            source,
            size,
            name,
            kind,
            allowed=policy.rules(direction).allow,
            limits=policy.archives,
            direction=direction,
        )
        return actions, _rewound(source)
    if kind in TEXTS or kind is FileType.JSON:
        if problem := utf8_problem(_blocks(source)):
            raise InvalidInput(name, f"{problem}: save it as UTF-8")
        if kind is FileType.JSON:
            source.seek(0)
            _json(source.read(), name)
        return [], _rewound(source)
    if kind is FileType.PARQUET:
        try:
            rows = pq.ParquetFile(source).metadata.num_rows
        except (ValueError, OSError) as exc:
            raise InvalidInput(name, f"is not a readable Parquet file: {exc}") from None
        return [f"read its footer: {rows:,} rows"], _rewound(source)
    cleaned, actions = _clean(source.read(), name, kind, policy, keep_outputs)
    return actions, [cleaned]


def _check_type(name: str, mime: str, allow: frozenset[FileType], direction: Direction) -> None:
    """Refuse content the name contradicts, then content not allowed this way."""
    allowed = mime in allow
    if contradicts(name, mime):
        said = PurePosixPath(name).suffix or "no known type"
        fix = (
            f": rename it to end in {' or '.join(suffixes(FileType(mime)))}"
            if allowed
            else f", which may not {direction.crossing}"
        )
        raise AccessRefused(
            Reason.FILE_MISNAMED,
            f"{name}: its name says {said}, but its content is {describe(mime)}{fix}",
        )
    if not allowed:
        raise AccessRefused(
            Reason.FILE_TYPE_NOT_ALLOWED,
            f"{name}: it is {describe(mime)}, which may not {direction.crossing} "
            "(policies/files.yaml lists the types that may): save it as one of them",
        )


def _clean(
    data: bytes, name: str, kind: FileType, policy: FilePolicy, keep_outputs: bool
) -> tuple[bytes, list[str]]:
    if kind in IMAGES:
        return clean_image(data, name, kind, policy.max_image_pixels)
    if kind is FileType.PDF:
        return clean_pdf(data, name)
    if kind is FileType.SVG:
        return data, check_svg(data, name)
    if kind is FileType.NOTEBOOK:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(name, "is not UTF-8 text: save the notebook again") from None
        notebook, actions = clean_notebook(text, name, keep_outputs=keep_outputs)
        return notebook.encode("utf-8"), actions
    raise InvalidInput(name, f"{describe(kind)}: the sanitizer has no way to check it")


def _json(data: bytes, name: str) -> None:
    try:
        json.loads(data)
    except ValueError as exc:
        raise InvalidInput(name, f"is not valid JSON: {exc}") from None


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def _blocks(source: BinaryIO) -> Iterator[bytes]:
    return iter(lambda: source.read(_BLOCK), b"")


def _rewound(source: BinaryIO) -> Iterator[bytes]:
    source.seek(0)
    return _blocks(source)


def _open(path: Path, name: str) -> BinaryIO:
    """The file at ``path`` opened for reading, refused if it is a link or not a file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidInput(name, "is a symbolic link: give the file itself") from None
        raise InvalidInput(name, f"cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidInput(name, "is not a regular file")
    return os.fdopen(fd, "rb")


def _write(target: Path, blocks: Iterable[bytes]) -> tuple[int, str]:
    """Write ``blocks`` to ``target`` through a temporary file renamed into place; its size
    and SHA-256."""
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("xb") as writing:
            for block in blocks:
                writing.write(block)
                digest.update(block)
                size += len(block)
            writing.flush()
            os.fsync(writing.fileno())
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return size, digest.hexdigest()
