"""Exporting audit events for a SIEM: JSON Lines or ArcSight CEF, one event per line.

Both carry the event's ``seq`` and ``hash`` so the SIEM copy can later serve as an anchor for
``wgs-tre audit verify --anchor``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from enum import StrEnum
from importlib.metadata import version

import orjson

from wgs_tre.audit.log import AuditRecord
from wgs_tre.errors import IntegrityError

__all__ = ["ExportFormat", "export_lines", "to_cef", "to_jsonl"]


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CEF = "cef"


def to_jsonl(record: AuditRecord) -> str:
    event = record.as_dict()
    event["details"] = orjson.loads(record.details)
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS).decode()


def _cef_header(value: str) -> str:
    # CEF allows no line break in the header; one would split the event in two for the SIEM.
    return _one_line(value.replace("\\", "\\\\").replace("|", "\\|"))


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _cef_value(value: object) -> str:
    text = "" if value is None else str(value)
    return _one_line(text.replace("\\", "\\\\").replace("=", "\\="))


@functools.cache
def _product_version() -> str:
    return _cef_header(version("wgs-tre"))


def _moment(record: AuditRecord) -> dt.datetime:
    try:
        return dt.datetime.strptime(record.time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        # The appender writes only this format: anything else was written past it.
        raise IntegrityError(
            f"audit event {record.seq} has the time {record.time!r}, which the appender never "
            "writes; run `wgs-tre audit verify`"
        ) from None


def to_cef(record: AuditRecord) -> str:
    severity = 6 if record.decision == "refused" else 3
    when = _moment(record)
    extension = {
        "rt": int(when.timestamp() * 1000),
        "suser": record.actor,
        "act": record.decision,
        "reason": record.reason,
        "externalId": record.seq,
        "cs1Label": "project",
        "cs1": record.project,
        "cs2Label": "dataset",
        "cs2": record.dataset,
        "cs3Label": "hash",
        "cs3": record.hash,
        "cs4Label": "details",
        "cs4": record.details,
    }
    header = "|".join(
        [
            "CEF:0",
            "WGS-TRE",
            "wgs-tre",
            _product_version(),
            _cef_header(record.action),
            _cef_header(record.action),
            str(severity),
        ]
    )
    body = " ".join(f"{key}={_cef_value(value)}" for key, value in extension.items())
    return f"{header}|{body}"


def export_lines(records: Iterable[AuditRecord], fmt: ExportFormat) -> Iterator[str]:
    render = to_cef if fmt is ExportFormat.CEF else to_jsonl
    for record in records:
        yield render(record)
