"""Signed checkpoints: the audit head, signed with a key the database does not hold.

Whoever can write the database can rewrite the whole chain and recompute every hash; the chain
alone then verifies. A checkpoint is the head (seq, hash) and a time, signed with Ed25519 by the
audit signer, whose private key is a file only that account can read. Each checkpoint is kept
twice: as a line of a JSON Lines file outside the database, and as an ``audit.checkpoint`` event
in the chain itself. ``audit verify`` takes every checkpoint whose signature holds under the
public key as an anchor: an event rewritten at or before a checkpoint no longer matches it.

A checkpoint whose signature does not verify was not made by the signer: that is reported, not
skipped. Without a public key (no signer set up) there is nothing to check against.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from wgs_tre.audit.chain import WITNESS_KEYS, canonical_json
from wgs_tre.errors import ConfigurationError, IntegrityError, InvalidInput
from wgs_tre.store.models import AuditEvent
from wgs_tre.types import Action

__all__ = [
    "Checkpoint",
    "append_to_file",
    "generate_key",
    "in_chain",
    "in_file",
    "key_id",
    "load_private_key",
    "load_public_key",
    "sign_head",
    "signed_anchors",
]


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    time: str
    key: str  # which key signed it (key_id of its public key)
    signature: str  # base64 Ed25519 signature of ``message()``

    def message(self) -> bytes:
        return canonical_json(
            {"seq": self.seq, "hash": self.hash, "time": self.time, "key": self.key}
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def holds_under(self, public: Ed25519PublicKey) -> bool:
        try:
            public.verify(base64.b64decode(self.signature, validate=True), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key(path: Path) -> str:
    """A new signing key at ``path`` (mode 0600, never overwritten) and its public key at
    ``path.pub``; returns the key's id."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(
            str(path), "a signing key is already there; it is never overwritten"
        ) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public = private.public_key()
    public_path(path).write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key_id(public)


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigurationError(f"audit signing key {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigurationError(f"audit signing key {path}: not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"audit signing key {path}: not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"audit public key {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigurationError(f"audit public key {path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"audit public key {path}: not an Ed25519 key")
    return key


def sign_head(private: Ed25519PrivateKey, seq: int, digest: str, when: dt.datetime) -> Checkpoint:
    unsigned = Checkpoint(
        seq,
        digest,
        when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        key_id(private.public_key()),
        "",
    )
    signature = base64.b64encode(private.sign(unsigned.message())).decode()
    return Checkpoint(unsigned.seq, unsigned.hash, unsigned.time, unsigned.key, signature)


def append_to_file(path: Path, checkpoint: Checkpoint) -> None:
    """One line at the end of ``path``, on disk before this returns."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, orjson.dumps(checkpoint.as_dict()) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(value: Any, where: str) -> Checkpoint:
    try:
        found = Checkpoint(**value)
    except TypeError:
        raise IntegrityError(f"{where}: not a checkpoint") from None
    if not isinstance(found.seq, int) or not all(
        isinstance(v, str) for v in (found.hash, found.time, found.key, found.signature)
    ):
        raise IntegrityError(f"{where}: not a checkpoint")
    return found


def in_file(path: Path) -> Iterator[Checkpoint]:
    """The checkpoints kept in ``path`` (none if it does not exist)."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise IntegrityError(f"checkpoint file {path}, line {number}: not JSON") from None
            yield _parse(value, f"checkpoint file {path}, line {number}")


def in_chain(session: Session) -> Iterator[Checkpoint]:
    """The checkpoints recorded as ``audit.checkpoint`` events."""
    query = select(AuditEvent.seq, AuditEvent.details).where(
        AuditEvent.action == str(Action.AUDIT_CHECKPOINT)
    )
    for seq, details in session.execute(query):
        try:
            value = orjson.loads(details)
        except orjson.JSONDecodeError:
            raise IntegrityError(f"audit event {seq}: its details are not JSON") from None
        if isinstance(value, dict):  # who signed it sits beside the checkpoint, not in it
            value = {k: v for k, v in value.items() if k not in WITNESS_KEYS}
        yield _parse(value, f"audit event {seq} (checkpoint)")


def signed_anchors(
    checkpoints: Iterable[Checkpoint], public: Ed25519PublicKey
) -> tuple[dict[int, str], Checkpoint | None]:
    """Every checkpoint as a (seq -> hash) anchor, and the latest; a checkpoint that was not
    signed by ``public``'s key, or two that disagree, is an :class:`IntegrityError`."""
    anchors: dict[int, str] = {}
    latest: Checkpoint | None = None
    for found in checkpoints:
        if not found.holds_under(public):
            raise IntegrityError(
                f"the checkpoint of event {found.seq} ({found.time}) is not signed by the audit "
                "key: it was forged"
            )
        if anchors.setdefault(found.seq, found.hash) != found.hash:
            raise IntegrityError(f"two signed checkpoints of event {found.seq} disagree")
        if latest is None or found.seq > latest.seq:
            latest = found
    return anchors, latest
