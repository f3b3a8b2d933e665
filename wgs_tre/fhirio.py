"""Reading FHIR files: JSON (one resource or a Bundle) or NDJSON (one per line), resource by
resource, each with where it came from ("file line 3", "file entry[12]") for error messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from wgs_tre.errors import InvalidInput

__all__ = ["read_resources"]

Located = tuple[dict[str, Any], str]


def _documents(name: str, data: bytes, ndjson: bool) -> Iterator[tuple[Any, str]]:
    if ndjson:
        for number, line in enumerate(data.splitlines(), start=1):
            if line.strip():
                where = f"{name} line {number}"
                try:
                    yield orjson.loads(line), where
                except orjson.JSONDecodeError as exc:
                    raise InvalidInput(where, f"not valid JSON: {exc.msg}") from None
        return
    try:
        yield orjson.loads(data), name
    except orjson.JSONDecodeError as exc:
        where = f"{name} line {exc.lineno} column {exc.colno}"
        raise InvalidInput(where, f"not valid JSON: {exc.msg}") from None


def _entries(document: Any, where: str) -> Iterator[Located]:
    if not isinstance(document, dict) or "resourceType" not in document:
        raise InvalidInput(where, "expected a FHIR resource (a JSON object with resourceType)")
    if document["resourceType"] != "Bundle":
        yield document, where
        return
    entries = document.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidInput(where, "Bundle.entry must be a list")
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise InvalidInput(f"{where} entry[{index}]", "entry has no resource")
        yield resource, f"{where} entry[{index}]"


def read_resources(path: Path, data: bytes | None = None) -> Iterator[Located]:
    """Every resource in ``path`` (Bundles unpacked), with its location."""
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(str(path), exc.strerror or "cannot read") from None
    ndjson = path.suffix.lower() in {".ndjson", ".jsonl"}
    for document, where in _documents(path.name, data, ndjson):
        yield from _entries(document, where)
