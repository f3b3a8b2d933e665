"""Streaming a VCF (plain, gzip or BGZF) as chunks of arrays.

Decompression runs in ``bgzip -d`` (htslib, multi-threaded) when available, so it proceeds on
its own threads while the records of the previous buffer are parsed by the numba kernel in
``vcf_text``. Every error names the file, the line number and, for a bad call, the sample.
"""

from __future__ import annotations

import gzip
import itertools
import os
import queue
import shutil
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO

import numpy as np

from wgs_tre.backends.vcf_text import ERRORS, FIXED_COLUMNS, parse_records, run_starts
from wgs_tre.errors import InvalidInput

__all__ = ["VcfChunk", "VcfHeader", "read_vcf"]

READ_SIZE = 1 << 24  # bytes of text handed to the parser at a time
ANNOTATIONS = ("GENE", "CSQ", "CLNSIG", "HGVSP")  # INFO keys kept as variant_<KEY>
COLUMN_NAMES = ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT")


@dataclass
class VcfHeader:
    samples: list[str]
    contigs: list[tuple[str, int | None]]
    info: dict[str, str] = field(default_factory=dict)  # INFO ID -> Description
    lines: int = 0  # header lines, so record k is on line lines + k + 1


@dataclass
class VcfChunk:
    contig: np.ndarray  # (v,) int16 index into header contigs
    position: np.ndarray  # (v,) int32
    variant_id: np.ndarray  # (v,) str
    alleles: np.ndarray  # (v, max alleles) str, '' padded
    genotypes: np.ndarray  # (v, samples, 2) int8
    phased: np.ndarray  # (v, samples) bool
    annotations: dict[str, np.ndarray]  # INFO key -> (v,) str

    def __len__(self) -> int:
        return len(self.position)


@contextmanager
def _decompressed(path: Path) -> Iterator[tuple[IO[bytes], Callable[[], int]]]:
    """The file's text, and a function telling how many bytes of the file itself (compressed
    or not) have been read so far: progress against the file's size."""
    try:
        source = path.open("rb")
    except OSError as exc:
        raise InvalidInput(str(path), exc.strerror or "cannot read") from None
    with source:
        try:
            magic = os.pread(source.fileno(), 2, 0)  # leaves the offset at 0 for bgzip
        except OSError as exc:  # a pipe or a device
            raise InvalidInput(str(path), f"not a regular file ({exc.strerror})") from None
        # bgzip reads the same open file (its stdin), so this offset is how far it has read.
        position = partial(os.lseek, source.fileno(), 0, os.SEEK_CUR)
        bgzip = shutil.which("bgzip")
        if magic != b"\x1f\x8b":
            yield source, position
        elif bgzip is None:
            with gzip.GzipFile(fileobj=source, mode="rb") as fh:
                yield fh, position  # type: ignore[misc]
        else:
            yield from _bgzip_decompressed(bgzip, source, position, path.name)


def _bgzip_decompressed(
    bgzip: str, source: IO[bytes], position: Callable[[], int], name: str
) -> Iterator[tuple[IO[bytes], Callable[[], int]]]:
    proc = subprocess.Popen(
        [bgzip, "-d", "-c", "-@", "2"], stdin=source, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        yield proc.stdout, position
    finally:
        proc.stdout.close()
        proc.kill()
        _, stderr = proc.communicate()
        if proc.returncode not in (0, -9) and stderr:
            raise InvalidInput(name, f"cannot decompress: {stderr.decode().strip()}")


def _blocks(stream: IO[bytes], size: int) -> Iterator[bytes]:
    """Buffers of whole lines, read ahead on a thread so reading overlaps parsing."""
    buffers: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=2)

    def reader() -> None:
        carry = b""
        try:
            while block := stream.read(size):
                data = carry + block
                cut = data.rfind(b"\n") + 1
                if cut:
                    buffers.put(data[:cut])
                carry = data[cut:]
            if carry:
                buffers.put(carry + b"\n")
        except (OSError, EOFError) as exc:
            buffers.put(exc)
        buffers.put(None)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    while (item := buffers.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def _header(lines: list[bytes], name: str) -> VcfHeader:
    if not lines or not lines[0].startswith(b"##fileformat=VCF"):
        raise InvalidInput(f"{name} line 1", "not a VCF: the first line must be ##fileformat=VCF…")
    contigs: list[tuple[str, int | None]] = []
    info: dict[str, str] = {}
    for number, line in enumerate(lines[:-1], start=1):
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if text.startswith("##contig=<") or text.startswith("##INFO=<"):
            where = f"{name} line {number}"
            fields = _meta_fields(text, where)
            if text.startswith("##contig"):
                contigs.append((fields["ID"], _contig_length(fields, where)))
            else:
                info[fields["ID"]] = fields.get("Description", "").strip('"')
    samples = _samples(lines[-1], f"{name} line {len(lines)}")
    return VcfHeader(samples, contigs, info, len(lines))


def _meta_fields(text: str, where: str) -> dict[str, str]:
    """The key=value pairs of a structured header line such as ``##contig=<ID=1,length=9>``."""
    kind = text[2 : text.index("=")]
    if not text.endswith(">"):
        raise InvalidInput(where, f"malformed ##{kind} line: it must end with '>'")
    fields: dict[str, str] = {}
    for part in _split_meta(text[text.index("<") + 1 : -1]):
        key, equals, value = part.partition("=")
        if not equals or not key:
            raise InvalidInput(where, f"malformed ##{kind} line: {part!r} is not KEY=VALUE")
        fields[key] = value
    if not fields.get("ID"):
        raise InvalidInput(where, f"the ##{kind} line has no ID")
    return fields


def _contig_length(fields: dict[str, str], where: str) -> int | None:
    length = fields.get("length")
    if not length:
        return None
    if not length.isascii() or not length.isdigit():
        raise InvalidInput(
            where, f"##contig {fields['ID']}: length {length!r} is not a positive integer"
        )
    return int(length)


def _samples(line: bytes, where: str) -> list[str]:
    """Sample names from the #CHROM line: participant ids, so each must be unique, UTF-8, not
    empty, without control characters or surrounding spaces. Errors name the sample and its
    position (sample number and column)."""
    if line.endswith(b"\r\n"):
        raise InvalidInput(where, "Windows line endings (CRLF): convert the file to LF first")
    columns = line.rstrip(b"\n").split(b"\t")
    if columns[: FIXED_COLUMNS - 1] != [
        b"#CHROM", b"POS", b"ID", b"REF", b"ALT", b"QUAL", b"FILTER", b"INFO",
    ]:  # fmt: skip
        raise InvalidInput(where, "the #CHROM header line is malformed")
    if len(columns) <= FIXED_COLUMNS:
        raise InvalidInput(where, "the VCF has no samples (sites-only VCFs cannot be ingested)")
    samples: list[str] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(columns[FIXED_COLUMNS:]):
        at = f"{where}, {_sample_position(index)}"
        try:
            sample = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = raw.decode("utf-8", "backslashreplace")
            raise InvalidInput(
                at, f"sample name '{shown}' is not valid UTF-8 (byte 0x{raw[exc.start]:02x})"
            ) from None
        if not sample:
            raise InvalidInput(at, "sample name is empty")
        if sample != sample.strip():
            raise InvalidInput(at, f"sample name {sample!r} has leading or trailing spaces")
        if any(unicodedata.category(char) == "Cc" for char in sample):
            raise InvalidInput(at, f"sample name {sample!r} contains a control character")
        if sample in seen:
            raise InvalidInput(
                at,
                f"sample name {sample!r} is also {_sample_position(seen[sample])}; "
                "sample names must be unique",
            )
        seen[sample] = index
        samples.append(sample)
    return samples


def _sample_position(index: int) -> str:
    return f"sample {index + 1} (column {FIXED_COLUMNS + index + 1})"


def _split_meta(body: str) -> list[str]:
    """Split ``ID=x,Description="a, b"`` on commas outside quotes."""
    parts, current, quoted = [], "", False
    for char in body:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current] if current else parts


class _Decoder:
    """Turns one text buffer into a :class:`VcfChunk`, tracking line numbers and contigs."""

    def __init__(self, header: VcfHeader, name: str, pool: ThreadPoolExecutor) -> None:
        self.header, self.name, self.pool = header, name, pool
        self.contig_index = {c: i for i, (c, _) in enumerate(header.contigs)}
        self.records = 0

    def decode(self, text: bytes) -> VcfChunk:
        buf = np.frombuffer(text, dtype=np.uint8)
        ends = np.flatnonzero(buf == 10)
        starts = np.concatenate([[0], ends + 1]).astype(np.int64)
        n, samples = len(ends), len(self.header.samples)
        genotypes = np.empty((n, samples, 2), dtype=np.int8)
        phased = np.empty((n, samples), dtype=bool)
        positions = np.empty(n, dtype=np.int32)
        fields = np.empty((n, FIXED_COLUMNS, 2), dtype=np.int64)
        # The kernel releases the GIL: parse the two halves of the buffer on two threads.
        mid = n // 2
        halves = [(0, mid), (mid, n)] if n > 64 else [(0, n)]
        errs = [np.zeros(3, dtype=np.int64) for _ in halves]
        jobs = [
            self.pool.submit(
                parse_records, buf, starts[a : b + 1], samples, genotypes[a:b], phased[a:b],
                positions[a:b], fields[a:b], e,
            )
            for (a, b), e in zip(halves, errs, strict=True)
        ]  # fmt: skip
        done = [job.result() for job in jobs]
        failed = [
            k for k, ((a, b), got) in enumerate(zip(halves, done, strict=True)) if got != b - a
        ]
        if failed:
            err = errs[failed[0]]
            err[0] += halves[failed[0]][0]
            line = self.header.lines + self.records + int(err[0]) + 1
            where = f"{self.name} line {line}"
            if err[1] in (4, 6, 7, 8):
                where += f", sample {self.header.samples[min(int(err[2]), samples - 1)]}"
            raise InvalidInput(where, ERRORS[int(err[1])])
        chunk = VcfChunk(
            contig=self._contigs(text, fields),
            position=positions,
            variant_id=self._column(text, fields, 2),
            alleles=self._alleles(text, fields),
            genotypes=genotypes,
            phased=phased,
            annotations=self._annotations(text, fields),
        )
        self.records += n
        return chunk

    def _line(self, record: int) -> int:
        """The line number of record ``record`` of the chunk being decoded."""
        return self.header.lines + self.records + record + 1

    def _not_utf8(self, text: bytes, spans: np.ndarray, column: int) -> InvalidInput:
        """The error for the first span of ``column`` that is not UTF-8 (one must be)."""
        for record, (a, b) in enumerate(spans):
            try:
                text[a:b].decode()
            except UnicodeDecodeError as exc:
                byte = text[a + exc.start]
                return InvalidInput(
                    f"{self.name} line {self._line(record)}",
                    f"{COLUMN_NAMES[column]} is not valid UTF-8 (byte 0x{byte:02x})",
                )
        raise AssertionError("every span decodes")  # pragma: no cover

    def _column(self, text: bytes, fields: np.ndarray, column: int) -> np.ndarray:
        """The strings of one fixed column; single characters (SNP alleles, '.') are gathered
        with numpy instead of being decoded one by one."""
        spans = fields[:, column]
        try:
            if len(spans) and bool(np.all(spans[:, 1] - spans[:, 0] == 1)):
                buf = np.frombuffer(text, dtype=np.uint8)
                chars: np.ndarray = buf[spans[:, 0]].view("S1").astype(str).astype(object)
                return chars
            return np.array([text[a:b].decode() for a, b in spans], dtype=object)
        except UnicodeDecodeError:
            raise self._not_utf8(text, spans, column) from None

    def _contigs(self, text: bytes, fields: np.ndarray) -> np.ndarray:
        """Contig index per record; decoded once per run of equal names (VCFs are sorted)."""
        spans = fields[:, 0]
        buf = np.frombuffer(text, dtype=np.uint8)
        starts = run_starts(buf, spans)
        out = np.empty(len(spans), dtype=np.int16)
        bounds = [*starts.tolist(), len(spans)]
        for first, stop in itertools.pairwise(bounds):
            a, b = spans[first]
            try:
                name = text[a:b].decode()
            except UnicodeDecodeError:
                raise self._not_utf8(text, spans[: first + 1], 0) from None
            index = self.contig_index.get(name)
            if index is None:  # a contig the header did not declare: add it, as htslib does
                index = self.contig_index[name] = len(self.header.contigs)
                self.header.contigs.append((name, None))
            out[first:stop] = index
        return out

    def _alleles(self, text: bytes, fields: np.ndarray) -> np.ndarray:
        refs = self._column(text, fields, 3)
        alts = self._column(text, fields, 4)
        if not any("," in a for a in alts[: min(len(alts), 1_000_000)] if len(a) > 1):
            out = np.empty((len(refs), 2), dtype=object)
            out[:, 0] = refs
            out[:, 1] = np.where(alts == ".", "", alts)
            return out
        split = [a.split(",") if a != "." else [] for a in alts]
        width = 1 + max((len(a) for a in split), default=0)
        out = np.full((len(refs), max(width, 2)), "", dtype=object)
        for i, (ref, alt) in enumerate(zip(refs, split, strict=True)):
            out[i, 0] = ref
            out[i, 1 : 1 + len(alt)] = alt
        return out

    def _annotations(self, text: bytes, fields: np.ndarray) -> dict[str, np.ndarray]:
        keys = [k for k in ANNOTATIONS if k in self.header.info]
        out = {k: np.full(len(fields), "", dtype=object) for k in keys}
        if not keys:
            return out
        spans = fields[:, 7]
        for i in np.flatnonzero(spans[:, 1] - spans[:, 0] > 1):
            a, b = spans[i]
            try:
                items = text[a:b].decode().split(";")
            except UnicodeDecodeError:
                raise self._not_utf8(text, spans[: i + 1], 7) from None
            for item in items:
                key, _, value = item.partition("=")
                if key in out:
                    out[key][i] = value
        return out


def _read_header(stream: IO[bytes], name: str) -> VcfHeader:
    lines: list[bytes] = []
    while True:
        line = stream.readline()
        if not line:
            raise InvalidInput(name, "ends before the #CHROM header line")
        lines.append(line)
        if len(lines) == 1 and not line.startswith(b"##fileformat=VCF"):
            raise InvalidInput(f"{name} line 1", "not a VCF: it must start ##fileformat=VCF")
        if line.startswith(b"#CHROM"):
            return _header(lines, name)
        if not line.startswith(b"##"):
            raise InvalidInput(
                f"{name} line {len(lines)}", "expected a ## header or the #CHROM line"
            )


@contextmanager
def read_vcf(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[VcfHeader, Iterator[VcfChunk]]]:
    """``with read_vcf(path) as (header, chunks)``: the header, and chunks of about 16 MB of
    text each; the decompressor and parser threads stop when the block ends. ``progress`` is
    called after each chunk with how many bytes of the file (compressed, if it is) have been
    read: its size is the total."""
    if not path.exists():
        raise InvalidInput(str(path), "no such file")
    with (
        _decompressed(path) as (stream, position),
        ThreadPoolExecutor(2, thread_name_prefix="vcf") as pool,
    ):
        header = _read_header(stream, path.name)
        decoder = _Decoder(header, path.name, pool)

        def chunks() -> Iterator[VcfChunk]:
            for text in _blocks(stream, READ_SIZE):
                chunk = decoder.decode(text)
                if progress:
                    progress(position())
                yield chunk

        yield header, chunks()
