"""What a file is, decided by its content (libmagic), and which names that content may carry.

libmagic reads the first bytes of a file and names its MIME type. Its answer is taken as it is,
with three refinements of our own, each also by content:

- Parquet has no libmagic signature (5.44 says ``application/octet-stream``): a file that
  starts and ends with ``PAR1`` is :attr:`FileType.PARQUET` (its footer is read later);
- a JSON document with ``cells`` and ``nbformat`` at its top is a notebook, whatever its name;
- libmagic's guesses of a programming language for text (``text/x-c`` for an R script that
  mentions ``#include``, ``text/x-Algol68``, ...) are plain text: text is text. Shell scripts
  and HTML are not folded in: they keep their own, unlisted, type.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Final

import magic

__all__ = [
    "FileType",
    "contradicts",
    "describe",
    "detect",
    "suffixes",
    "utf8_problem",
]

HEAD: Final = 1 << 20  # bytes libmagic is shown
NEWLINE: Final = b"\n"


class FileType(StrEnum):
    """The content types the sanitizer knows how to check; ``policies/files.yaml`` allows
    some of them in each direction. Anything else is refused."""

    TEXT = "text/plain"
    CSV = "text/csv"
    PYTHON = "text/x-script.python"
    SHELL = "text/x-shellscript"
    JSON = "application/json"
    NOTEBOOK = "application/x-ipynb+json"
    PARQUET = "application/vnd.apache.parquet"
    PNG = "image/png"
    JPEG = "image/jpeg"
    GIF = "image/gif"
    TIFF = "image/tiff"
    WEBP = "image/webp"
    SVG = "image/svg+xml"
    PDF = "application/pdf"
    ZIP = "application/zip"
    TAR = "application/x-tar"
    GZIP = "application/gzip"


TEXTS: Final = frozenset({FileType.TEXT, FileType.CSV, FileType.PYTHON, FileType.SHELL})
TEXT_SUFFIXES: Final = frozenset(
    {"", ".txt", ".md", ".rst", ".csv", ".tsv", ".tab", ".json", ".py", ".r", ".rmd", ".qmd"}
    | {".log", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".sql", ".tex", ".bib", ".sh"}
    | {".bed", ".gtf", ".gff", ".gff3", ".fa", ".fasta", ".vcf", ".sam", ".nwk"}
)
IMAGES: Final = frozenset({FileType.PNG, FileType.JPEG, FileType.GIF, FileType.TIFF, FileType.WEBP})
ARCHIVES: Final = frozenset({FileType.ZIP, FileType.TAR, FileType.GZIP})

_SUFFIXES: Final[dict[FileType, frozenset[str]]] = {
    **{text: TEXT_SUFFIXES for text in TEXTS},
    FileType.JSON: TEXT_SUFFIXES,
    FileType.NOTEBOOK: frozenset({".ipynb"}),
    FileType.PARQUET: frozenset({".parquet", ".pq"}),
    FileType.PNG: frozenset({".png"}),
    FileType.JPEG: frozenset({".jpg", ".jpeg"}),
    FileType.GIF: frozenset({".gif"}),
    FileType.TIFF: frozenset({".tif", ".tiff"}),
    FileType.WEBP: frozenset({".webp"}),
    FileType.SVG: frozenset({".svg"}),
    FileType.PDF: frozenset({".pdf"}),
    FileType.ZIP: frozenset({".zip"}),
    FileType.TAR: frozenset({".tar"}),
    FileType.GZIP: frozenset({".gz", ".tgz"}),
}

_CLAIMED: Final = frozenset().union(*_SUFFIXES.values()) - {""}

_WORDS: Final[dict[str, str]] = {
    FileType.TEXT: "plain text",
    FileType.CSV: "a CSV table",
    FileType.PYTHON: "a Python script",
    FileType.SHELL: "a shell script",
    FileType.JSON: "a JSON document",
    FileType.NOTEBOOK: "a Jupyter notebook",
    FileType.PARQUET: "a Parquet table",
    FileType.SVG: "an SVG drawing",
    FileType.PDF: "a PDF document",
    FileType.ZIP: "a zip archive",
    FileType.TAR: "a tar archive",
    FileType.GZIP: "a gzip-compressed file",
    "application/x-executable": "an executable program",
    "application/x-pie-executable": "an executable program",
    "application/x-sharedlib": "an executable program or library",
    "application/x-mach-binary": "an executable program",
    "application/x-dosexec": "a Windows program",
    "text/html": "a web page (HTML)",
    "text/xml": "an XML document",
    "application/octet-stream": "binary data of no type libmagic knows",
    "application/x-empty": "an empty file",
}

# libmagic's guesses of a programming language for what is only text to us
_LANGUAGE_GUESSES: Final = frozenset(
    {"text/x-c", "text/x-c++", "text/x-java", "text/x-algol68", "text/x-asm", "text/x-fortran"}
    | {"text/x-pascal", "text/x-makefile", "text/x-tex", "text/x-m4", "text/x-diff"}
    | {"text/x-objective-c", "text/x-ruby", "text/x-awk", "text/x-lisp"}
)
_ALIASES: Final = {"text/x-python": FileType.PYTHON, "text/x-sh": FileType.SHELL}


def describe(mime: str) -> str:
    """The type in a researcher's words, with its MIME name: "an executable program
    (application/x-pie-executable)"."""
    if mime.startswith("image/") and mime not in _WORDS:
        return f"a {mime.removeprefix('image/').upper()} image ({mime})"
    return f"{_WORDS.get(mime, 'a file')} ({mime})"


def detect(head: bytes, tail: bytes) -> str:
    """The MIME type of a file from its first :data:`HEAD` bytes and its last 4: one of
    :class:`FileType` or libmagic's own name for a type the sanitizer does not take."""
    mime = magic.from_buffer(head, mime=True)
    mime = _ALIASES.get(mime, mime)
    if mime.lower() in _LANGUAGE_GUESSES:
        return FileType.TEXT
    if mime == "application/octet-stream" and head[:4] == b"PAR1" and tail == b"PAR1":
        return FileType.PARQUET
    if mime == FileType.JSON and _looks_like_notebook(head):
        return FileType.NOTEBOOK
    return mime


def _looks_like_notebook(head: bytes) -> bool:
    if len(head) < HEAD:  # the whole document: parse it
        try:
            top = json.loads(head)
        except ValueError:
            return False
        return isinstance(top, dict) and "cells" in top and "nbformat" in top
    return b'"nbformat"' in head and b'"cells"' in head


def contradicts(name: str, mime: str) -> bool:
    """Whether a file called ``name`` claims to be something its content (``mime``) is not:
    ``table.csv`` holding an executable, ``plot.jpg`` holding a PNG image. A name with no
    known ending (``report.docx``, ``run``) claims nothing we know of."""
    suffix = PurePosixPath(name).suffix.lower()
    if mime in _SUFFIXES:
        return suffix not in _SUFFIXES[FileType(mime)]
    return suffix in _CLAIMED


def suffixes(kind: FileType) -> list[str]:
    """The names' endings content of ``kind`` may carry, for a message."""
    return sorted(s for s in _SUFFIXES[kind] if s)


def utf8_problem(blocks: Iterable[bytes]) -> str | None:
    """Why text read in ``blocks`` is not UTF-8 (the line of the first bad byte), or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    for block in blocks:
        try:
            decoder.decode(block)
        except UnicodeDecodeError as exc:
            where = line + block.count(NEWLINE, 0, exc.start)
            return f"is not UTF-8 text (line {where} has a byte that is not)"
        line += block.count(NEWLINE)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "is not UTF-8 text (it ends in the middle of a character)"
    return None
