"""``wgs-tre airlock``: output requests, from a researcher's draft to the stewards' verdicts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wgs_tre.cli.common import State, state
from wgs_tre.types import OutputRequestState

if TYPE_CHECKING:
    from wgs_tre.airlock.requests import RequestSummary, RequestView


def _requests() -> Any:
    """The library, imported when a command runs: it loads the data stack (pandas) for the
    checks, which ``wgs-tre --help`` and the other commands do not need."""
    from wgs_tre.airlock import requests

    return requests


def _release() -> Any:
    from wgs_tre.airlock import release

    return release


app = typer.Typer(
    help="Output requests: the only way results leave a project. A researcher creates a "
    "request, adds workspace files with a justification each and submits it (the files are "
    "copied and hashed then, and checked for disclosure risk); two stewards free of conflicts "
    "approve it, or one requests changes or rejects it. The approval that makes it approved "
    "releases it: its files, as reviewed, are written to the project's release area, from "
    "which the project's members download them through the hub.",
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
) -> None:
    """Add a workspace file to a draft (or to a request sent back for changes), with its
    justification; adding it again replaces the justification (the requester)."""
    st = state(ctx)
    _done(st, _requests().add_file(st.context(), ref, path, justification), f"{path} added")


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
