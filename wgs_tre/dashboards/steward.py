"""The steward dashboard's logic: what it shows and what its buttons do, without a browser.

Every read and every action goes through the governed functions the CLI uses
(:mod:`wgs_tre.governance.review`, :mod:`~wgs_tre.governance.approvals`, :mod:`wgs_tre.consent`,
:mod:`wgs_tre.audit` inside an ``audit.read`` transaction): the same role checks, the same audit
events, the acting account being the one the hub signed in (``Context.acting`` with a
``hub sign-in`` identity). An action returns an :class:`Outcome`, a one-line message in the
page's language; a refusal is audited by the governed function, as from the CLI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from wgs_tre.audit import AuditRecord, events
from wgs_tre.config import Settings, load_settings
from wgs_tre.consent.impact import Impact, impact
from wgs_tre.consent.overview import ConsentOverview, Withdrawal, overview, recent_withdrawals
from wgs_tre.dashboards.outcome import Outcome, attempt
from wgs_tre.dashboards.texts import explain, say
from wgs_tre.errors import InvalidInput, WgsTreError
from wgs_tre.governance import Context, approvals, projects, review, verification
from wgs_tre.governance.authority import Resource, why_not
from wgs_tre.governance.views import ProjectView, VoteView
from wgs_tre.types import Action, ApprovalState, ProjectStatus, Vote, parse_enum

__all__ = [
    "APPROVAL_STEPS",
    "AUDIT_LIMIT",
    "ApplicationRow",
    "ApprovalRow",
    "Outcome",
    "applications",
    "approvals_in_force",
    "attempt",
    "audit_events",
    "cast_vote",
    "consent_overview",
    "decide",
    "last_verification",
    "renew",
    "step_approval",
    "verify_chain",
    "withdrawal_impact",
    "withdrawals",
]

_IN_FORCE = (ApprovalState.ACTIVE, ApprovalState.SUSPENDED)
AUDIT_LIMIT = 200  # events the audit view shows at once (the newest that match)
APPROVAL_STEPS = {  # the buttons of an approval in force, and the governed step each takes
    "suspend": (Action.APPROVAL_SUSPEND, approvals.suspend),
    "reinstate": (Action.APPROVAL_REINSTATE, approvals.reinstate),
    "revoke": (Action.APPROVAL_REVOKE, approvals.revoke),
}


def _reason(reason: str) -> str:
    if not reason.strip():
        raise InvalidInput("reason", "give a reason: it is recorded in the audit log")
    return reason.strip()


# -- applications -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ApplicationRow:
    project: ProjectView
    votes: list[VoteView]
    may_vote: bool
    may_approve: bool
    may_reject: bool
    not_voting: str | None  # why this steward may not vote (conflict, already voted), or None


def _why_not(ctx: Context, action: Action, slug: str) -> WgsTreError | None:
    return why_not(ctx.store, ctx.policies, ctx.actor, action, Resource.project(slug), ctx.clock())


def applications(ctx: Context) -> list[ApplicationRow]:
    """Applications waiting for the committee, with what this steward may do on each."""
    rows = []
    for view in projects.list_projects(ctx):
        if view.status != ProjectStatus.IN_REVIEW or view.application is None:
            continue
        not_voting = _why_not(ctx, Action.APPLICATION_VOTE, view.slug)
        rows.append(
            ApplicationRow(
                view,
                view.application.votes,
                may_vote=not_voting is None,
                may_approve=_why_not(ctx, Action.APPLICATION_APPROVE, view.slug) is None,
                may_reject=_why_not(ctx, Action.APPLICATION_REJECT, view.slug) is None,
                not_voting=not_voting.message if not_voting else None,
            )
        )
    return rows


def cast_vote(ctx: Context, lang: str, slug: str, choice: Vote, comment: str = "") -> Outcome:
    return attempt(
        lang, f"{choice.value} {slug}", lambda: review.vote(ctx, slug, choice, comment.strip())
    )


def decide(ctx: Context, lang: str, slug: str, choice: Vote, reason: str) -> Outcome:
    """Approve or reject the application (a reason is required, and audited)."""
    decision = review.approve if choice is Vote.APPROVE else review.reject
    verb = "approved" if choice is Vote.APPROVE else "rejected"
    return attempt(lang, f"{slug} {verb}", lambda: decision(ctx, slug, _reason(reason)))


# -- approvals --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApprovalRow:
    project: ProjectView
    state: str
    expires_at: dt.datetime
    days_left: int
    steps: list[str]  # of APPROVAL_STEPS and "renew": what this steward may do now


def approvals_in_force(ctx: Context) -> list[ApprovalRow]:
    """Approvals active or suspended, the soonest to end first."""
    now = ctx.clock()
    rows = []
    for view in projects.list_projects(ctx):
        approval = view.approval
        if approval is None or approval.state not in _IN_FORCE:
            continue
        allowed = set(ctx.allowed_on(view.slug))
        steps = [name for name, (action, _) in APPROVAL_STEPS.items() if action in allowed]
        if Action.APPROVAL_RENEW in allowed:
            steps.append("renew")
        days_left = (approval.expires_at - now).days
        rows.append(ApprovalRow(view, approval.state, approval.expires_at, days_left, steps))
    return sorted(rows, key=lambda row: row.expires_at)


def step_approval(ctx: Context, lang: str, slug: str, step: str, reason: str) -> Outcome:
    """Suspend, reinstate or revoke ``slug``'s approval, with a reason."""
    if step not in APPROVAL_STEPS:
        valid = ", ".join(APPROVAL_STEPS)
        return Outcome(False, explain(InvalidInput("step", f"{step!r}; valid: {valid}"), lang))
    _, take = APPROVAL_STEPS[step]
    return attempt(lang, f"{step} {slug}", lambda: take(ctx, slug, _reason(reason)))


def renew(ctx: Context, lang: str, slug: str, until: dt.date | None, reason: str = "") -> Outcome:
    def step() -> object:
        if until is None:
            raise InvalidInput("renew until", "choose the new end date")
        return approvals.renew(ctx, slug, until, reason.strip())

    return attempt(lang, f"renew {slug} until {until}", step)


# -- consent ----------------------------------------------------------------------------------
def consent_overview(ctx: Context) -> ConsentOverview:
    return overview(ctx)


def withdrawals(ctx: Context, days: int = 90) -> list[Withdrawal]:
    """Who withdrew in the last ``days`` days (audited, as ``consent history`` is)."""
    return recent_withdrawals(ctx, ctx.clock() - dt.timedelta(days=days))


def withdrawal_impact(ctx: Context, participant: str) -> Impact:
    """What one withdrawal touches (``wgs-tre consent impact``; audited)."""
    return impact(ctx, participant)


# -- audit ------------------------------------------------------------------------------------
def verify_chain(ctx: Context, lang: str, settings: Settings | None = None) -> Outcome:
    """Verify the whole chain now (``wgs-tre audit verify``: the same check against every
    signed checkpoint, the verdict recorded, a checkpoint signed if the key is readable); a
    broken chain is a failed outcome naming the first bad event."""
    try:
        verdict = verification.verify_now(ctx, settings or load_settings())
    except WgsTreError as error:
        return Outcome(False, explain(error, lang))
    key = "chain_intact" if verdict.report.ok else "chain_broken"
    return Outcome(verdict.report.ok, say(key, lang, summary=verdict.summary()))


def last_verification(ctx: Context) -> AuditRecord | None:
    with ctx.transaction(Action.AUDIT_READ, audited=False) as tx:
        return next(events(tx.session, action=Action.AUDIT_VERIFY.value, last=1), None)


def audit_events(
    ctx: Context,
    *,
    actor: str = "",
    action: str = "",
    project: str = "",
    since: dt.date | None = None,
    limit: int = AUDIT_LIMIT,
) -> list[AuditRecord]:
    """The newest events matching every filter given (``wgs-tre audit tail``'s read)."""
    chosen = parse_enum(Action, action, where="action").value if action else None
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC) if since else None
    with ctx.transaction(Action.AUDIT_READ, audited=False) as tx:
        return list(
            events(
                tx.session,
                last=limit,
                actor=actor.strip() or None,
                action=chosen,
                project=project.strip() or None,
                since=start,
            )
        )
