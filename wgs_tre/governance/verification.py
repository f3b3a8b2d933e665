"""Verifying the audit chain as a governed step, for ``wgs-tre audit verify`` and the steward
dashboard's "verify now": the check (every signed checkpoint an anchor), the verdict recorded
in the chain, and a new signed checkpoint when this account can read the signer's key.

The caller reports the verdict before recording it: recording appends to the chain, which may
be what is broken (a broken end of chain refuses every append, the verdict's included).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from wgs_tre import audit as log
from wgs_tre.audit import checkpoint
from wgs_tre.audit.checkpoint import Checkpoint
from wgs_tre.audit.verify import VerifyReport
from wgs_tre.config import Settings
from wgs_tre.errors import IntegrityError
from wgs_tre.governance.context import Context
from wgs_tre.types import Action

__all__ = ["Verification", "check", "record_verdict", "sign_checkpoint", "verify_now"]


@dataclass(frozen=True)
class Verification:
    report: VerifyReport
    checkpoint: Checkpoint | None  # the newest signed checkpoint, checked
    signed: Checkpoint | None = None  # the one signed after an intact verdict

    def summary(self) -> str:
        """The report's summary, and the checkpoint an intact chain matched."""
        if self.checkpoint is None or not self.report.ok:
            return self.report.summary()
        return (
            f"{self.report.summary()}; matches the signed checkpoint of event {self.checkpoint.seq}"
        )


def signed_anchors(ctx: Context, settings: Settings) -> tuple[dict[int, str], Checkpoint | None]:
    """Every signed checkpoint (from the file and from the chain) as an anchor, and the newest."""
    public_path = checkpoint.public_path(settings.signing_key_path)
    with ctx.store.session() as session:
        found = [*checkpoint.in_file(settings.checkpoints_path), *checkpoint.in_chain(session)]
    if not public_path.exists():
        if found:
            raise IntegrityError(
                f"there are signed audit checkpoints but no public key at {public_path} to check "
                "them with: it was removed, or WGS_TRE_AUDIT_SIGNING_KEY points elsewhere"
            )
        return {}, None
    return checkpoint.signed_anchors(found, checkpoint.load_public_key(public_path))


def check(
    ctx: Context,
    settings: Settings,
    anchors: Mapping[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """The whole chain checked against ``anchors`` and every signed checkpoint. Not recorded
    yet (:func:`record_verdict`); a checkpoint that cannot be checked is recorded and raised."""
    ctx.check(Action.AUDIT_VERIFY)
    try:
        signed, latest = signed_anchors(ctx, settings)
    except IntegrityError as exc:
        record_verdict(ctx, f"audit log BROKEN: {exc.message}")
        raise
    report = log.verify_store(ctx.store, anchors={**signed, **(anchors or {})}, progress=progress)
    return Verification(report, latest)


def record_verdict(ctx: Context, summary: str) -> None:
    """The verdict, as an ``audit.verify`` event (not possible on a broken end of chain)."""
    with contextlib.suppress(IntegrityError), ctx.transaction(Action.AUDIT_VERIFY) as tx:
        tx.audit(summary)


def sign_checkpoint(ctx: Context, settings: Settings) -> Checkpoint | None:
    """Sign the head now, if this account can read the signing key (the audit signer)."""
    key_path = settings.signing_key_path
    if not os.access(key_path, os.R_OK):
        return None
    private = checkpoint.load_private_key(key_path)
    with ctx.transaction(Action.AUDIT_CHECKPOINT) as tx:
        seq, digest = log.head(tx.session)
        signed = checkpoint.sign_head(private, seq, digest, tx.now)
        tx.audit(f"signed checkpoint of event {seq}", details=signed.as_dict())
    checkpoint.append_to_file(settings.checkpoints_path, signed)
    return signed


def verify_now(ctx: Context, settings: Settings) -> Verification:
    """Check, record the verdict, and sign a checkpoint of an intact chain (if the key is
    readable): for a caller that reports after the fact (a dashboard shows the returned
    verdict; a broken chain is a verdict here, not an error)."""
    verification = check(ctx, settings)
    record_verdict(ctx, verification.report.summary())
    if not verification.report.ok:
        return verification
    return Verification(
        verification.report, verification.checkpoint, sign_checkpoint(ctx, settings)
    )
