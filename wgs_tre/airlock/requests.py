"""Airlock output requests (issue 17, item 1): what a researcher asks to take out of a project.

A researcher of an approved project creates a request (a draft) with its purpose, adds files
from the project's workspace with a justification each, and submits it. Submitting copies every
file into the request's area (``<area>/<project>/<ref>/<submission>/``, written in a temporary
directory renamed into place) through the sanitizer (:func:`~wgs_tre.airlock.sanitize`: its type
by content, metadata and active content removed; what it may not be refused), records each
sanitized copy's size and SHA-256, and stores what the
automatic disclosure checks found in it (:func:`~wgs_tre.airlock.self_check`: tables with a
record of checks are re-checked from it and compared with the project's released tables, GWAS
summaries checked per variant, other tables reported as such). Later edits in the workspace
change nothing reviewed.

Stewards free of conflicts review a submission: approve, request changes or reject, each with a
comment. ``approvals_needed`` (``policies/disclosure.yaml``, at least two) distinct stewards'
approvals of the same submission make it approved. A steward who made the request, belongs to
its project (or to the applicant's organisation), or has already reviewed the submission is
refused. The requester may withdraw it until it is decided.

Every step is a governed transaction (:meth:`Context.transaction`) decided by
:func:`wgs_tre.governance.rules.request_step` and the state machine
:data:`~wgs_tre.governance.transitions.OUTPUT_REQUEST`, audited in the same transaction;
refusals are audited by the context. An approved request is released by
:func:`wgs_tre.airlock.release.release`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select

from wgs_tre.airlock.differencing import released_tables
from wgs_tre.airlock.filepolicy import Direction, FilePolicy, load_file_policy
from wgs_tre.airlock.pseudonyms import check_pseudonyms
from wgs_tre.airlock.rules import DisclosurePolicy, load_disclosure_policy
from wgs_tre.airlock.sanitize import sanitize
from wgs_tre.airlock.selfcheck import self_check
from wgs_tre.airlock.tables import SIDECAR_SUFFIX, CheckedTable, sidecar_path
from wgs_tre.airlock.workspace import (
    MAX_TEXT,
    checked_text,
    copy_checked,
    in_workspace,
    open_in,
)
from wgs_tre.errors import InvalidInput, WgsTreError
from wgs_tre.governance.authority import Resource
from wgs_tre.governance.context import Context, Tx
from wgs_tre.governance.refs import random_ref
from wgs_tre.governance.rules import ProjectAccess, project_member_ids, request_conflict
from wgs_tre.governance.transitions import OUTPUT_REQUEST, verb
from wgs_tre.store.models import OutputRequest, OutputRequestFile, OutputReview
from wgs_tre.types import Action, OutputRequestState, Role, Verdict

__all__ = [
    "FileEntry",
    "RequestSummary",
    "RequestView",
    "ReviewEntry",
    "ReviewMaterial",
    "add_file",
    "approve",
    "create",
    "create_and_submit",
    "list_requests",
    "reject",
    "request_changes",
    "review",
    "review_material",
    "show",
    "submit",
    "withdraw",
]

Released = list[tuple[str, CheckedTable]]
# Tables and summary statistics the automatic checks read (plink2's .glm.* files too); other
# files (figures, documents, text) are for the stewards' eyes.
CHECKED_SUFFIXES = {".csv", ".tsv", ".parquet", ".gz"}
_QUEUE = {OutputRequestState.SUBMITTED, OutputRequestState.IN_REVIEW}
_VERDICTS = {
    Verdict.APPROVE: Action.AIRLOCK_APPROVE,
    Verdict.REQUEST_CHANGES: Action.AIRLOCK_REQUEST_CHANGES,
    Verdict.REJECT: Action.AIRLOCK_REJECT,
}


@dataclass(frozen=True)
class FileEntry:
    """A file of a request; ``sha256``, ``size`` and ``findings`` once submitted (``findings``
    None: no automatic check applies to this kind of file)."""

    name: str
    justification: str
    size: int | None
    sha256: str | None
    findings: list[dict[str, Any]] | None
    keep_outputs: bool = False  # a notebook whose outputs are what is reviewed


@dataclass(frozen=True)
class ReviewEntry:
    submission: int
    steward: str
    verdict: Verdict
    comment: str
    reviewed_at: dt.datetime


@dataclass(frozen=True)
class RequestSummary:
    ref: str
    project: str
    requester: str
    state: OutputRequestState
    submission: int
    files: int
    updated_at: dt.datetime


@dataclass(frozen=True)
class RequestView:
    """A request as its members and the stewards see it."""

    ref: str
    project: str
    requester: str
    purpose: str
    state: OutputRequestState
    submission: int
    approvals: int  # distinct stewards approving the current submission
    approvals_needed: int
    created_at: dt.datetime
    updated_at: dt.datetime
    files: list[FileEntry]
    reviews: list[ReviewEntry]


def disclosure_policy(ctx: Context) -> DisclosurePolicy:
    source = ctx.policies.source
    return load_disclosure_policy(source) if source is not None else DisclosurePolicy()


def _approvals(request: OutputRequest) -> int:
    return len(
        {
            r.steward_id
            for r in request.reviews
            if r.submission == request.submission and r.verdict is Verdict.APPROVE
        }
    )


def file_policy(ctx: Context) -> FilePolicy:
    source = ctx.policies.source
    return load_file_policy(source) if source is not None else FilePolicy()


def request_view(tx: Tx, request: OutputRequest, needed: int) -> RequestView:
    tx.session.flush()
    tx.session.refresh(request)
    return RequestView(
        ref=request.ref,
        project=request.project.slug,
        requester=request.requester.username,
        purpose=request.purpose,
        state=request.state,
        submission=request.submission,
        approvals=_approvals(request),
        approvals_needed=needed,
        created_at=request.created_at,
        updated_at=request.updated_at,
        files=[
            FileEntry(f.name, f.justification, f.size, f.sha256, f.findings, f.keep_outputs)
            for f in request.files
        ],
        reviews=[
            ReviewEntry(r.submission, r.steward.username, r.verdict, r.comment, r.reviewed_at)
            for r in request.reviews
        ],
    )


def governed_step(ctx: Context, action: Action, ref: str, *, audited: bool = True) -> Any:
    return ctx.transaction(action, resource=Resource.output_request(ref), audited=audited)


def _new_ref(tx: Tx) -> str:
    return random_ref("R", set(tx.session.scalars(select(OutputRequest.ref))))


def create(ctx: Context, project: str, purpose: str, *, workspace: Path) -> RequestView:
    """A draft request of ``project`` (the actor must be an active member of its approval),
    whose files will be taken from ``workspace``, the project's workspace directory."""
    purpose = checked_text("purpose", purpose, required=True)
    root = Path(workspace)
    if not root.is_dir():
        raise InvalidInput(str(workspace), "the project's workspace is not a directory")
    with ctx.transaction(Action.AIRLOCK_CREATE, project=project) as tx:
        found: ProjectAccess = tx.found
        request = OutputRequest(
            ref=_new_ref(tx),
            project_id=found.project.id,
            requester_id=tx.user.id,
            purpose=purpose,
            workspace=str(root.resolve()),
            state=OutputRequestState.DRAFT,
            submission=0,
            created_at=tx.now,
            updated_at=tx.now,
        )
        tx.session.add(request)
        tx.session.flush()
        tx.audit(f"output request {request.ref} created", details={"request": request.ref})
        return request_view(tx, request, disclosure_policy(ctx).approvals_needed)


def add_file(
    ctx: Context,
    ref: str,
    path: Path | str,
    justification: str,
    *,
    keep_outputs: bool = False,
) -> RequestView:
    """Add a workspace file to the request with why it should leave (the requester, while the
    request is a draft or sent back for changes). Adding a file again replaces its
    justification. A notebook leaves without its outputs unless ``keep_outputs``: its outputs
    are what the stewards review."""
    justification = checked_text("justification", justification, required=True)
    if keep_outputs and PurePosixPath(str(path)).suffix != ".ipynb":
        raise InvalidInput(str(path), "only a notebook (.ipynb) has outputs to keep")
    with governed_step(ctx, Action.AIRLOCK_ADD_FILE, ref) as tx:
        request: OutputRequest = tx.found
        tx.project = request.project.slug
        _, name = in_workspace(Path(request.workspace), path, ref)
        if name.endswith(SIDECAR_SUFFIX):  # a table's evidence: largest values, kept inside
            raise InvalidInput(
                name,
                "is a table's record of checks, which stays in the TRE: add the table itself "
                "(its record goes with it to the stewards, and is never released)",
            )
        existing = next((f for f in request.files if f.name == name), None)
        if existing is not None:
            existing.justification = justification
            existing.keep_outputs = keep_outputs
        else:
            tx.session.add(
                OutputRequestFile(
                    request_id=request.id,
                    name=name,
                    justification=justification,
                    keep_outputs=keep_outputs,
                    added_at=tx.now,
                )
            )
        request.state = OUTPUT_REQUEST.next(request.state, Action.AIRLOCK_ADD_FILE, ref)
        request.updated_at = tx.now
        tx.audit(f"{name} added to {ref}", details={"request": ref, "file": name})
        return request_view(tx, request, disclosure_policy(ctx).approvals_needed)


def _checked(name: str) -> bool:
    return Path(name).suffix.lower() in CHECKED_SUFFIXES or ".glm." in name


def _released(tx: Tx, request: OutputRequest, area: Path, policy: DisclosurePolicy) -> Released:
    """The tables (with their records) of the project's released requests, as reviewed in the
    airlock's area, named ``<ref>/<file>``, for differencing."""
    earlier = tx.session.scalars(
        select(OutputRequest).where(
            OutputRequest.project_id == request.project_id,
            OutputRequest.state == OutputRequestState.RELEASED,
        )
    )
    found: Released = []
    for other in earlier:
        reviewed = Path(area) / request.project.slug / other.ref / str(other.submission)
        if reviewed.is_dir():
            found += [(f"{other.ref}/{n}", t) for n, t in released_tables(reviewed, policy)]
    return found


def _findings(
    copy: Path, policy: DisclosurePolicy, released: Released
) -> list[dict[str, Any]] | None:
    """What the checks found: every file is searched for pseudonyms; tables and summary
    statistics are checked in full. None: a figure or a document with no pseudonym in it, for
    the stewards' eyes alone."""
    if _checked(copy.name):
        found = list(self_check(copy, policy, released=released).findings)
    else:
        found = check_pseudonyms(copy)
        if not found:
            return None
    return [
        {
            "rule": f.rule.value,
            "message": f.message,
            "cells": [list(cell) for cell in f.cells],
            "fixes": [fix.value for fix in f.fixes],
        }
        for f in found
    ]


def submit(ctx: Context, ref: str, *, area: Path) -> RequestView:
    """Copy the request's files into ``area`` (the airlock's directory under the data
    directory), record their hashes and the automatic checks' findings, and send it for
    review (the requester)."""
    policy = disclosure_policy(ctx)
    files = file_policy(ctx)
    with governed_step(ctx, Action.AIRLOCK_SUBMIT, ref) as tx:
        request: OutputRequest = tx.found
        slug = tx.project = request.project.slug
        if not request.files:
            raise InvalidInput(ref, "has no files: add the files to take out first")
        number = request.submission + 1
        home = Path(area) / slug / ref
        home.mkdir(parents=True, exist_ok=True)
        final = home / str(number)
        token = secrets.token_hex(4)
        staging = home / f".partial-{number}-{token}"
        taking = home / f".taking-{number}-{token}"  # raw copies, before the sanitizer
        staging.mkdir()
        taking.mkdir()
        released = _released(tx, request, area, policy)
        cleaned: dict[str, tuple[str, ...]] = {}
        try:
            root = Path(request.workspace)
            for index, row in enumerate(request.files):
                in_workspace(root, row.name, ref)
                copy = staging / row.name
                copy.parent.mkdir(parents=True, exist_ok=True)
                taken = taking / str(index)
                with open_in(root, row.name, ref) as source:
                    copy_checked(source, taken, row.name)
                # What the stewards review, and what is released, is the sanitized copy.
                done = sanitize(
                    taken,
                    direction=Direction.EGRESS,
                    out=copy,
                    policy=files,
                    name=row.name,
                    keep_outputs=row.keep_outputs,
                )
                taken.unlink()
                row.size, row.sha256, cleaned[row.name] = done.size, done.sha256, done.actions
                record = sidecar_path(Path(row.name)).as_posix()
                if (root / record).is_file():  # a table's record of checks travels with it
                    with open_in(root, record, ref) as source:
                        copy_checked(source, sidecar_path(copy), record)
                row.findings = _findings(copy, policy, released)
                row.stored_path = str(final / row.name)
            if final.exists():  # left by a submission whose transaction did not commit
                shutil.rmtree(final)
            staging.rename(final)
        finally:
            for left in (staging, taking):
                if left.exists():
                    shutil.rmtree(left)
        request.submission = number
        request.state = OUTPUT_REQUEST.next(request.state, Action.AIRLOCK_SUBMIT, ref)
        request.updated_at = tx.now
        tx.audit(
            f"submission {number} of {ref}: {len(request.files)} files",
            details={
                "request": ref,
                "submission": number,
                "files": {row.name: row.sha256 for row in request.files},
                "findings": sum(len(row.findings or []) for row in request.files),
                "sanitized": {name: list(actions) for name, actions in cleaned.items() if actions},
            },
        )
        return request_view(tx, request, policy.approvals_needed)


def create_and_submit(
    ctx: Context,
    project: str,
    purpose: str,
    files: Mapping[str, str],
    *,
    workspace: Path,
    area: Path,
    keep_outputs: Collection[str] = (),
) -> RequestView:
    """A request of ``files`` (workspace path -> justification) made and submitted in one go,
    as a session asks for it (``keep_outputs``: the notebooks among them whose outputs are
    what is reviewed). If a file is refused, the draft is withdrawn, saying why, and
    the refusal raised: nothing is left half-made."""
    if not files:
        raise InvalidInput("files", "name at least one file to take out")
    ref = create(ctx, project, purpose, workspace=workspace).ref
    try:
        for path, justification in files.items():
            add_file(ctx, ref, path, justification, keep_outputs=path in keep_outputs)
        return submit(ctx, ref, area=area)
    except WgsTreError as error:
        withdraw(ctx, ref, f"not submitted: {error.message}"[:MAX_TEXT])
        raise


def withdraw(ctx: Context, ref: str, reason: str = "") -> RequestView:
    """The requester withdraws the request, until it is decided."""
    reason = checked_text("reason", reason, required=False)
    with governed_step(ctx, Action.AIRLOCK_WITHDRAW, ref) as tx:
        request: OutputRequest = tx.found
        tx.project = request.project.slug
        request.state = OUTPUT_REQUEST.next(request.state, Action.AIRLOCK_WITHDRAW, ref)
        request.updated_at = tx.now
        tx.audit(reason or f"{ref} withdrawn", details={"request": ref})
        return request_view(tx, request, disclosure_policy(ctx).approvals_needed)


def review(ctx: Context, ref: str, verdict: Verdict, comment: str = "") -> RequestView:
    """A steward's verdict on the request's current submission. Approving needs no comment;
    requesting changes or rejecting says why."""
    action = _VERDICTS[verdict]
    comment = checked_text("comment", comment, required=verdict is not Verdict.APPROVE)
    needed = disclosure_policy(ctx).approvals_needed
    with governed_step(ctx, action, ref) as tx:
        request: OutputRequest = tx.found
        tx.project = request.project.slug
        tx.session.add(
            OutputReview(
                request_id=request.id,
                submission=request.submission,
                steward_id=tx.user.id,
                verdict=verdict,
                comment=comment,
                reviewed_at=tx.now,
            )
        )
        tx.session.flush()
        tx.session.refresh(request)
        approvals = _approvals(request)
        state = OUTPUT_REQUEST.next(request.state, action, ref)
        if state is OutputRequestState.APPROVED and approvals < needed:
            state = OutputRequestState.IN_REVIEW  # approved only once enough stewards agree
        request.state = state
        request.updated_at = tx.now
        tx.audit(
            f"{verb(action)} submission {request.submission} of {ref}: {state.value}",
            details={
                "request": ref,
                "submission": request.submission,
                "approvals": approvals,
                "approvals_needed": needed,
                "state": state.value,
            },
        )
        return request_view(tx, request, needed)


def approve(ctx: Context, ref: str, comment: str = "") -> RequestView:
    return review(ctx, ref, Verdict.APPROVE, comment)


def request_changes(ctx: Context, ref: str, comment: str) -> RequestView:
    return review(ctx, ref, Verdict.REQUEST_CHANGES, comment)


def reject(ctx: Context, ref: str, comment: str) -> RequestView:
    return review(ctx, ref, Verdict.REJECT, comment)


def show(ctx: Context, ref: str) -> RequestView:
    """The request, its files with their hashes and findings, and its reviews (its project's
    members and the stewards)."""
    needed = disclosure_policy(ctx).approvals_needed
    with governed_step(ctx, Action.AIRLOCK_VIEW, ref, audited=False) as tx:
        return request_view(tx, tx.found, needed)


def list_requests(ctx: Context) -> list[RequestSummary]:
    """A steward's queue (submitted or in review, without the requests they may not review or
    have reviewed already); anyone else's requests of the projects they belong to."""
    with ctx.transaction(Action.AIRLOCK_LIST, audited=False) as tx:
        user = tx.user
        rows = tx.session.scalars(select(OutputRequest).order_by(OutputRequest.updated_at))
        chosen = []
        for request in rows:
            if Role.STEWARD in user.roles:
                waiting = request.state in _QUEUE and not any(
                    r.steward_id == user.id and r.submission == request.submission
                    for r in request.reviews
                )
                if not waiting or request_conflict(tx.session, user, request):
                    continue
            elif user.id not in project_member_ids(tx.session, request.project):
                continue
            chosen.append(
                RequestSummary(
                    request.ref,
                    request.project.slug,
                    request.requester.username,
                    request.state,
                    request.submission,
                    len(request.files),
                    request.updated_at,
                )
            )
        return chosen


@dataclass(frozen=True)
class ReviewMaterial:
    """What a reviewer reads besides :class:`RequestView`: where each file's reviewed copy is
    (files not submitted yet have none), and the project's released requests, oldest first."""

    copies: dict[str, Path]
    released: list[RequestView]


def review_material(ctx: Context, ref: str) -> ReviewMaterial:
    """The reviewed copies of the request's files and its project's earlier releases (those
    who may see the request: its project's members and the stewards)."""
    needed = disclosure_policy(ctx).approvals_needed
    with governed_step(ctx, Action.AIRLOCK_VIEW, ref, audited=False) as tx:
        request: OutputRequest = tx.found
        earlier = tx.session.scalars(
            select(OutputRequest)
            .where(
                OutputRequest.project_id == request.project_id,
                OutputRequest.state == OutputRequestState.RELEASED,
            )
            .order_by(OutputRequest.updated_at)
        )
        return ReviewMaterial(
            copies={f.name: Path(f.stored_path) for f in request.files if f.stored_path},
            released=[request_view(tx, other, needed) for other in earlier],
        )
