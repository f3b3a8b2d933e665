"""The hash chain: canonical JSON of an event, SHA-256, each event carrying the previous hash.

Pure functions shared by the appender and the verifier so that both hash exactly the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["FIELDS", "GENESIS", "canonical_json", "event_hash"]

GENESIS = "0" * 64
# Every column of an event except its own hash, in the order they are stored.
FIELDS = (
    "seq",
    "time",
    "actor",
    "action",
    "project",
    "dataset",
    "decision",
    "reason",
    "details",
    "prev_hash",
)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def event_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over the canonical JSON of an event's ``FIELDS``."""
    return hashlib.sha256(canonical_json({k: fields[k] for k in FIELDS})).hexdigest()
