"""Signed checkpoints catch what the chain alone cannot: a rewrite by whoever holds the database.

The attacker here has the database (the append-only triggers dropped, every hash recomputed, the
head moved) but not the audit signer's key. Everything runs through the CLI a steward uses.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from tests.test_audit import as_dba
from tests.world import World
from wgs_tre.audit import event_hash, events, verify
from wgs_tre.audit.checkpoint import Checkpoint, sign_head
from wgs_tre.store import Store


def _cli(world: World, *args: str, user: str = "sam") -> subprocess.CompletedProcess[str]:
    env = {
        "WGS_TRE_DATABASE_URL": world.store.url.render_as_string(False),
        "WGS_TRE_POLICY_DIR": str(world.policies.source),
        "WGS_TRE_DATA_DIR": str(world.tmp / "data"),
        "WGS_TRE_AS": user,  # root acts as the account
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "400",
    }
    return subprocess.run(
        [sys.executable, "-m", "wgs_tre", *args], capture_output=True, text=True, env=env
    )


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _audit_dir(world: World) -> Path:
    return world.tmp / "data" / "audit"


def _rewrite_from(store: Store, seq: int, *, keep: int | None = None) -> None:
    """Change event ``seq``'s reason, drop events after ``keep``, re-hash everything after
    ``seq`` and move the head: a self-consistent chain that tells another story."""
    with store.session() as session:
        chain = [e.as_dict() for e in events(session)]
    chain = chain[:keep] if keep else chain
    chain[seq - 1]["reason"] = "nothing to see"
    prev = chain[seq - 2]["hash"]
    for event in chain[seq - 1 :]:
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(event)
    with as_dba(store) as conn:
        if keep:
            conn.execute(text("DELETE FROM audit_event WHERE seq > :k"), {"k": keep})
        for event in chain[seq - 1 :]:
            conn.execute(
                text(
                    "UPDATE audit_event SET reason=:reason, prev_hash=:prev_hash, hash=:hash "
                    "WHERE seq=:seq"
                ),
                event,
            )
        conn.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": len(chain), "h": prev}
        )
    with store.session() as session:
        assert verify(session).ok  # the chain alone cannot tell


@pytest.fixture
def signed(world: World) -> World:
    """The admin created the signing key; a steward verified, which signed a checkpoint."""
    _ok(_cli(world, "audit", "keygen", user="root1"))
    _ok(_cli(world, "audit", "verify"))
    return world


def test_keygen_keeps_the_key_private_and_never_overwrites_it(signed: World) -> None:
    key = _audit_dir(signed) / "signing.key"
    assert key.stat().st_mode & 0o777 == 0o600
    before = key.read_bytes()
    again = _cli(signed, "audit", "keygen", user="root1")
    assert again.returncode == 6 and "never overwritten" in again.stderr, again.stderr
    assert key.read_bytes() == before
    refused = _cli(signed, "audit", "keygen")  # a steward may not make the key
    assert refused.returncode == 4, refused.stderr


def test_verify_and_export_sign_checkpoints_kept_in_the_file_and_in_the_chain(
    signed: World,
) -> None:
    _ok(_cli(signed, "audit", "export", "-o", str(signed.tmp / "audit.jsonl")))
    lines = (_audit_dir(signed) / "checkpoints.jsonl").read_bytes().splitlines()
    in_file = [Checkpoint(**orjson.loads(line)) for line in lines]
    assert len(in_file) == 2
    with signed.store.session() as session:
        chain = {e.seq: e for e in events(session)}
    for checkpoint in in_file:  # each signs a real head, and the next event records it
        assert chain[checkpoint.seq].hash == checkpoint.hash
        recorded = chain[checkpoint.seq + 1]
        assert recorded.action == "audit.checkpoint"
        # the checkpoint, and beside it who really signed: root acting as the steward
        witness = {"os_account": "root", "identity_via": "root acting as"}
        assert orjson.loads(recorded.details) == {**checkpoint.as_dict(), **witness}
    said = _ok(_cli(signed, "audit", "verify"))
    assert f"matches the signed checkpoint of event {in_file[-1].seq + 1}" not in said
    assert "matches the signed checkpoint of event" in said


def test_a_rewrite_before_a_checkpoint_is_reported(signed: World) -> None:
    _rewrite_from(signed.store, 2)
    done = _cli(signed, "audit", "verify")
    assert done.returncode == 7, done.stderr
    assert "rewritten" in done.stderr and "signed checkpoint" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_rewrite_that_also_cuts_the_checkpoint_events_is_reported(signed: World) -> None:
    """The attacker drops the chain's own checkpoint events; the file outside keeps its copy."""
    (first,) = [
        Checkpoint(**orjson.loads(line))
        for line in (_audit_dir(signed) / "checkpoints.jsonl").read_bytes().splitlines()
    ]
    _rewrite_from(signed.store, 2, keep=first.seq)
    done = _cli(signed, "audit", "verify")
    assert done.returncode == 7, done.stderr
    assert f"event {first.seq}" in done.stderr and "rewritten" in done.stderr


def test_a_checkpoint_signed_with_another_key_is_reported_as_forged(signed: World) -> None:
    with signed.store.session() as session:
        last = list(events(session))[-1]
    forged = sign_head(Ed25519PrivateKey.generate(), last.seq, last.hash, dt.datetime.now(dt.UTC))
    with (_audit_dir(signed) / "checkpoints.jsonl").open("ab") as fh:
        fh.write(orjson.dumps(forged.as_dict()) + b"\n")
    done = _cli(signed, "audit", "verify")
    assert done.returncode == 7 and "not signed by the audit key" in done.stderr, done.stderr


def test_removing_the_public_key_does_not_silence_the_checkpoints(signed: World) -> None:
    (_audit_dir(signed) / "signing.key.pub").unlink()
    done = _cli(signed, "audit", "verify")
    assert done.returncode == 7 and "no public key" in done.stderr, done.stderr


def test_without_a_key_verify_still_works_and_signs_nothing(world: World) -> None:
    _ok(_cli(world, "audit", "verify"))
    assert not _audit_dir(world).exists()
    done = _cli(world, "audit", "checkpoint")
    assert done.returncode == 6 and "audit keygen" in done.stderr, done.stderr
