"""The hash chain: canonical JSON of an event, SHA-256, each event carrying the previous hash.

Pure functions shared by the appender and the verifier so that both hash exactly the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

__all__ = [
    "FIELDS",
    "GENESIS",
    "WITNESS_KEYS",
    "canonical_json",
    "event_hash",
    "hash_sorted_values",
]

GENESIS = "0" * 64
# Every column of an event except its own hash, in alphabetical order: the order canonical JSON
# puts them in, which lets the verifier build the document without sorting.
FIELDS = (
    "action",
    "actor",
    "dataset",
    "decision",
    "details",
    "prev_hash",
    "project",
    "reason",
    "seq",
    "time",
)

# Keys that events written on the host add to ``details``: the OS account that really acted and
# how its TRE account was established (see wgs_tre.governance.identity). Hashed with the rest.
WITNESS_KEYS = ("os_account", "identity_via")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def event_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over the canonical JSON of an event's ``FIELDS``."""
    return hashlib.sha256(canonical_json({k: fields[k] for k in FIELDS})).hexdigest()


def hash_sorted_values(values: Sequence[Any]) -> str:
    """``event_hash`` for values already in ``FIELDS`` order (the verifier's fast path).

    Every field is a string, an integer or null (``details`` is stored as canonical JSON text),
    so a dict built in key order serialises exactly as the sorted canonical form.
    """
    return hashlib.sha256(orjson.dumps(dict(zip(FIELDS, values, strict=True)))).hexdigest()
