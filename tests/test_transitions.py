"""Every state machine: each valid transition works through the real operation, each invalid one
is refused with the current state and the allowed steps named, and both are audited."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.world import World, check_step
from wgs_tre.errors import InvalidTransition
from wgs_tre.governance import APPLICATION, APPROVAL, USER, approvals, projects, review, users
from wgs_tre.governance.views import ProjectView
from wgs_tre.types import Action, ApplicationState, ApprovalState, UserState, Vote

# The specification, written out independently of the tables in wgs_tre.governance.transitions.
A, AP = ApplicationState, ApprovalState
APPLICATION_SPEC = {
    (A.SUBMITTED, Action.APPLICATION_VOTE): A.SUBMITTED,
    (A.SUBMITTED, Action.APPLICATION_APPROVE): A.APPROVED,
    (A.SUBMITTED, Action.APPLICATION_REJECT): A.REJECTED,
    (A.SUBMITTED, Action.APPLICATION_WITHDRAW): A.WITHDRAWN,
}
APPROVAL_SPEC = {
    (AP.ACTIVE, Action.APPROVAL_SUSPEND): AP.SUSPENDED,
    (AP.ACTIVE, Action.APPROVAL_REVOKE): AP.REVOKED,
    (AP.ACTIVE, Action.APPROVAL_RENEW): AP.ACTIVE,
    (AP.ACTIVE, Action.APPROVAL_EXPIRE): AP.EXPIRED,
    (AP.ACTIVE, Action.APPROVAL_AMEND_MEMBERS): AP.ACTIVE,
    (AP.SUSPENDED, Action.APPROVAL_REINSTATE): AP.ACTIVE,
    (AP.SUSPENDED, Action.APPROVAL_REVOKE): AP.REVOKED,
    (AP.SUSPENDED, Action.APPROVAL_EXPIRE): AP.EXPIRED,
    (AP.SUSPENDED, Action.APPROVAL_AMEND_MEMBERS): AP.SUSPENDED,
    (AP.EXPIRED, Action.APPROVAL_RENEW): AP.ACTIVE,
    (AP.EXPIRED, Action.APPROVAL_REVOKE): AP.REVOKED,
}
USER_SPEC = {
    (UserState.PENDING, Action.USER_APPROVE): UserState.ACTIVE,
    (UserState.PENDING, Action.USER_DISABLE): UserState.DISABLED,
    (UserState.ACTIVE, Action.USER_DISABLE): UserState.DISABLED,
    (UserState.DISABLED, Action.USER_APPROVE): UserState.ACTIVE,
}
APPLICATION_ACTIONS = [
    Action.APPLICATION_VOTE,
    Action.APPLICATION_APPROVE,
    Action.APPLICATION_REJECT,
    Action.APPLICATION_WITHDRAW,
]
APPROVAL_ACTIONS = [
    Action.APPROVAL_SUSPEND,
    Action.APPROVAL_REINSTATE,
    Action.APPROVAL_REVOKE,
    Action.APPROVAL_RENEW,
    Action.APPROVAL_EXPIRE,
    Action.APPROVAL_AMEND_MEMBERS,
]


def test_tables_match_the_specification() -> None:
    for machine, spec in (
        (APPLICATION, APPLICATION_SPEC),
        (APPROVAL, APPROVAL_SPEC),
        (USER, USER_SPEC),
    ):
        table = {(s, a): t for s, steps in machine.table.items() for a, t in steps.items()}
        assert table == spec, machine.name


# -- applications --------------------------------------------------------------------------------
def _application_in(world: World, state: ApplicationState, action: Action) -> None:
    world.apply()
    if state is A.SUBMITTED:
        if action is Action.APPLICATION_APPROVE:
            world.vote("brca-study", ("sam", Vote.APPROVE), ("sue", Vote.APPROVE))
        if action is Action.APPLICATION_REJECT:
            world.vote("brca-study", ("sam", Vote.REJECT), ("sue", Vote.REJECT))
    elif state is A.APPROVED:
        world.vote("brca-study", ("sam", Vote.APPROVE), ("sue", Vote.APPROVE))
        review.approve(world.ctx("sue"), "brca-study")
    elif state is A.REJECTED:
        world.vote("brca-study", ("sam", Vote.REJECT), ("sue", Vote.REJECT))
        review.reject(world.ctx("sue"), "brca-study")
    elif state is A.WITHDRAWN:
        projects.withdraw(world.ctx("alice"), "brca-study")


def _application_step(world: World, action: Action) -> ProjectView:
    slug = "brca-study"
    if action is Action.APPLICATION_VOTE:
        return review.vote(world.ctx("sam"), slug, Vote.APPROVE)
    if action is Action.APPLICATION_APPROVE:
        return review.approve(world.ctx("sam"), slug)
    if action is Action.APPLICATION_REJECT:
        return review.reject(world.ctx("sam"), slug)
    return projects.withdraw(world.ctx("alice"), slug)


@pytest.mark.parametrize("state", list(ApplicationState))
@pytest.mark.parametrize("action", APPLICATION_ACTIONS)
def test_application_transitions(world: World, state: ApplicationState, action: Action) -> None:
    _application_in(world, state, action)

    def attempt() -> str:
        view = _application_step(world, action)
        assert view.application is not None
        return view.application.state

    check_step(world, APPLICATION_SPEC, state, action, attempt)


# -- approvals -----------------------------------------------------------------------------------
def _approval_in(world: World, state: ApprovalState) -> dt.datetime | None:
    """Bring brca-study's approval to ``state``; return the clock to use from then on."""
    view = world.approved()
    assert view.approval is not None
    later = view.approval.expires_at + dt.timedelta(days=1)
    if state is AP.SUSPENDED:
        approvals.suspend(world.ctx("sam"), "brca-study", "audit finding")
    elif state is AP.REVOKED:
        approvals.revoke(world.ctx("sam"), "brca-study", "breach")
    elif state is AP.EXPIRED:
        assert approvals.expire_due(world.ctx("sam", now=later)) == ["brca-study"]
        return later
    return None


def _approval_step(world: World, action: Action, now: dt.datetime | None) -> str:
    ctx, slug = world.ctx("sam", now=now), "brca-study"
    if action is Action.APPROVAL_EXPIRE:
        # The sweep is how approvals expire: run it after the expiry date.
        view = projects.show_project(ctx, slug)
        assert view.approval is not None
        after = view.approval.expires_at + dt.timedelta(days=1)
        expired = approvals.expire_due(world.ctx("sam", now=after))
        if not expired:
            raise InvalidTransition("approval", view.approval.state, "expire", [])
        view = projects.show_project(world.ctx("sam", now=after), slug)
    elif action is Action.APPROVAL_SUSPEND:
        view = approvals.suspend(ctx, slug, "why")
    elif action is Action.APPROVAL_REINSTATE:
        view = approvals.reinstate(ctx, slug, "why")
    elif action is Action.APPROVAL_REVOKE:
        view = approvals.revoke(ctx, slug, "why")
    elif action is Action.APPROVAL_RENEW:
        today = (now or dt.datetime.now(dt.UTC)).date()
        view = approvals.renew(ctx, slug, today + dt.timedelta(days=30))
    else:
        view = approvals.amend_members(ctx, slug, remove=["bob"])
    assert view.approval is not None
    return view.approval.state


@pytest.mark.parametrize("state", list(ApprovalState))
@pytest.mark.parametrize("action", APPROVAL_ACTIONS)
def test_approval_transitions(world: World, state: ApprovalState, action: Action) -> None:
    now = _approval_in(world, state)
    if action is Action.APPROVAL_EXPIRE and (state, action) not in APPROVAL_SPEC:
        # The sweep leaves expired and revoked approvals alone: no change and no event.
        before = world.last_event().seq
        far = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=800)
        assert approvals.expire_due(world.ctx("sam", now=far)) == []
        assert world.last_event().seq == before
        return
    check_step(world, APPROVAL_SPEC, state, action, lambda: _approval_step(world, action, now))


def test_an_approval_past_its_expiry_counts_as_expired_before_the_sweep(world: World) -> None:
    view = world.approved()
    assert view.approval is not None
    later = view.approval.expires_at + dt.timedelta(seconds=1)
    shown = projects.show_project(world.ctx("sam", now=later), "brca-study")
    assert shown.status == "expired"
    with pytest.raises(InvalidTransition, match="it is expired"):
        approvals.suspend(world.ctx("sam", now=later), "brca-study", "too late")


# -- user accounts -------------------------------------------------------------------------------
@pytest.mark.parametrize("state", list(UserState))
@pytest.mark.parametrize("action", [Action.USER_APPROVE, Action.USER_DISABLE])
def test_user_transitions(world: World, state: UserState, action: Action) -> None:
    admin = world.ctx("root1")
    users.create_user(admin, "dave", roles=set(), active=state is not UserState.PENDING)
    if state is UserState.DISABLED:
        users.disable_user(admin, "dave")
    step = users.approve_user if action is Action.USER_APPROVE else users.disable_user
    check_step(world, USER_SPEC, state, action, lambda: step(admin, "dave").state)


def test_a_transition_and_its_audit_event_commit_together(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If writing the audit event fails, the state change is rolled back with it."""
    world.approved()
    before = world.counts()

    def broken_append(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("wgs_tre.governance.context.append", broken_append)
    with pytest.raises(OSError, match="disk full"):
        approvals.suspend(world.ctx("sam"), "brca-study", "investigation")
    monkeypatch.undo()
    assert world.counts() == before
    assert projects.show_project(world.ctx("sam"), "brca-study").status == "active"
