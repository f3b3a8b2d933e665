"""Bringing files into a project through the airlock (issue 17, item 4: ingress).

A researcher, an active member of an approved project, brings in a file (code, a reference
table such as a polygenic-score weights file) with a justification. It goes through the
sanitizer in the ingress direction (:func:`~wgs_tre.airlock.sanitize`: its type by content,
metadata, notebook outputs and active content removed, unsafe archives refused); a refusal
refuses the bring-in, audited, with the sanitizer's message. The sanitized copy is written to
``<area>/ingress/<project>/<ref>/<name>`` (in a temporary directory renamed into place) and its
size and SHA-256 recorded.

When ``policies/files.yaml`` says so (``ingress_needs_approval``, the shipped default) the file
waits, pending, for one steward free of conflicts (not the requester, not a member of the
project, not of the applicant's organisation) to admit or refuse it; otherwise it is admitted
at once. Admitting places the sanitized copy in the project's workspace as a new file,
``<workspace>/incoming/<name>`` (``<stem> (2)<suffix>`` and so on if the name is taken: nothing
is ever overwritten), owned by root with the workspace's group, mode 0660.

The workspace is the researchers' to change, so nothing there is followed: ``incoming`` is
opened from the workspace's descriptor with ``O_NOFOLLOW`` (a link put in its place is refused),
the copy is written to an unnamed file in it (``O_TMPFILE``; a random temporary name where the
filesystem has none) and linked, by its descriptor, to its final name, which fails if anything,
a link included, already has that name.

Every step is a governed transaction decided by :data:`~wgs_tre.governance.transitions.INGRESS`
and :func:`wgs_tre.governance.rules.ingress_step`, audited in the same transaction; refusals
are audited.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import secrets
import shutil
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import select

from wgs_tre.airlock.filepolicy import Direction, FilePolicy
from wgs_tre.airlock.requests import file_policy
from wgs_tre.airlock.sanitize import Sanitized, sanitize
from wgs_tre.airlock.workspace import checked_text
from wgs_tre.audit import record_refusal
from wgs_tre.errors import AccessRefused, IntegrityError, InvalidInput, Reason, Refused
from wgs_tre.governance.authority import Resource
from wgs_tre.governance.context import Context, Tx
from wgs_tre.governance.refs import random_ref
from wgs_tre.governance.rules import ProjectAccess, project_member_ids, request_conflict
from wgs_tre.governance.transitions import INGRESS, INGRESS_START
from wgs_tre.store.models import IngressRequest
from wgs_tre.types import Action, IngressState, Role

_DECIDER = "the steward who decides"  # who reads a justification

__all__ = [
    "INCOMING",
    "IngressView",
    "admit",
    "bring_in",
    "list_ingress",
    "plain_name",
    "refuse",
    "show",
]

INCOMING = "incoming"  # the workspace's directory that admitted files are placed in
MAX_NAME = 200  # bytes in a file's name, leaving room for " (N)"
MAX_COPIES = 1000  # files of one name in incoming/
_COMPRESSED = {".gz", ".bz2", ".xz", ".zst"}  # kept with the suffix before: data (2).tar.gz


@dataclass(frozen=True)
class IngressView:
    """A file brought in, as its project's members and the stewards see it. ``placed_as``:
    its name in the workspace's ``incoming/`` once admitted."""

    ref: str
    project: str
    requester: str
    name: str
    justification: str
    size: int
    sha256: str
    actions: tuple[str, ...]  # what the sanitizer removed or checked
    state: IngressState
    placed_as: str | None
    decided_by: str | None  # None while pending, and when the policy admitted it
    decided_at: dt.datetime | None
    comment: str
    created_at: dt.datetime
    updated_at: dt.datetime
    copy: Path  # the sanitized copy in the airlock's area


def _view(tx: Tx, row: IngressRequest) -> IngressView:
    tx.session.flush()
    tx.session.refresh(row)
    return IngressView(
        ref=row.ref,
        project=row.project.slug,
        requester=row.requester.username,
        name=row.name,
        justification=row.justification,
        size=row.size,
        sha256=row.sha256,
        actions=tuple(row.actions),
        state=row.state,
        placed_as=row.placed_as,
        decided_by=row.decided_by.username if row.decided_by else None,
        decided_at=row.decided_at,
        comment=row.comment,
        created_at=row.created_at,
        updated_at=row.updated_at,
        copy=Path(row.stored_path),
    )


def plain_name(name: str) -> str:
    """``name`` if it is a plain file name (no folders, not hidden, printable, not too long),
    else :class:`InvalidInput` saying what to do."""
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidInput(
            name or "the file's name",
            "a file brought in is named by a plain name, without folders: give the file itself",
        )
    if name.startswith("."):
        raise InvalidInput(name, "is a hidden name: rename the file so it does not start with '.'")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInput(repr(name), "holds control characters: rename the file")
    if len(name.encode("utf-8")) > MAX_NAME:
        raise InvalidInput(name[:40] + "...", f"is longer than {MAX_NAME} bytes: rename it")
    return name


def _new_ref(tx: Tx) -> str:
    return random_ref("I", set(tx.session.scalars(select(IngressRequest.ref))))


def _sanitized(
    ctx: Context, source: Path, name: str, home: Path, project: str, policy: FilePolicy
) -> tuple[Path, Sanitized]:
    """The sanitized copy of ``source``, in a new private directory under ``home`` (renamed
    into place once recorded), and what the sanitizer did. A refusal is audited here: the
    sanitizer runs outside the governed transaction, so as not to hold the store's write lock
    while it reads a large file."""
    home.mkdir(parents=True, exist_ok=True)
    staging = home / f".partial-{secrets.token_hex(6)}"
    staging.mkdir(mode=0o700)
    try:
        done = sanitize(
            source, direction=Direction.INGRESS, out=staging / name, policy=policy, name=name
        )
    except (Refused, InvalidInput) as error:  # not allowed in, or not what it claims to be
        shutil.rmtree(staging)
        record_refusal(
            ctx.store,
            actor=ctx.actor,
            action=Action.AIRLOCK_BRING_IN,
            reason=error.reason if isinstance(error, Refused) else error.message,
            project=project,
            details={"file": name, **ctx.witness},
            when=ctx.clock(),
        )
        raise
    except BaseException:
        shutil.rmtree(staging)
        raise
    return staging / name, done


def bring_in(
    ctx: Context,
    project: str,
    source: Path,
    justification: str,
    *,
    area: Path,
    workspace: Path,
    name: str | None = None,
) -> IngressView:
    """Bring the file at ``source`` into ``project`` (the actor: an active member), sanitized
    into ``area`` (the airlock's directory under the data directory); pending a steward's
    approval if the policy wants one, else placed in ``workspace`` (the project's workspace) at
    once. ``name``: the file's name as the researcher gave it (default: the source's name)."""
    name = plain_name(PurePosixPath(str(source)).name if name is None else name)
    justification = checked_text("justification", justification, required=True, reader=_DECIDER)
    policy = file_policy(ctx)
    with ctx.transaction(Action.AIRLOCK_BRING_IN, project=project, audited=False):
        pass  # refused, and audited, before any work on the file
    home = Path(area) / "ingress" / project
    staged, done = _sanitized(ctx, Path(source), name, home, project, policy)
    try:
        with ctx.transaction(Action.AIRLOCK_BRING_IN, project=project) as tx:
            found: ProjectAccess = tx.found
            ref = _new_ref(tx)
            final = home / ref
            if final.exists():  # left by a bring-in whose transaction did not commit
                shutil.rmtree(final)
            staged.parent.rename(final)
            try:
                return _record(tx, found, ref, justification, final / name, done, workspace)
            except BaseException:
                shutil.rmtree(final)  # not recorded: nothing of it stays
                raise
    finally:
        if staged.parent.exists():
            shutil.rmtree(staged.parent)


def _record(
    tx: Tx,
    found: ProjectAccess,
    ref: str,
    justification: str,
    copy: Path,
    done: Sanitized,
    workspace: Path,
) -> IngressView:
    name, digest, actions = copy.name, done.sha256, done.actions
    state = INGRESS_START[done.needs_approval]
    row = IngressRequest(
        ref=ref,
        project_id=found.project.id,
        requester_id=tx.user.id,
        name=name,
        justification=justification,
        size=done.size,
        sha256=digest,
        stored_path=str(copy),
        actions=list(actions),
        state=state,
        comment="",
        created_at=tx.now,
        updated_at=tx.now,
    )
    if state is IngressState.ADMITTED:  # the policy needs no steward: placed now
        row.placed_as = place(Path(workspace), copy, name, digest, ref)
        row.decided_at = tx.now
    tx.session.add(row)
    tx.audit(
        f"{name} brought into {found.project.slug} as {ref}: {state.value}",
        details={
            "ingress": ref,
            "file": name,
            "sha256": digest,
            "sanitized": list(actions),
            "state": state.value,
            **({"placed_as": f"{INCOMING}/{row.placed_as}"} if row.placed_as else {}),
        },
    )
    return _view(tx, row)


def _candidates(name: str) -> list[str]:
    path = PurePosixPath(name)
    suffixes = path.suffixes[-2:] if path.suffix in _COMPRESSED else path.suffixes[-1:]
    suffix = "".join(suffixes) if suffixes and name != "".join(suffixes) else ""
    stem = name[: len(name) - len(suffix)]
    return [name] + [f"{stem} ({n}){suffix}" for n in range(2, MAX_COPIES + 1)]


def _refuse_link(ref: str) -> AccessRefused:
    return AccessRefused(
        Reason.OUTSIDE_WORKSPACE,
        f"{INCOMING}/ in the project's workspace is not a directory (ingress request {ref}): "
        f"remove what is there under that name, then ask again",
    )


def place(workspace: Path, copy: Path, name: str, sha256: str, ref: str) -> str:
    """Write ``copy`` into ``<workspace>/incoming/`` as a new file named ``name`` (or with a
    number added), owned by root with the workspace's group, mode 0660; its name there.
    Nothing on the way is followed (see the module docstring)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_DIRECTORY
    try:
        root = os.open(workspace, flags)
    except OSError as exc:
        raise InvalidInput(
            str(workspace), f"the project's workspace cannot be opened: {exc.strerror}"
        ) from None
    try:
        gid = os.fstat(root).st_gid
        try:
            os.mkdir(INCOMING, 0o700, dir_fd=root)
            created = True
        except FileExistsError:
            created = False
        try:
            here = os.open(INCOMING, flags, dir_fd=root)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link, or a file, in its place
                raise _refuse_link(ref) from None
            raise
    finally:
        os.close(root)
    try:
        if created:  # the project's, like the rest of the workspace
            os.fchown(here, 0, gid)
            os.fchmod(here, 0o2770)
        return _write_new(here, copy, name, sha256, gid)
    finally:
        os.close(here)


def _unnamed(here: int) -> tuple[int, str | None]:
    """A new file in the directory ``here`` for the copy: unnamed (``O_TMPFILE``) where the
    filesystem allows, so nothing in the workspace can touch it before it is linked in; else
    under a random temporary name. Its descriptor, and that name if it has one."""
    flags = os.O_WRONLY | os.O_CLOEXEC
    try:
        return os.open(".", flags | os.O_TMPFILE, 0o600, dir_fd=here), None
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            raise
    temp = f".{INCOMING}-{secrets.token_hex(6)}.partial"
    return os.open(temp, flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=here), temp


def _write_new(here: int, copy: Path, name: str, sha256: str, gid: int) -> str:
    fd, temp = _unnamed(here)
    try:
        digest = hashlib.sha256()
        with copy.open("rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view) :]
        if digest.hexdigest() != sha256:
            raise IntegrityError(
                f"the sanitized copy of {name} no longer has the SHA-256 recorded when it was "
                "brought in: it is not placed"
            )
        os.fchown(fd, 0, gid)
        os.fchmod(fd, 0o660)
        os.fsync(fd)
        for candidate in _candidates(name):
            try:
                # The file written, by its descriptor (whatever is at its temporary name now);
                # linkat fails if anything, a link included, has the name: never overwritten.
                os.link(f"/proc/self/fd/{fd}", candidate, dst_dir_fd=here, follow_symlinks=True)
            except FileExistsError:
                continue
            os.fsync(here)
            return candidate
        raise InvalidInput(name, f"{MAX_COPIES} files of this name are in {INCOMING}/ already")
    finally:
        os.close(fd)
        if temp is not None:
            with suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=here)


def _step(
    ctx: Context, action: Action, ref: str, *, audited: bool = True
) -> AbstractContextManager[Tx]:
    return ctx.transaction(action, resource=Resource.ingress_request(ref), audited=audited)


def admit(ctx: Context, ref: str, comment: str = "", *, workspace: Path) -> IngressView:
    """Admit a pending file (a steward free of conflicts): its sanitized copy is placed in
    ``workspace``, the project's workspace, under ``incoming/``."""
    comment = checked_text("comment", comment, required=False, reader=_DECIDER)
    with _step(ctx, Action.AIRLOCK_ADMIT, ref) as tx:
        row: IngressRequest = tx.found
        slug = tx.project = row.project.slug
        row.state = INGRESS.next(row.state, Action.AIRLOCK_ADMIT, ref)
        row.placed_as = place(Path(workspace), Path(row.stored_path), row.name, row.sha256, ref)
        row.decided_by_id, row.decided_at, row.comment = tx.user.id, tx.now, comment
        row.updated_at = tx.now
        tx.audit(
            comment or f"{row.name} admitted into {slug}",
            details={
                "ingress": ref,
                "file": row.name,
                "sha256": row.sha256,
                "placed_as": f"{INCOMING}/{row.placed_as}",
            },
        )
        return _view(tx, row)


def refuse(ctx: Context, ref: str, comment: str) -> IngressView:
    """Refuse a pending file, saying why (a steward free of conflicts): it never reaches the
    workspace."""
    comment = checked_text("comment", comment, required=True, reader=_DECIDER)
    with _step(ctx, Action.AIRLOCK_REFUSE_IN, ref) as tx:
        row: IngressRequest = tx.found
        tx.project = row.project.slug
        row.state = INGRESS.next(row.state, Action.AIRLOCK_REFUSE_IN, ref)
        row.decided_by_id, row.decided_at, row.comment = tx.user.id, tx.now, comment
        row.updated_at = tx.now
        tx.audit(comment, details={"ingress": ref, "file": row.name})
        return _view(tx, row)


def show(ctx: Context, ref: str) -> IngressView:
    """A file brought in (its project's members and the stewards)."""
    with _step(ctx, Action.AIRLOCK_VIEW_IN, ref, audited=False) as tx:
        return _view(tx, tx.found)


def list_ingress(ctx: Context) -> list[IngressView]:
    """A steward's queue (pending files they are free of conflicts to decide); anyone else's
    files brought into the projects they belong to."""
    with ctx.transaction(Action.AIRLOCK_LIST, audited=False) as tx:
        user = tx.user
        rows = tx.session.scalars(select(IngressRequest).order_by(IngressRequest.updated_at))
        chosen = []
        for row in rows:
            if Role.STEWARD in user.roles:
                if row.state is not IngressState.PENDING or request_conflict(tx.session, user, row):
                    continue
            elif user.id not in project_member_ids(tx.session, row.project):
                continue
            chosen.append(_view(tx, row))
        return chosen
