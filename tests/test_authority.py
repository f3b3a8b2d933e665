"""The one authorisation decision: every caller decides through it and audits the outcome the
same way, and ``can`` answers exactly what the operation would do."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.world import World
from wgs_tre.access import Gate
from wgs_tre.errors import (
    AccessRefused,
    AlreadyExists,
    ConflictOfInterest,
    NotFound,
    QuorumNotMet,
    Reason,
    WgsTreError,
)
from wgs_tre.governance import approvals, projects, review
from wgs_tre.governance.authority import RULES, Resource, ResourceKind, authorize
from wgs_tre.services.session_watch import sweep_once
from wgs_tre.store.models import AuditEvent
from wgs_tre.types import Action, Vote


class RunningSessions:
    """The two calls the session watcher makes of the hub's REST API, for one running session."""

    def __init__(self, user: str, project: str) -> None:
        self.sessions = [(user, project)]
        self.deleted: list[str] = []

    def running(self) -> list[tuple[str, str]]:
        return list(self.sessions)

    def call(self, method: str, path: str) -> None:
        assert method == "DELETE"
        self.deleted.append(path)


def _gate(world: World, user: str, slug: str) -> None:
    Gate(world.store, world.policies).decide(user, slug, "cohort")


def _listing(world: World, user: str, slug: str) -> None:
    Gate(world.store, world.policies).approved_datasets(user, slug)


def _spawn(world: World, user: str, slug: str) -> None:
    projects.open_session(world.ctx(user), slug)  # what ProjectSpawner.authorize asks


def _watch(world: World, user: str, slug: str) -> None:
    hub = RunningSessions(user, slug)
    sweep_once(world.store, world.policies, hub)  # type: ignore[arg-type]
    assert hub.deleted == [f"/users/{user}/servers/{slug}"], "the session was not stopped"
    raise AccessRefused(Reason.NOT_A_MEMBER, "stopped")  # the watcher stops rather than raises


CALLERS: dict[str, tuple[Callable[[World, str, str], None], str, str]] = {
    # name: (caller, action audited, actor audited: None = the user)
    "gate": (_gate, "data.access", ""),
    "listing": (_listing, "data.access", ""),
    "spawner": (_spawn, "session.start", ""),
    "watcher": (_watch, "session.stop", "session-watcher"),
}


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize(
    ("user", "slug", "expected"),
    [
        ("alice", "no-such-project", "no project named 'no-such-project'"),
        ("carol", "brca-study", "not a member of the project: carol in brca-study"),
        ("sam", "brca-study", "role not allowed: sam (steward) may not"),
        ("mallory", "brca-study", "unknown or inactive account: no account named 'mallory'"),
    ],
    ids=["unknown-project", "not-a-member", "role", "unknown-user"],
)
def test_every_caller_refuses_and_audits_through_the_one_decision(
    world: World, caller: str, user: str, slug: str, expected: str
) -> None:
    world.approved("brca-study")
    run, action, actor = CALLERS[caller]
    before = world.counts()
    with pytest.raises((AccessRefused, NotFound)):
        run(world, user, slug)
    event: AuditEvent = world.last_event()
    assert (event.actor, event.action, event.decision) == (actor or user, action, "refused")
    assert event.project == slug
    assert expected in event.reason  # the same words from every path
    after = world.counts()
    assert after.pop("audit_event") == before.pop("audit_event") + 1, "one event per decision"
    assert after == before


@pytest.mark.parametrize("caller", ["gate", "listing", "spawner", "watcher"])
def test_every_caller_allows_an_active_member(world: World, caller: str) -> None:
    world.approved("brca-study")
    run, action, _ = CALLERS[caller]
    before = world.last_event().seq
    if caller == "watcher":
        hub = RunningSessions("bob", "brca-study")
        assert sweep_once(world.store, world.policies, hub) == []  # type: ignore[arg-type]
        assert hub.deleted == [] and world.last_event().seq == before
        return
    run(world, "bob", "brca-study")
    if caller == "listing":  # listing what the approval covers is not audited
        assert world.last_event().seq == before
        return
    event = world.last_event()
    assert (event.actor, event.action, event.decision) == ("bob", action, "allowed")


def test_a_suspended_approval_ends_every_path_and_reinstating_restores_it(world: World) -> None:
    world.approved("brca-study")
    approvals.suspend(world.ctx("sam"), "brca-study", "investigation")
    for name in CALLERS:
        with pytest.raises(AccessRefused) as refused:
            CALLERS[name][0](world, "alice", "brca-study")
        if name != "watcher":
            assert refused.value.code is Reason.SUSPENDED
    assert "the approval is suspended" in world.last_event().reason
    assert not world.ctx("alice").can(Action.SESSION_START, project="brca-study")
    approvals.reinstate(world.ctx("sam"), "brca-study", "cleared")
    assert world.ctx("alice").can(Action.SESSION_START, project="brca-study")


def _outcome(attempt: Callable[[], object]) -> type[WgsTreError] | None:
    try:
        attempt()
    except WgsTreError as error:
        return type(error)
    return None


def test_can_answers_what_the_review_would_do_and_writes_nothing(world: World) -> None:
    """Beyond roles: conflicts of interest, a vote already cast, the quorum, the majority."""
    world.apply("brca-study")  # Uni A's project: stella (Uni A) is conflicted
    sam, sue, stella = world.ctx("sam"), world.ctx("sue"), world.ctx("stella")
    before = world.counts()
    assert sam.can(Action.APPLICATION_VOTE, project="brca-study")
    assert not stella.can(Action.APPLICATION_VOTE, project="brca-study")
    assert not sam.can(Action.APPLICATION_APPROVE, project="brca-study")  # no votes yet
    assert world.counts() == before, "asking wrote something"

    assert _outcome(lambda: review.vote(stella, "brca-study", Vote.APPROVE)) is ConflictOfInterest
    assert _outcome(lambda: review.approve(sam, "brca-study")) is QuorumNotMet
    review.vote(sam, "brca-study", Vote.APPROVE)
    assert not sam.can(Action.APPLICATION_VOTE, project="brca-study")  # voted already
    assert _outcome(lambda: review.vote(sam, "brca-study", Vote.REJECT)) is AlreadyExists
    review.vote(sue, "brca-study", Vote.APPROVE)
    assert sam.can(Action.APPLICATION_APPROVE, project="brca-study")
    assert not sam.can(Action.APPLICATION_REJECT, project="brca-study")  # the majority approves
    assert not stella.can(Action.APPLICATION_APPROVE, project="brca-study")
    assert sam.allowed_on("brca-study") == [Action.APPLICATION_APPROVE]
    assert world.ctx("alice").allowed_on("brca-study") == [Action.APPLICATION_WITHDRAW]
    assert world.ctx("bob").allowed_on("brca-study") == []  # a member, not the lead

    review.approve(sam, "brca-study")
    assert world.ctx("bob").allowed_on("brca-study") == [
        Action.DATA_ACCESS,
        Action.SESSION_START,
        Action.AIRLOCK_CREATE,  # a member of an approved project asks for outputs
        Action.AIRLOCK_BRING_IN,  # and brings files in
        Action.MODEL_FIT,  # fits prognosis models on the project's data
        Action.MODEL_SAVE,
        Action.MODEL_LOAD,
    ]
    assert set(sam.allowed_on("brca-study")) == {
        Action.APPROVAL_SUSPEND,
        Action.APPROVAL_REVOKE,
        Action.APPROVAL_RENEW,
        Action.APPROVAL_AMEND_MEMBERS,
    }


def test_an_action_decided_on_a_resource_needs_one(world: World) -> None:
    with world.store.session() as session:
        for action, (kind, _) in RULES.items():
            with pytest.raises(ValueError, match=f"is decided on a {kind.value}, not on None"):
                authorize(session, world.policies, "sam", action, None)
            other = next(k for k in ResourceKind if k is not kind)  # a case is not a project
            with pytest.raises(ValueError, match=f"is decided on a {kind.value}, not on"):
                authorize(session, world.policies, "sam", action, Resource(other, "x"))
        assert authorize(session, world.policies, "sam", Action.USER_LIST, None).found is None
