"""The data-use review committee: conflicts of interest, quorum, majority, and the approval's
expiry capped by the policy."""

from __future__ import annotations

import datetime as dt
import sys

import pytest

from tests.racing import race
from tests.world import World
from wgs_tre.errors import AlreadyExists, ConflictOfInterest, InvalidInput, QuorumNotMet
from wgs_tre.governance import approvals, review, users
from wgs_tre.types import Role, Vote


def test_a_steward_of_the_applicants_organisation_may_not_vote_or_decide(world: World) -> None:
    world.apply()  # alice, Uni A
    before = world.counts()
    with pytest.raises(ConflictOfInterest, match="stella belongs to the applicant's organisation"):
        review.vote(world.ctx("stella"), "brca-study", Vote.APPROVE)
    event = world.last_event()
    assert (event.actor, event.action, event.decision) == ("stella", "application.vote", "refused")
    assert event.project == "brca-study" and "conflict of interest" in event.reason
    world.vote("brca-study", ("sam", Vote.APPROVE), ("sue", Vote.APPROVE))
    with pytest.raises(ConflictOfInterest):
        review.approve(world.ctx("stella"), "brca-study")
    after = world.counts()
    assert after.pop("review_vote") == before.pop("review_vote") + 2
    assert after.pop("audit_event") == before.pop("audit_event") + 4


def test_a_steward_who_is_a_member_may_not_vote(world: World) -> None:
    users.grant_role(world.ctx("root1"), "sue", Role.RESEARCHER)
    world.apply(members=["bob", "sue"])
    with pytest.raises(ConflictOfInterest, match="sue is a member of project brca-study"):
        review.vote(world.ctx("sue"), "brca-study", Vote.APPROVE)


def test_one_vote_per_steward(world: World) -> None:
    world.apply()
    world.vote("brca-study", ("sam", Vote.APPROVE))
    with pytest.raises(AlreadyExists, match="vote of sam"):
        review.vote(world.ctx("sam"), "brca-study", Vote.REJECT)


def test_the_decision_needs_the_quorum_and_a_majority(world: World) -> None:
    users.create_user(world.ctx("root1"), "sid", roles={Role.STEWARD}, organisation="NCGM")
    world.apply()
    world.vote("brca-study", ("sam", Vote.APPROVE))
    with pytest.raises(QuorumNotMet, match="1 of the 2 votes needed"):
        review.reject(world.ctx("sam"), "brca-study")
    world.vote("brca-study", ("sue", Vote.REJECT))
    with pytest.raises(QuorumNotMet, match="1 approving and 1 rejecting votes: no majority"):
        review.approve(world.ctx("sam"), "brca-study")
    world.vote("brca-study", ("sid", Vote.REJECT))
    with pytest.raises(QuorumNotMet, match="no majority to approve"):
        review.approve(world.ctx("sam"), "brca-study")
    view = review.reject(world.ctx("sid"), "brca-study", "insufficient justification")
    assert view.status == "rejected"
    assert view.application and view.application.decision_reason == "insufficient justification"


def test_approval_expiry_is_capped_by_the_policy(world: World) -> None:
    view = world.approved(days=5 * 365)
    assert view.approval is not None
    cap = view.approval.granted_at + dt.timedelta(days=world.policies.review.max_approval_days or 0)
    assert view.approval.expires_at == cap
    short = world.approved("short-study", days=30)
    assert short.approval is not None
    assert short.approval.expires_at.date() == dt.date.today() + dt.timedelta(days=30)
    with pytest.raises(InvalidInput, match="beyond the policy maximum of 365 days"):
        approvals.renew(world.ctx("sam"), "short-study", dt.date.today() + dt.timedelta(days=400))


def test_the_approval_grants_what_was_asked(world: World) -> None:
    view = world.approved(members=["bob"])
    assert view.approval is not None
    assert view.approval.members == ["alice", "bob"]
    assert view.approval.datasets == ["cohort@1"]
    amended = approvals.amend_members(world.ctx("sam"), "brca-study", add=["carol"], remove=["bob"])
    assert amended.approval and amended.approval.members == ["alice", "carol"]
    with pytest.raises(InvalidInput, match="the project lead cannot be removed"):
        approvals.amend_members(world.ctx("sam"), "brca-study", remove=["alice"])
    with pytest.raises(InvalidInput, match="only researchers can be project members"):
        approvals.amend_members(world.ctx("sam"), "brca-study", add=["eve"])


def test_two_stewards_approving_one_application_at_once(world: World) -> None:
    """Both read the application in review before either commits (on PostgreSQL, reads do not
    wait for writers): one approval is granted, the other steward is told it is decided."""
    world.apply("brca-study", members=[])
    world.vote("brca-study", ("sam", Vote.APPROVE), ("sue", Vote.APPROVE))
    approve = [sys.executable, "-m", "wgs_tre", "projects", "approve", "brca-study"]
    outcomes = race(world.store, [(approve, world.cli_env(name)) for name in ("sam", "sue")])
    (done, _, _), (conflict, _, err) = outcomes
    assert (done, conflict) == (0, 5), outcomes
    assert err.startswith("error: cannot approve application brca-study: it is approved;"), err
    assert world.counts()["approval"] == 1
