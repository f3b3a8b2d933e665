"""``wgs-tre projects``: apply, review, decide, and manage approvals."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.panel import Panel

from wgs_tre.cli.common import State, jsonable, state
from wgs_tre.consent import reach
from wgs_tre.duo import Purpose
from wgs_tre.governance import approvals, projects, review
from wgs_tre.governance.views import ProjectView
from wgs_tre.types import Action, ProjectStatus, Vote

app = typer.Typer(
    help="Projects: applications to the data-use review committee and their approvals.",
    no_args_is_help=True,
)

DateOption = typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD")
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")]


def _label(status: str) -> str:
    return status.replace("_", " ")


def _votes(view: ProjectView, quorum: int | None) -> str:
    """Quorum progress of an application in review: "1 of 2 needed (1 approve, 0 reject)"."""
    assert view.application is not None
    votes = view.application.votes
    approve = sum(v.vote == Vote.APPROVE for v in votes)
    counts = f"{approve} approve, {len(votes) - approve} reject"
    needed = f" of {quorum} needed" if quorum is not None else " (no quorum set)"
    return f"  votes      {len(votes)}{needed} ({counts})"


def _render(st: State, view: ProjectView, quorum: int | None) -> None:
    lines = [
        f"[bold]{view.slug}[/bold]: {view.title}",
        f"status       {_label(view.status)}",
        f"purpose      {view.purpose} {view.purpose_label}"
        + (f" ({view.disease})" if view.disease else ""),
        f"organisation {view.organisation} ({view.org_type})",
        f"ethics ref   {view.ethics_ref}",
        f"lead         {view.lead}",
    ]
    if view.application:
        app_ = view.application
        lines += [
            f"application  #{app_.id} {app_.state}, requested until {app_.requested_expiry}",
            f"  datasets   {', '.join(app_.datasets)}",
            f"  members    {', '.join(app_.members)}",
        ]
        lines += [
            f"  vote       {v.steward}: {v.vote}" + (f" ({v.comment})" if v.comment else "")
            for v in app_.votes
        ]
        if view.status == ProjectStatus.IN_REVIEW:
            lines.append(_votes(view, quorum))
    if view.approval:
        ap = view.approval
        lines += [
            f"approval     #{ap.id} {ap.state} until {ap.expires_at:%Y-%m-%d %H:%M} UTC",
            f"  datasets   {', '.join(ap.datasets)}",
            f"  members    {', '.join(ap.members)}",
        ]
    st.console.print(Panel("\n".join(lines), expand=False))


def _done(st: State, view: ProjectView, what: str) -> None:
    st.done(f"{view.slug}: {what}; now {_label(view.status)}", view)


@app.command("apply")
def apply(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Short project name (becomes the session name).")],
    title: Annotated[str, typer.Option(help="Project title.")],
    purpose: Annotated[
        str,
        typer.Option(help="Research purpose as a DUO code: GRU, HMB, DS or POA (or DUO:…)."),
    ],
    ethics_ref: Annotated[str, typer.Option(help="Ethics approval reference.")],
    dataset: Annotated[
        list[str], typer.Option("--dataset", "-d", help="name@version wanted; repeatable.")
    ],
    expiry: Annotated[dt.datetime, DateOption],
    disease: Annotated[
        str | None, typer.Option(help="ICD-10 code of the disease, for DS purposes.")
    ] = None,
    member: Annotated[
        list[str] | None, typer.Option("--member", "-m", help="Another member; repeatable.")
    ] = None,
) -> None:
    """Create a project and submit its application for review (researcher)."""
    st = state(ctx)
    view = projects.apply(
        st.context(),
        slug,
        title=title,
        purpose=Purpose.parse(purpose, disease, where="--purpose"),
        ethics_ref=ethics_ref,
        datasets=dataset,
        members=member or [],
        expiry=expiry.date(),
    )
    _done(st, view, "application submitted")


@app.command("vote")
def vote(
    ctx: typer.Context,
    slug: str,
    choice: Annotated[Vote, typer.Argument(help="Your vote.")],
    comment: Annotated[str, typer.Option(help="Comment for the committee.")] = "",
) -> None:
    """Cast your vote on an application in review (steward without a conflict of interest)."""
    st = state(ctx)
    _done(st, review.vote(st.context(), slug, choice, comment), f"voted {choice.value}")


@app.command("approve")
def approve(ctx: typer.Context, slug: str, reason: Reason = "") -> None:
    """Approve an application once the quorum has voted and a majority approves (steward)."""
    st = state(ctx)
    _done(st, review.approve(st.context(), slug, reason), "approved")


@app.command("reject")
def reject(ctx: typer.Context, slug: str, reason: Reason = "") -> None:
    """Reject an application once the quorum has voted against it (steward)."""
    st = state(ctx)
    _done(st, review.reject(st.context(), slug, reason), "rejected")


@app.command("withdraw")
def withdraw(ctx: typer.Context, slug: str, reason: Reason = "") -> None:
    """Withdraw your application while it is in review (project lead)."""
    st = state(ctx)
    _done(st, projects.withdraw(st.context(), slug, reason), "withdrawn")


@app.command("suspend")
def suspend(ctx: typer.Context, slug: str, reason: Annotated[str, typer.Option()]) -> None:
    """Suspend a project's approval; its sessions lose access (steward)."""
    st = state(ctx)
    _done(st, approvals.suspend(st.context(), slug, reason), "suspended")


@app.command("reinstate")
def reinstate(ctx: typer.Context, slug: str, reason: Annotated[str, typer.Option()]) -> None:
    """Lift a suspension (steward)."""
    st = state(ctx)
    _done(st, approvals.reinstate(st.context(), slug, reason), "reinstated")


@app.command("revoke")
def revoke(ctx: typer.Context, slug: str, reason: Annotated[str, typer.Option()]) -> None:
    """Revoke a project's approval for good (steward)."""
    st = state(ctx)
    _done(st, approvals.revoke(st.context(), slug, reason), "revoked")


@app.command("renew")
def renew(
    ctx: typer.Context,
    slug: str,
    until: Annotated[dt.datetime, DateOption],
    reason: Reason = "",
) -> None:
    """Extend an approval (also an expired one) up to the policy's maximum (steward)."""
    st = state(ctx)
    _done(st, approvals.renew(st.context(), slug, until.date(), reason), f"renewed to {until:%F}")


@app.command("members")
def members(
    ctx: typer.Context,
    slug: str,
    add: Annotated[
        list[str] | None, typer.Option("--add", help="Add a member; repeatable.")
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="Remove a member; repeatable.")
    ] = None,
) -> None:
    """Amend the membership of an approved project (steward)."""
    st = state(ctx)
    view = approvals.amend_members(st.context(), slug, add=add or [], remove=remove or [])
    _done(st, view, "membership amended")


@app.command("expire")
def expire(ctx: typer.Context) -> None:
    """Record every approval past its expiry as expired (steward or admin; run daily)."""
    st = state(ctx)
    expired = approvals.expire_due(st.context())
    st.done(f"expired {len(expired)} approvals: {', '.join(expired) or 'none'}", expired)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        list[ProjectStatus] | None,
        typer.Option(help="Only projects in this status; repeat for several."),
    ] = None,
    awaiting_my_vote: Annotated[
        bool,
        typer.Option(
            "--awaiting-my-vote", help="Only applications in review that you have not voted on."
        ),
    ] = False,
) -> None:
    """List projects: all of them for stewards and admins, your own otherwise."""
    st = state(ctx)
    found = projects.list_projects(st.context())
    if status:
        found = [p for p in found if p.status in status]
    if awaiting_my_vote:
        found = [
            p
            for p in found
            if p.status == ProjectStatus.IN_REVIEW
            and p.application
            and all(v.steward != st.actor for v in p.application.votes)
        ]
    st.emit(
        found,
        lambda rows: st.table(
            "Projects",
            ["project", "status", "purpose", "organisation", "lead", "expires"],
            [
                (
                    p.slug,
                    _label(p.status),
                    p.purpose + (f" {p.disease}" if p.disease else ""),
                    p.organisation,
                    p.lead,
                    f"{p.approval.expires_at:%Y-%m-%d}" if p.approval else "",
                )
                for p in rows
            ],
        ),
    )


@app.command("show")
def show(ctx: typer.Context, slug: str) -> None:
    """Show a project with its application, votes (and the quorum's progress) and approval;
    stewards also see how many participants of each dataset consent to its use."""
    st = state(ctx)
    context = st.context()
    quorum = context.policies.review.quorum
    view = projects.show_project(context, slug)
    if not context.can(Action.CONSENT_READ):
        st.emit(view, lambda v: _render(st, v, quorum))
        return
    # Stewards also see how many participants the project would reach.
    found = reach.project_reach(context, slug)

    def render(_: object) -> None:
        _render(st, view, quorum)
        for r in found:
            st.console.print(
                f"{r.dataset}: {r.consenting} of its {r.participants} participants consent to "
                f"{view.purpose} by a {view.org_type} organisation"
            )

    st.emit({**jsonable(view), "reach": jsonable(found)}, render)
