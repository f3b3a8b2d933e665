"""Releasing an approved output request, and downloading what was released (issue 17, item 6).

A steward free of conflicts releases an approved request (the CLI does it right after the
approval that makes it approved). The files of the approved submission are copied from the
request's area into the project's release area::

    <releases>/<project>/<ref>/release.json     what was released, why, and who approved it
    <releases>/<project>/<ref>/files/<name>     each file as the stewards reviewed it

Each copy's SHA-256 must be the one recorded at submission, or the release is refused: the
stewards approved those bytes and no others. A table's record of checks (``.checks.json``, which
holds each cell's largest values) is not a file of the request and never reaches this area.

The release is written in ``<releases>/.staging/`` and renamed into place whole, after every
file is on disk, so a release interrupted at any moment (kill -9 included) leaves either no
``<ref>`` directory or a complete one; the staging leftovers of an interrupted release are
removed by the next. Only then does the transaction mark the request released, audited with
the files' hashes. A directory renamed into place by a release whose transaction did not commit
is set aside and written again, and nothing is served from it meanwhile: a download
(:func:`released_file`) needs the request released in the store, a file the request lists, and
that file's hash to match the record.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wgs_tre.airlock.requests import RequestView, disclosure_policy, governed_step, request_view
from wgs_tre.airlock.workspace import copy_checked, sha256_of
from wgs_tre.errors import IntegrityError, NotFound
from wgs_tre.governance.context import Context, Tx
from wgs_tre.governance.transitions import OUTPUT_REQUEST
from wgs_tre.store.models import OutputRequest
from wgs_tre.types import Action, Verdict

__all__ = ["MANIFEST", "STAGING", "ReleasedFile", "release", "release_dir", "released_file"]

MANIFEST = "release.json"
STAGING = ".staging"
_FORMAT = "wgs-tre-release/1"


@dataclass(frozen=True)
class ReleasedFile:
    """A released file, checked against its recorded hash, for the hub to send."""

    ref: str
    project: str
    name: str
    path: Path
    size: int
    sha256: str


def release_dir(releases: Path, project: str, ref: str) -> Path:
    return Path(releases) / project / ref


def _manifest(tx: Tx, request: OutputRequest) -> dict[str, Any]:
    approvals = [
        {"steward": r.steward.username, "comment": r.comment, "at": r.reviewed_at.isoformat()}
        for r in request.reviews
        if r.submission == request.submission and r.verdict is Verdict.APPROVE
    ]
    return {
        "format": _FORMAT,
        "request": request.ref,
        "project": request.project.slug,
        "requester": request.requester.username,
        "purpose": request.purpose,
        "submission": request.submission,
        "released_at": tx.now.isoformat(),
        "released_by": tx.user.username,
        "approvals": approvals,
        "files": [
            {
                "name": f.name,
                "size": f.size,
                "sha256": f.sha256,
                "justification": f.justification,
                "findings": len(f.findings or []),
            }
            for f in request.files
        ],
    }


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _set_aside(path: Path, staging: Path) -> None:
    """Remove ``path`` whole: renamed out of the release area first, so an interruption never
    leaves part of it there."""
    aside = staging / f"removed-{path.name}-{secrets.token_hex(4)}"
    path.rename(aside)
    shutil.rmtree(aside)


def _write(request: OutputRequest, manifest: dict[str, Any], staging: Path) -> Path:
    """The release, complete and on disk, in a new directory under ``staging`` (removed if
    the release is refused)."""
    written = staging / f"{request.ref}-{secrets.token_hex(4)}"
    (written / "files").mkdir(parents=True)
    try:
        _write_into(written, request, manifest)
    except BaseException:
        shutil.rmtree(written)
        raise
    return written


def _write_into(written: Path, request: OutputRequest, manifest: dict[str, Any]) -> None:
    ref = request.ref
    for row in request.files:
        if row.stored_path is None or row.sha256 is None:
            raise IntegrityError(f"{row.name} of {ref} has no reviewed copy: submit it again")
        target = written / "files" / row.name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(row.stored_path, "rb") as source:
                _, digest = copy_checked(source, target, row.name)
        except FileNotFoundError:
            raise IntegrityError(
                f"the reviewed copy of {row.name} of {ref} is missing from the airlock area"
            ) from None
        if digest != row.sha256:
            raise IntegrityError(
                f"the reviewed copy of {row.name} of {ref} no longer has the SHA-256 recorded "
                "when it was submitted: it changed after review, and is not released"
            )
    with (written / MANIFEST).open("x") as out:
        json.dump(manifest, out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    for directory in sorted({p.parent for p in written.rglob("*")}, reverse=True):
        _fsync_dir(directory)


def release(ctx: Context, ref: str, *, releases: Path) -> RequestView:
    """Write the approved request's files to its project's release area and mark it released
    (a steward free of conflicts)."""
    needed = disclosure_policy(ctx).approvals_needed
    with governed_step(ctx, Action.AIRLOCK_RELEASE, ref) as tx:
        request: OutputRequest = tx.found
        slug = tx.project = request.project.slug
        staging = Path(releases) / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        for left in staging.glob(f"{ref}-*"):  # an interrupted release of this request
            shutil.rmtree(left)
        final = release_dir(releases, slug, ref)
        if final.exists():  # renamed into place by a release whose transaction did not commit
            _set_aside(final, staging)
        manifest = _manifest(tx, request)
        written = _write(request, manifest, staging)
        final.parent.mkdir(parents=True, exist_ok=True)
        written.rename(final)
        _fsync_dir(final.parent)
        request.state = OUTPUT_REQUEST.next(request.state, Action.AIRLOCK_RELEASE, ref)
        request.updated_at = tx.now
        tx.audit(
            f"released submission {request.submission} of {ref}: {len(request.files)} files",
            details={
                "request": ref,
                "submission": request.submission,
                "files": {row.name: row.sha256 for row in request.files},
                "approvals": [a["steward"] for a in manifest["approvals"]],
            },
        )
        return request_view(tx, request, needed)


def released_file(ctx: Context, ref: str, name: str, *, releases: Path) -> ReleasedFile:
    """A file of a released request, for an active member of its project to download; each
    download is audited. Only the files the request lists are served, and only while their
    hash is the one recorded."""
    with governed_step(ctx, Action.AIRLOCK_DOWNLOAD, ref) as tx:
        request: OutputRequest = tx.found
        slug = tx.project = request.project.slug
        row = next((f for f in request.files if f.name == name), None)
        if row is None or row.sha256 is None:
            raise NotFound("released file", f"{ref}/{name}")
        path = release_dir(releases, slug, ref) / "files" / row.name
        try:
            with path.open("rb") as stream:
                digest = sha256_of(stream)
        except FileNotFoundError:
            raise IntegrityError(f"{name} of {ref} is missing from the release area") from None
        if digest != row.sha256:
            raise IntegrityError(
                f"{name} of {ref} in the release area does not match the SHA-256 approved"
            )
        tx.audit(
            f"{name} of {ref} downloaded",
            details={"request": ref, "file": name, "sha256": digest},
        )
        return ReleasedFile(ref, slug, name, path, path.stat().st_size, digest)
