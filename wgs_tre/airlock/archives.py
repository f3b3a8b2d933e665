"""Archives (zip, tar, gzip and tar.gz) inspected without unpacking them anywhere.

Nothing is written under a name taken from an archive: each member is decompressed into an
anonymous spooled temporary file, counted as it comes, and checked there. Refused:

- a member whose name is absolute (``/etc/x``, ``C:x``) or climbs out (``../x``), or holds NUL;
  two members of one name; a zip whose local header names a member differently from its
  central directory (unpackers disagree on which to believe);
- links (symbolic or hard), devices, FIFOs and other special members;
- more than ``max_members`` members, more than ``max_total_uncompressed`` bytes unpacked, a
  member (or the archive) that unpacks to more than ``max_ratio`` times its compressed size,
  and archives inside archives deeper than ``max_depth``, all counted over the whole tree;
- a zip member holding more than its declared size (the sizes are not believed: the data is
  decompressed here and counted, and its CRC checked), encrypted members, and compression
  methods other than stored and deflate;
- a member whose type, by content, is not allowed in the direction, or does not fit its name,
  or is one the sanitizer would have to rewrite (an image, PDF, SVG or notebook: bring or take
  it on its own, so that it is cleaned), and text that is not UTF-8.

An archive that passes is kept as it is, byte for byte: nothing in it needs cleaning.
"""

from __future__ import annotations

import gzip
import re
import shutil
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Final

from wgs_tre.airlock.filepolicy import ArchiveLimits, Direction
from wgs_tre.airlock.filetypes import (
    ARCHIVES,
    HEAD,
    TEXTS,
    FileType,
    contradicts,
    describe,
    detect,
    utf8_problem,
)
from wgs_tre.errors import AccessRefused, InvalidInput, Reason

__all__ = ["inspect_archive"]

PLAIN: Final = TEXTS | {FileType.JSON, FileType.PARQUET}  # kept as they are
_BLOCK: Final = 1 << 20
_SPOOL: Final = 8 << 20  # a member larger than this is spooled to disk (anonymously)
_CLIMBS: Final = re.compile(r"^([/\\]|[A-Za-z]:)|(^|[/\\])\.\.([/\\]|$)")
_LOCAL_HEADER: Final = struct.Struct("<4s5H3L2H")


def _unsafe(where: str, detail: str) -> AccessRefused:
    return AccessRefused(Reason.UNSAFE_ARCHIVE, f"{where}: {detail}")


@dataclass
class _Walk:
    """One archive's inspection: what may pass, the limits and what was counted so far."""

    allowed: frozenset[FileType]
    limits: ArchiveLimits
    direction: Direction
    members: int = 0
    unpacked: int = 0

    def count(self, where: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise _unsafe(
                where, f"more than {self.limits.max_members:,} members: split it into smaller ones"
            )

    def unpack(self, where: str, produced: int) -> None:
        self.unpacked += produced
        if self.unpacked > self.limits.max_total_uncompressed:
            raise _unsafe(
                where,
                f"unpacks to more than {self.limits.max_total_uncompressed.human_readable()} "
                "(a zip bomb, or too much at once): send fewer files at a time",
            )


def inspect_archive(
    source: IO[bytes],
    size: int,
    name: str,
    kind: FileType,
    *,
    allowed: frozenset[FileType],
    limits: ArchiveLimits,
    direction: Direction,
) -> list[str]:
    """Check the archive ``source`` (``size`` bytes of ``kind``) and every archive inside it;
    refuse it, or say what was checked."""
    walk = _Walk(allowed, limits, direction)
    _archive(source, size, name, kind, 1, walk)
    return [f"checked the archive's {walk.members} members: nothing unsafe; kept as it is"]


def _archive(
    source: IO[bytes], size: int, where: str, kind: FileType, depth: int, walk: _Walk
) -> None:
    if kind is FileType.ZIP:
        _zip(source, size, where, depth, walk)
    elif kind is FileType.TAR:
        _tar(source, where, depth, walk)
    else:
        _gzip(source, size, where, depth, walk)


def _spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=_SPOOL)


def _check_name(where: str, name: str, seen: set[str]) -> None:
    if not name or "\x00" in name or _CLIMBS.search(name):
        raise _unsafe(
            where,
            f"the member {name[:80]!r} would be unpacked outside the folder it is unpacked in "
            "(an absolute name or '..'): make the archive again from inside its folder",
        )
    if name in seen:
        raise _unsafe(where, f"two members are named {name[:80]!r}: which one unpacks differs")
    seen.add(name)


def _zip(source: IO[bytes], size: int, where: str, depth: int, walk: _Walk) -> None:
    try:
        infos = zipfile.ZipFile(source).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInput(where, f"is not a readable zip archive: {exc}") from None
    seen: set[str] = set()
    declared = 0
    for info in infos:
        walk.count(where)
        _check_name(where, info.filename, seen)
        kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: the zip does not say
            what = "a symbolic link" if kind == stat.S_IFLNK else "a device or other special file"
            raise _unsafe(where, f"the member {info.filename[:80]!r} is {what}: leave it out")
        if info.flag_bits & 0x1:
            raise AccessRefused(
                Reason.ENCRYPTED, f"{where}: {info.filename[:80]!r} is encrypted; zip it without"
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InvalidInput(
                where, f"compressed by method {info.compress_type}: zip it again with deflate"
            )
        if info.file_size > walk.limits.max_ratio * max(info.compress_size, 1):
            raise _unsafe(where, _ratio(info.filename, info.file_size, info.compress_size, walk))
        declared += info.file_size
    if declared > walk.limits.max_ratio * max(size, 1):
        raise _unsafe(where, _ratio("the archive", declared, size, walk))
    for info in infos:
        if not info.is_dir():
            with _zip_member(source, info, where, walk) as member:
                _member(member, info.filename, where, depth, walk)


def _ratio(what: str, unpacked: int, packed: int, walk: _Walk) -> str:
    return (
        f"{what[:80]!r} unpacks to {unpacked:,} bytes from {packed:,} "
        f"(more than {walk.limits.max_ratio:g} times: a zip bomb)"
    )


def _zip_member(source: IO[bytes], info: zipfile.ZipInfo, where: str, walk: _Walk) -> IO[bytes]:
    """The member decompressed here from its raw data, counted against its declared size."""
    source.seek(info.header_offset)
    header = source.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise InvalidInput(where, f"is damaged at {info.filename[:80]!r}")
    *_, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    local = source.read(name_length).decode("utf-8" if info.flag_bits & 0x800 else "cp437")
    if local != info.orig_filename:
        raise _unsafe(
            where,
            f"a member is named {info.filename[:80]!r} in one place and "
            f"{local[:80]!r} in another: unpackers disagree on it",
        )
    source.seek(extra_length, 1)
    member = info.filename[:80]
    blocks = _read(source, info.compress_size, where, member)
    pieces = blocks if info.compress_type == zipfile.ZIP_STORED else _inflate(blocks, where, member)
    out = _spool()
    produced, crc = 0, 0
    for piece in pieces:
        produced += len(piece)
        if produced > info.file_size:
            raise _unsafe(
                where,
                f"{member!r} holds more than the {info.file_size:,} bytes it declares "
                "(a disguised zip bomb)",
            )
        walk.unpack(where, len(piece))
        crc = zlib.crc32(piece, crc)
        out.write(piece)
    if produced != info.file_size or crc != info.CRC:
        raise InvalidInput(where, f"is damaged: {member!r} fails its checksum")
    return out


def _read(source: IO[bytes], length: int, where: str, member: str) -> Iterator[bytes]:
    while length:
        block = source.read(min(_BLOCK, length))
        if not block:
            raise InvalidInput(where, f"is cut short in {member!r}")
        length -= len(block)
        yield block


def _inflate(blocks: Iterable[bytes], where: str, member: str) -> Iterator[bytes]:
    """Deflated ``blocks`` decompressed a block at most at a time, however much they make."""
    inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    for block in blocks:
        data = block
        while data and not inflate.eof:
            yield inflate.decompress(data, _BLOCK)
            data = inflate.unconsumed_tail
    yield inflate.flush()
    if not inflate.eof:
        raise InvalidInput(where, f"is cut short in {member!r}")


def _tar(source: IO[bytes], where: str, depth: int, walk: _Walk) -> None:
    seen: set[str] = set()
    try:
        with tarfile.open(fileobj=source, mode="r:") as archive:
            for entry in archive:
                walk.count(where)
                _check_name(where, entry.name, seen)
                if entry.issym() or entry.islnk():
                    kind = "symbolic" if entry.issym() else "hard"
                    raise _unsafe(
                        where, f"the member {entry.name[:80]!r} is a {kind} link: leave it out"
                    )
                if entry.isdir():
                    continue
                if not entry.isreg() or entry.issparse():
                    raise _unsafe(
                        where,
                        f"the member {entry.name[:80]!r} is a device or other special file: "
                        "leave it out",
                    )
                reader = archive.extractfile(entry)
                if reader is None:  # pragma: no cover (a regular member always has one)
                    raise InvalidInput(where, f"is damaged at {entry.name[:80]!r}")
                with _spool() as member:
                    shutil.copyfileobj(reader, member, _BLOCK)
                    _member(member, entry.name, where, depth, walk)
    except tarfile.TarError as exc:
        raise InvalidInput(where, f"is not a readable tar archive: {exc}") from None


def _gzip(source: IO[bytes], size: int, where: str, depth: int, walk: _Walk) -> None:
    """A gzip stream is one more layer of the same archive (``.tar.gz``), not a nested one."""
    most = walk.limits.max_ratio * max(size, 1)
    with _spool() as inner:
        produced = 0
        try:
            with gzip.GzipFile(fileobj=source, mode="rb") as stream:
                for block in iter(lambda: stream.read(_BLOCK), b""):
                    produced += len(block)
                    if produced > most:
                        raise _unsafe(where, _ratio("the archive", produced, size, walk))
                    walk.unpack(where, len(block))
                    inner.write(block)
        except (OSError, EOFError, zlib.error) as exc:
            raise InvalidInput(where, f"is not a readable gzip file: {exc}") from None
        name = where.rpartition("/")[2]
        inside = name[: -len(".tgz")] + ".tar" if name.endswith(".tgz") else name[:-3]
        if _kind(inner)[0] == FileType.TAR:
            _tar(inner, where, depth, walk)
        else:
            _member(inner, inside, where, depth, walk)


def _kind(member: IO[bytes]) -> tuple[str, int]:
    """The member's type by content, and its size."""
    size = member.seek(0, 2)
    member.seek(max(size - 4, 0))
    tail = member.read(4)
    member.seek(0)
    head = member.read(HEAD)
    member.seek(0)
    return detect(head, tail), size


def _member(member: IO[bytes], name: str, where: str, depth: int, walk: _Walk) -> None:
    """Check one member, decompressed in ``member``, of the archive ``where``."""
    kind, size = _kind(member)
    if size == 0:  # an empty file (an __init__.py) holds nothing to check
        return
    here = f"{where}: the member {name[:80]!r}"
    crossing = walk.direction.crossing
    if kind not in walk.allowed:
        raise AccessRefused(
            Reason.FILE_TYPE_NOT_ALLOWED, f"{here} is {describe(kind)}, which may not {crossing}"
        )
    if contradicts(name, kind):
        raise AccessRefused(
            Reason.FILE_MISNAMED, f"{here} is {describe(kind)}, which its name does not say"
        )
    if kind in ARCHIVES:
        if depth >= walk.limits.max_depth:
            raise _unsafe(
                where,
                f"{name[:80]!r} is an archive inside an archive, more than "
                f"{walk.limits.max_depth} deep: unpack the inner archives first",
            )
        _archive(member, size, f"{where}/{name}", FileType(kind), depth + 1, walk)
        return
    if kind not in PLAIN:
        raise AccessRefused(
            Reason.FILE_TYPE_NOT_ALLOWED,
            f"{here} is {describe(kind)}, which is cleaned only on its own: send it "
            "by itself, not in an archive",
        )
    if kind in TEXTS and (problem := utf8_problem(iter(lambda: member.read(_BLOCK), b""))):
        raise InvalidInput(here, f"{problem}: save it as UTF-8")
