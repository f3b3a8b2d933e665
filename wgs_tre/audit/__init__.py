"""An append-only, hash-chained log of who did what, verifiable end to end."""

from wgs_tre.audit.chain import GENESIS, event_hash
from wgs_tre.audit.log import AuditRecord, append, events, head, record, record_refusal
from wgs_tre.audit.verify import VerifyReport, verify, verify_store

__all__ = [
    "GENESIS",
    "AuditRecord",
    "VerifyReport",
    "append",
    "event_hash",
    "events",
    "head",
    "record",
    "record_refusal",
    "verify",
    "verify_store",
]
