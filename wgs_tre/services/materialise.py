"""Materialised dispensal: a grant's view written where the project's sessions can read it.

The directory name carries a fingerprint of what was granted (dataset version, the set of
participants, the pseudonym key), so a consent change or a new version produces a new directory
and an unchanged grant reuses the old one. Views are written aside and renamed into place:
a session never sees half a dispensal. What is written is the dataset kind's dispenser's
business (``wgs_tre.dispense``). Files belong to root and the project's group, read-only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from wgs_tre.access import Grant
from wgs_tre.dispense import Progress, dispenser_for

__all__ = ["dispensed_path", "fingerprint", "materialise"]


def fingerprint(grant: Grant) -> str:
    digest = hashlib.sha256()
    digest.update(grant.dataset.encode())
    digest.update(hashlib.sha256(grant.key).digest())
    for participant in sorted(grant.participants):
        digest.update(participant.encode() + b"\0")
    return digest.hexdigest()[:16]


def dispensed_path(grant: Grant, dispensal: Path) -> Path:
    """Where the grant's view is (or will be) under the project's ``dispensal``."""
    return dispensal / f"{grant.dataset.replace('@', '-v')}-{fingerprint(grant)}"


def _share(path: Path, gid: int) -> None:
    """root:project-group, directories 0750 and files 0640: readable by the project only."""
    for root, _dirs, files in os.walk(path):
        os.chown(root, 0, gid)
        os.chmod(root, 0o750)  # noqa: S103 - the project's group reading it is the point
        for name in files:
            os.chown(os.path.join(root, name), 0, gid)
            os.chmod(os.path.join(root, name), 0o640)


def materialise(grant: Grant, dispensal: Path, gid: int, progress: Progress | None = None) -> Path:
    """The grant's view under ``dispensal`` (written now, or already there); return its path."""
    final = dispensed_path(grant, dispensal)
    if final.exists():
        return final
    # A name of its own: two writers (threads of one service) never share a staging directory.
    staging = dispensal / f".writing-{final.name}-{uuid.uuid4().hex[:12]}"
    try:
        staging.mkdir()
        dispenser_for(grant.kind).write(grant, staging, progress)
        _share(staging, gid)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
