"""Pseudonyms in outputs: a file that names a participant does not leave.

A participant's id in a project is ``s`` and 24 lower-case base-32 characters
(:func:`wgs_tre.access.pseudonym`), a shape no word or number has. Any output holding one, in a
table's cell, a row label, a column name, a note or a notebook's source, names a participant,
whichever project's key made it: the airlock's ``pseudonym`` rule finds each one, by the line it
is on (the finding never repeats the pseudonym itself). Text is read as it is stored, gzip
decompressed and Parquet's text columns read; images and PDFs are not read for text (they are
for the stewards' eyes).
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path
from typing import IO

import pyarrow.parquet as pq

from wgs_tre.airlock.rules import Finding, Fix, RuleId

__all__ = ["PATTERN", "check_pseudonyms", "lines_with_pseudonyms"]

# Not preceded or followed by another letter or digit: a pseudonym, not part of a longer token.
PATTERN = re.compile(rb"(?<![0-9A-Za-z])s[a-z2-7]{24}(?![0-9A-Za-z])")
_BLOCK = 4 << 20
_SHOWN = 10  # line numbers a finding names


def _lines_in_stream(stream: IO[bytes] | gzip.GzipFile) -> list[int]:
    found: list[int] = []
    line, tail = 1, b""
    for block in iter(lambda: stream.read(_BLOCK), b""):
        # keep the text after the last newline: a pseudonym may span two blocks
        text = tail + block
        cut = text.rfind(b"\n") + 1
        whole, tail = (text[:cut], text[cut:]) if cut else (b"", text)
        found += _lines_in(whole, line)
        line += whole.count(b"\n")
    return found + _lines_in(tail, line)


def _lines_in(text: bytes, first_line: int) -> list[int]:
    return [first_line + text.count(b"\n", 0, m.start()) for m in PATTERN.finditer(text)]


def _parquet_rows(path: Path) -> list[int]:
    table = pq.read_table(path)
    rows: set[int] = set()
    names = [str(n) for n in table.column_names]
    if any(PATTERN.search(n.encode()) for n in names):
        rows.add(0)  # the header
    for column in table.columns:
        if column.type not in ("string", "large_string"):
            continue
        for index, value in enumerate(column.to_pylist()):
            if value is not None and PATTERN.search(str(value).encode()):
                rows.add(index + 1)
    return sorted(rows)


def lines_with_pseudonyms(path: Path) -> list[int]:
    """The lines (1 = the first; for Parquet, 0 = the column names, then rows) of ``path``
    holding something shaped like a pseudonym, once per pseudonym."""
    with path.open("rb") as stream:
        magic = stream.read(4)
    if magic == b"PAR1":
        return _parquet_rows(path)
    if magic[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as unzipped:
            return _lines_in_stream(unzipped)
    with path.open("rb") as plain:
        return _lines_in_stream(plain)


def check_pseudonyms(path: Path) -> list[Finding]:
    """A ``pseudonym`` finding if the file holds any, naming the lines, not the values."""
    try:
        lines = lines_with_pseudonyms(path)
    except (OSError, EOFError, ValueError, zlib.error):  # damaged: other checks say so
        return []
    if not lines:
        return []
    shown = ", ".join(str(n) for n in lines[:_SHOWN]) + (", ..." if len(lines) > _SHOWN else "")
    return [
        Finding(
            RuleId.PSEUDONYM,
            f"{len(lines)} participant pseudonym(s), on line(s) {shown}: an output names no "
            "participant; aggregate, or drop the column",
            fixes=(Fix.AGGREGATE,),
        )
    ]
