"""The steward dashboard's logic (wgs_tre.dashboards.steward) on the real governance store,
without a browser: what a steward sees, and every button going through the governed functions
(the same role checks and audit events as the CLI, acting as the hub-signed-in account). The
browser tests (tests/hub/test_dashboard_browser.py) drive the same through the hub."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.world import World
from wgs_tre.consent import registry
from wgs_tre.consent.build import make_consent
from wgs_tre.dashboards import steward
from wgs_tre.duo import Purpose
from wgs_tre.errors import AccessRefused, InvalidInput, Reason
from wgs_tre.governance import Context, projects
from wgs_tre.governance.identity import hub_sign_in
from wgs_tre.store.models import AuditEvent
from wgs_tre.types import Vote

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def signed_in(world: World, account: str) -> Context:
    """The context a dashboard kernel builds: the account the hub's sign-in named."""
    return Context.acting(world.store, world.policies, hub_sign_in(account))


def test_an_application_shows_what_the_committee_needs(world: World) -> None:
    world.apply("brca-study", purpose=Purpose.parse("DS", "C50"))
    world.vote("brca-study", ("sue", Vote.APPROVE))
    [row] = steward.applications(signed_in(world, "sam"))
    view = row.project
    assert (view.slug, view.purpose, view.disease) == ("brca-study", "DUO:0000007", "C50")
    assert (view.organisation, view.ethics_ref, view.lead) == ("Uni A", "IRB-2026-001", "alice")
    assert view.application is not None and view.application.datasets == ["cohort@1"]
    assert [(v.steward, v.vote) for v in row.votes] == [("sue", "approve")]
    assert (row.may_vote, row.may_approve, row.not_voting) == (True, False, None)
    [conflicted] = steward.applications(signed_in(world, "stella"))  # of Uni A, like alice
    assert not conflicted.may_vote and not conflicted.may_approve
    assert conflicted.not_voting is not None
    assert "stella belongs to the applicant's organisation (Uni A)" in conflicted.not_voting
    [voted] = steward.applications(signed_in(world, "sue"))
    assert not voted.may_vote and "already exists" in (voted.not_voting or "")


def test_a_steward_votes_and_approves_as_the_signed_in_account(world: World) -> None:
    world.apply("brca-study")
    sam = signed_in(world, "sam")
    assert steward.cast_vote(sam, "en", "brca-study", Vote.APPROVE, "sound plan").ok
    early = steward.decide(sam, "en", "brca-study", Vote.APPROVE, "two approvals")
    assert not early.ok and early.message.startswith("Refused: the committee's votes"), early
    refusal = world.last_event()
    assert (refusal.actor, refusal.action, refusal.decision) == ("sam", "application.approve",
                                                                 "refused")  # fmt: skip
    assert steward.cast_vote(signed_in(world, "sue"), "en", "brca-study", Vote.APPROVE).ok
    done = steward.decide(sam, "ja", "brca-study", Vote.APPROVE, "two approvals")
    assert done.ok and done.message.startswith("完了"), done
    event = world.last_event()
    assert (event.actor, event.action, event.decision, event.reason) == (
        "sam", "application.approve", "allowed", "two approvals")  # fmt: skip
    assert json.loads(event.details)["identity_via"] == "hub sign-in"
    assert projects.show_project(world.ctx("alice"), "brca-study").status == "active"
    assert steward.applications(sam) == []


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_refusal_is_one_line_in_the_pages_language_and_changes_nothing(
    world: World, lang: str
) -> None:
    world.apply("brca-study")
    before = world.counts()
    stella = steward.cast_vote(signed_in(world, "stella"), lang, "brca-study", Vote.APPROVE)
    assert not stella.ok and "\n" not in stella.message
    assert bool(JAPANESE.search(stella.message)) == (lang == "ja"), stella.message
    assert "Uni A" in stella.message  # the conflict, named
    assert world.counts() == {**before, "audit_event": before["audit_event"] + 1}  # the refusal
    assert world.last_event().action == "application.vote"
    unexplained = steward.decide(signed_in(world, "sam"), lang, "brca-study", Vote.REJECT, " ")
    assert not unexplained.ok and "reason: give a reason" in unexplained.message
    assert world.counts() == {**before, "audit_event": before["audit_event"] + 1}


def test_approvals_in_force_offer_the_steps_their_state_allows(world: World) -> None:
    world.approved("late-study", members=[], days=90)
    world.approved("soon-study", members=[], days=10)
    sam = signed_in(world, "sam")
    rows = steward.approvals_in_force(sam)
    assert [r.project.slug for r in rows] == ["soon-study", "late-study"]  # soonest first
    assert rows[0].days_left in (9, 10)  # granted to the end of the tenth day
    assert rows[0].steps == ["suspend", "revoke", "renew"]
    assert steward.step_approval(sam, "en", "soon-study", "suspend", "ethics query").ok
    assert world.last_event().reason == "ethics query"
    [paused] = [r for r in steward.approvals_in_force(sam) if r.project.slug == "soon-study"]
    assert paused.state == "suspended" and "reinstate" in paused.steps
    assert "suspend" not in paused.steps
    too_far = dt.date.today() + dt.timedelta(days=5000)
    renewed = steward.renew(sam, "en", "late-study", too_far)
    assert not renewed.ok and "beyond the policy maximum" in renewed.message
    assert steward.approvals_in_force(signed_in(world, "alice"))[0].steps == []  # a researcher


def test_consent_counts_by_permission_site_and_month(world: World, tmp_path: Path) -> None:
    """Oracle: the counts written down from the consents the test makes."""

    def at(site: str | None, consent: dict[str, object]) -> dict[str, object]:
        return (
            {**consent, "organization": [{"reference": f"Organization/{site}"}]}
            if site
            else consent
        )

    consents = [
        at("hospital-a", make_consent("P1", duo=["DUO:0000042"])),
        at("hospital-a", make_consent("P2", duo=["DUO:0000042", "DUO:0000046"])),
        at("hospital-a", make_consent("P3", duo=["DUO:0000006"])),
        at("hospital-b", make_consent("P4", duo=["DUO:0000006"])),
        at("hospital-b", make_consent("P5", version="1")),
        at("hospital-b", make_consent("P5", version="2", status="inactive",
                                      when="2026-03-02T10:00:00+09:00")),
        at(None, make_consent("P6", status="inactive", when="2026-05-20T10:00:00+09:00")),
    ]  # fmt: skip
    path = tmp_path / "consent.ndjson"
    path.write_text("\n".join(json.dumps(c) for c in consents))
    registry.import_file(world.ctx("sam"), path)
    seen = steward.consent_overview(signed_in(world, "sam"))
    assert (seen.participants, seen.in_force, seen.withdrawn, seen.no_consent) == (6, 4, 2, 0)
    assert seen.by_permission == {"DUO:0000006": 2, "DUO:0000042": 2, "DUO:0000046": 1}
    assert seen.by_site == {
        "": {"in_force": 0, "withdrawn": 1, "other": 0},
        "Organization/hospital-a": {"in_force": 3, "withdrawn": 0, "other": 0},
        "Organization/hospital-b": {"in_force": 1, "withdrawn": 1, "other": 0},
    }
    assert seen.withdrawals_by_month == {"2026-03": 1, "2026-05": 1}


def test_recent_withdrawals_name_people_so_listing_them_is_audited(
    world: World, tmp_path: Path
) -> None:
    world.approved("brca-study", members=[])
    recent = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).isoformat()
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=200)).isoformat()
    consents = [make_consent("P1", status="inactive", when=recent),
                make_consent("P2", status="inactive", when=old), make_consent("P3")]  # fmt: skip
    path = tmp_path / "consent.ndjson"
    path.write_text("\n".join(json.dumps(c) for c in consents))
    registry.import_file(world.ctx("sam"), path)
    sam = signed_in(world, "sam")
    assert [w.participant for w in steward.withdrawals(sam, days=90)] == ["P1"]
    event = world.last_event()
    assert (event.actor, event.action, json.loads(event.details)["shown"]) == (
        "sam", "consent.read", 1)  # fmt: skip
    assert "P1" not in event.reason + event.details  # the log never names the participant
    impact = steward.withdrawal_impact(sam, "P1")
    assert impact.withdrawn and impact.consent_status == "withdrawn"
    assert world.last_event().reason == "withdrawal impact report"


def test_a_panel_member_may_not_read_consent_and_is_told_why(world: World) -> None:
    with pytest.raises(AccessRefused) as refused:
        steward.consent_overview(signed_in(world, "eve"))
    assert refused.value.code is Reason.ROLE_NOT_ALLOWED
    assert (world.last_event().actor, world.last_event().decision) == ("eve", "refused")


def test_the_audit_view_filters_as_asked(world: World) -> None:
    """Oracle: the same filters applied in Python to every stored event."""
    world.approved("brca-study")
    world.approved("carol-study", lead="carol", members=[])
    with world.store.session() as session:
        stored = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        everything = [(e.seq, e.actor, e.action, e.project, e.time) for e in stored]
    sam = signed_in(world, "sam")
    today = dt.datetime.now(dt.UTC).date()
    for chosen in [{}, {"actor": "sam"}, {"action": "application.vote"},
                   {"project": "carol-study"}, {"actor": "sue", "project": "brca-study"},
                   {"since": today + dt.timedelta(days=1)}]:  # fmt: skip
        expected = [
            seq for seq, actor, action, project, time in everything
            if chosen.get("actor", actor) == actor and chosen.get("action", action) == action
            and chosen.get("project", project) == project
            and ("since" not in chosen or time >= chosen["since"].isoformat())
        ][-steward.AUDIT_LIMIT :]  # fmt: skip
        found = [e.seq for e in steward.audit_events(sam, **chosen)]  # type: ignore[arg-type]
        assert found == expected, chosen
    assert len(steward.audit_events(sam, project="brca-study")) >= 4  # apply, votes, approve
    with pytest.raises(InvalidInput, match="unknown Action 'approve'; valid values: user.create"):
        steward.audit_events(sam, action="approve")
    assert steward.last_verification(sam) is None
    with pytest.raises(AccessRefused):
        steward.audit_events(signed_in(world, "alice"))
