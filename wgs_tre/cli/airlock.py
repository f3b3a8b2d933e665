"""``wgs-tre airlock``: output requests, from a researcher's draft to the stewards' verdicts;
and files brought into a project (``bring-in``, ``incoming``, ``admit``, ``refuse-in``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wgs_tre.cli.common import State, state
from wgs_tre.types import OutputRequestState

if TYPE_CHECKING:
    from wgs_tre.airlock.ingress import IngressView
    from wgs_tre.airlock.requests import RequestSummary, RequestView


def _requests() -> Any:
    """The library, imported when a command runs: it loads the data stack (pandas) for the
    checks, which ``wgs-tre --help`` and the other commands do not need."""
    from wgs_tre.airlock import requests

    return requests


def _release() -> Any:
    from wgs_tre.airlock import release

    return release


def _ingress() -> Any:
    from wgs_tre.airlock import ingress

    return ingress


app = typer.Typer(
    help="Output requests: the only way results leave a project. A researcher creates a "
    "request, adds workspace files with a justification each and submits it (the files are "
    "copied and hashed then, and checked for disclosure risk); two stewards free of conflicts "
    "approve it, or one requests changes or rejects it. The approval that makes it approved "
    "releases it: its files, as reviewed, are written to the project's release area, from "
    "which the project's members download them through the hub. Files come in the other way "
    "with `bring-in`: sanitized, and admitted into the workspace's incoming/ folder by a "
    "steward (or at once, if policies/files.yaml needs no approval).",
    no_args_is_help=True,
)

Ref = Annotated[str, typer.Argument(help="The request's reference (R-XXXXXX, see `list`).")]
Comment = Annotated[str, typer.Option("--comment", "-m", help="Your words, for the requester.")]
WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        help="The project's workspace, where the files are taken from (default: "
        "$WGS_TRE_WORKSPACE, which a session sets, or the current directory)."
    ),
]


def _area(st: State) -> Path:
    return st.settings.data_dir / "airlock"


def _releases(st: State) -> Path:
    return st.settings.data_dir / "releases"


def _show(st: State, view: RequestView) -> None:
    st.console.print(
        f"[bold]{view.ref}[/] {view.project}, by {view.requester}: {view.state.value} "
        f"(submission {view.submission}, {view.approvals} of {view.approvals_needed} approvals)"
    )
    st.console.print(f"purpose: {view.purpose}")
    st.table(
        "Files",
        ["file", "justification", "size", "sha256", "findings"],
        [
            (
                f.name,
                f.justification,
                f.size,
                (f.sha256 or "")[:12],
                "no pseudonym; judged by eye"
                if f.findings is None
                else "; ".join(x["message"] for x in f.findings) or "none",
            )
            for f in view.files
        ],
        wrap="justification",
    )
    for r in view.reviews:
        st.console.print(
            f"submission {r.submission}: {r.verdict.value} by {r.steward} "
            f"{r.reviewed_at:%Y-%m-%d %H:%M}{': ' + r.comment if r.comment else ''}"
        )


def _done(st: State, view: RequestView, message: str) -> None:
    st.emit(view, lambda v: st.done(f"{v.ref}: {message} ({v.state.value})"))


@app.command("create")
def create(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="The project's slug.")],
    purpose: Annotated[str, typer.Option(help="What the outputs are for (a paper, a talk).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Create a draft request (an active member of the approved project)."""
    st = state(ctx)
    root = workspace or Path(os.environ.get("WGS_TRE_WORKSPACE") or Path.cwd())
    view = _requests().create(st.context(), project, purpose, workspace=root)
    _done(st, view, f"created for {project}; add files with `wgs-tre airlock add {view.ref}`")


@app.command("add")
def add(
    ctx: typer.Context,
    ref: Ref,
    path: Annotated[Path, typer.Argument(help="The file, relative to the workspace.")],
    justification: Annotated[
        str, typer.Option("--justification", "-j", help="Why this file should leave.")
    ],
    keep_outputs: Annotated[
        bool,
        typer.Option(
            "--keep-outputs",
            help="A notebook whose outputs are what the stewards review (otherwise a "
            "notebook leaves without its outputs).",
        ),
    ] = False,
) -> None:
    """Add a workspace file to a draft (or to a request sent back for changes), with its
    justification; adding it again replaces the justification (the requester)."""
    st = state(ctx)
    view = _requests().add_file(st.context(), ref, path, justification, keep_outputs=keep_outputs)
    _done(st, view, f"{path} added")


@app.command("submit")
def submit(ctx: typer.Context, ref: Ref) -> None:
    """Copy the files into the request, record their hashes and the disclosure checks'
    findings, and send it to the stewards (the requester). Later edits change nothing sent."""
    st = state(ctx)
    view = _requests().submit(st.context(), ref, area=_area(st))
    _done(st, view, f"submission {view.submission} sent for review")


@app.command("list")
def list_(
    ctx: typer.Context,
    refs: Annotated[
        bool, typer.Option("--refs", help="Print only the references, one per line.")
    ] = False,
) -> None:
    """A researcher: the requests of their projects. A steward: the queue (submitted or in
    review, without those they may not review or have reviewed)."""
    st = state(ctx)
    rows = _requests().list_requests(st.context())
    if refs and not st.json:
        for row in rows:
            print(row.ref)
        return

    def render(rows: list[RequestSummary]) -> None:
        st.table(
            "Output requests",
            ["request", "project", "requester", "state", "submission", "files", "updated"],
            [
                (
                    r.ref,
                    r.project,
                    r.requester,
                    r.state.value,
                    r.submission,
                    r.files,
                    f"{r.updated_at:%Y-%m-%d %H:%M}",
                )
                for r in rows
            ],
        )

    st.emit(rows, render)


@app.command("show")
def show(ctx: typer.Context, ref: Ref) -> None:
    """A request: its files with their hashes and findings, and the reviews (its project's
    members and the stewards)."""
    st = state(ctx)
    st.emit(_requests().show(st.context(), ref), lambda v: _show(st, v))


@app.command("approve")
def approve(ctx: typer.Context, ref: Ref, comment: Comment = "") -> None:
    """Approve the submitted files (a steward free of conflicts, once per submission); the
    policy's count of approvals (two) makes the request approved, and then it is released."""
    st = state(ctx)
    view = _requests().approve(st.context(), ref, comment)
    if view.state is OutputRequestState.APPROVED:
        view = _release().release(st.context(), ref, releases=_releases(st))
    _done(st, view, "approved by you")


@app.command("release")
def release(ctx: typer.Context, ref: Ref) -> None:
    """Release an approved request whose release did not finish (a steward free of
    conflicts): its files, checked against the hashes the stewards approved, are written to
    the project's release area whole, or not at all."""
    st = state(ctx)
    view = _release().release(st.context(), ref, releases=_releases(st))
    _done(st, view, f"released to {_releases(st) / view.project / ref}")


@app.command("request-changes")
def request_changes(ctx: typer.Context, ref: Ref, comment: Comment = "") -> None:
    """Send the request back to the requester, saying what to change (a steward)."""
    st = state(ctx)
    _done(st, _requests().request_changes(st.context(), ref, comment), "changes requested")


@app.command("reject")
def reject(ctx: typer.Context, ref: Ref, comment: Comment = "") -> None:
    """Reject the request, saying why (a steward); nothing of it can leave."""
    st = state(ctx)
    _done(st, _requests().reject(st.context(), ref, comment), "rejected")


@app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    ref: Ref,
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")] = "",
) -> None:
    """Withdraw the request until it is decided (the requester)."""
    st = state(ctx)
    _done(st, _requests().withdraw(st.context(), ref, reason), "withdrawn")


# Files brought in (wgs_tre.airlock.ingress).

IngressRef = Annotated[str, typer.Argument(help="The file's reference (I-XXXXXX, see `incoming`).")]
ProjectWorkspace = Annotated[
    Path | None,
    typer.Option(
        help="The project's workspace, where admitted files are placed in incoming/ (default: "
        "the hub's workspace of the project, under $WGS_TRE_SESSIONS_ROOT, or "
        "$WGS_TRE_HUB_STATE/sessions as the hub's configuration sets it)."
    ),
]


def _sessions_root() -> Path:
    """Where the hub keeps the projects' workspaces: as ``hub/jupyterhub_config.py`` sets it
    (``$WGS_TRE_HUB_STATE/sessions``), or as the services are told (``$WGS_TRE_SESSIONS_ROOT``)."""
    given = os.environ.get("WGS_TRE_SESSIONS_ROOT")
    if given:
        return Path(given)
    return Path(os.environ.get("WGS_TRE_HUB_STATE", "/var/lib/wgs-tre/hub")) / "sessions"


def _project_workspace(project: str, given: Path | None) -> Path:
    if given is not None:
        return given
    from wgs_tre.hub.accounts import ensure_project

    return ensure_project(project, _sessions_root()).workspace


def _show_ingress(st: State, view: IngressView) -> None:
    decided = f" by {view.decided_by}" if view.decided_by else ""
    st.console.print(
        f"[bold]{view.ref}[/] {view.name} into {view.project}, by {view.requester}: "
        f"{view.state.value}{decided}"
    )
    st.console.print(f"justification: {view.justification}")
    st.console.print(f"size: {view.size} bytes, sha256: {view.sha256}")
    if view.actions:
        st.console.print("sanitizer: " + "; ".join(view.actions))
    if view.placed_as:
        st.console.print(f"placed as: incoming/{view.placed_as}")
    if view.comment:
        st.console.print(f"comment: {view.comment}")


@app.command("bring-in")
def bring_in(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="The project's slug.")],
    file: Annotated[Path, typer.Argument(help="The file to bring in (code, a reference table).")],
    justification: Annotated[
        str, typer.Option("--justification", "-j", help="Why the project needs this file.")
    ],
    workspace: ProjectWorkspace = None,
) -> None:
    """Bring a file into a project (an active member): it is sanitized (its type by content,
    metadata and notebook outputs removed, unsafe archives refused) and, once a steward admits
    it (or at once, if policies/files.yaml needs no approval), placed in the workspace as
    incoming/<name>, never overwriting a file there."""
    st = state(ctx)
    view = _ingress().bring_in(
        st.context(),
        project,
        file,
        justification,
        area=_area(st),
        workspace=_project_workspace(project, workspace),
    )
    message = (
        f"placed in {project}'s workspace as incoming/{view.placed_as}"
        if view.placed_as
        else "waiting for a steward's approval (see `wgs-tre airlock incoming`)"
    )
    st.emit(view, lambda v: st.done(f"{v.ref}: {v.name} {message} ({v.state.value})"))


@app.command("incoming")
def incoming(ctx: typer.Context) -> None:
    """A researcher: the files brought into their projects. A steward: those waiting for a
    decision that they are free of conflicts to decide."""
    st = state(ctx)
    rows = _ingress().list_ingress(st.context())

    def render(rows: list[IngressView]) -> None:
        st.table(
            "Files brought in",
            ["ref", "project", "requester", "file", "size", "state", "justification", "updated"],
            [
                (
                    r.ref,
                    r.project,
                    r.requester,
                    r.name,
                    r.size,
                    r.state.value,
                    r.justification,
                    f"{r.updated_at:%Y-%m-%d %H:%M}",
                )
                for r in rows
            ],
            wrap="justification",
        )

    st.emit(rows, render)


@app.command("show-in")
def show_in(ctx: typer.Context, ref: IngressRef) -> None:
    """A file brought in: its justification, hash, what the sanitizer did, and the decision
    (its project's members and the stewards)."""
    st = state(ctx)
    st.emit(_ingress().show(st.context(), ref), lambda v: _show_ingress(st, v))


@app.command("admit")
def admit(
    ctx: typer.Context, ref: IngressRef, comment: Comment = "", workspace: ProjectWorkspace = None
) -> None:
    """Admit a file brought in (a steward free of conflicts: not the requester, not a member
    of the project or of its applicant's organisation): its sanitized copy is placed in the
    project's workspace as incoming/<name> (or <name> (2) and so on: nothing is overwritten)."""
    st = state(ctx)
    lib = _ingress()
    project = lib.show(st.context(), ref).project
    view = lib.admit(st.context(), ref, comment, workspace=_project_workspace(project, workspace))
    st.emit(view, lambda v: st.done(f"{v.ref}: placed as incoming/{v.placed_as} in {project}"))


@app.command("refuse-in")
def refuse_in(ctx: typer.Context, ref: IngressRef, comment: Comment = "") -> None:
    """Refuse a file brought in, saying why (a steward free of conflicts); it never reaches
    the workspace."""
    st = state(ctx)
    view = _ingress().refuse(st.context(), ref, comment)
    st.emit(view, lambda v: st.done(f"{v.ref}: {v.name} refused ({v.state.value})"))
