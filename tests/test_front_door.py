"""What the hub's front door says, decided by the real governance store: each person's page
(``wgs_tre.hub.landing``) and the explanation of every way a session can be refused
(``wgs_tre.hub.refusals``), in English and Japanese. The browser tests (tests/hub/test_browser.py)
show the same through the hub."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

import pytest

from tests.report_cast import add_hospitals, case_in
from tests.world import World
from wgs_tre.audit import append
from wgs_tre.consent import registry
from wgs_tre.consent.build import make_consent
from wgs_tre.governance import approvals, cases, datasets, users
from wgs_tre.governance.authority import Resource, why_not
from wgs_tre.hub import texts
from wgs_tre.hub.landing import EXPIRING_DAYS, RECENT_DAYS, landing_for
from wgs_tre.hub.refusals import explain
from wgs_tre.models import registry as model_registry
from wgs_tre.policy import load_policies
from wgs_tre.store.models import AuditEvent
from wgs_tre.types import Action, DatasetKind, ProjectStatus, ReportState, Role, Vote

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture
def projects(world: World) -> World:
    """alice leads a project in each state; carol leads one alice is not in."""
    world.approved("open-study", members=[])
    world.apply("pending-study", members=[])
    world.approved("paused-study", members=[])
    approvals.suspend(world.ctx("sam"), "paused-study", "ethics query")
    world.approved("ended-study", members=[])
    approvals.revoke(world.ctx("sam"), "ended-study", "breach")
    world.approved("short-study", members=[], days=EXPIRING_DAYS - 1)
    world.approved("expired-study", members=[])
    world.approved("carol-study", lead="carol", members=[])
    return world


def refusal_code(world: World, user: str, slug: str) -> str:
    refusal = why_not(
        world.store, world.policies, user, Action.SESSION_START, Resource.project(slug)
    )
    return explain(slug, refusal).code


def test_every_way_a_session_is_refused_has_its_own_explanation(projects: World) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    refusals = {
        "not_a_member": ("alice", "carol-study"),
        "no_approval": ("alice", "pending-study"),
        "suspended": ("alice", "paused-study"),
        "revoked": ("alice", "ended-study"),
        "role_not_allowed": ("sam", "open-study"),
        "no_such_project": ("alice", "no-such-study"),
    }
    for code, (user, slug) in refusals.items():
        assert refusal_code(projects, user, slug) == code, (user, slug)
    expired = why_not(projects.store, projects.policies, "alice", Action.SESSION_START,
                      Resource.project("expired-study"), when=later)  # fmt: skip
    assert explain("expired-study", expired).code == "expired"
    users.disable_user(projects.ctx("root1"), "bob")
    assert refusal_code(projects, "bob", "open-study") == "unknown_user"
    assert explain("", None).code == "per_project"  # the unnamed server
    for code in [*refusals, "expired", "unknown_user", "per_project"]:
        (en_why, ja_why), (en_next, ja_next) = texts.REFUSALS[code]
        assert en_why and en_next and JAPANESE.search(ja_why) and JAPANESE.search(ja_next), code


def test_an_explanation_names_the_project_in_both_languages(projects: World) -> None:
    refusal = why_not(projects.store, projects.policies, "alice", Action.SESSION_START,
                      Resource.project("carol-study"))  # fmt: skip
    explanation = explain("carol-study", refusal)
    assert explanation.sentence("en") == "You are not a member of carol-study."
    assert explanation.sentence("ja") == "あなたは carol-study のメンバーではありません。"
    assert explanation.detail == "refused: not a member of the project: alice in carol-study"
    assert explanation.sentence("fr") == explanation.sentence("en")  # no French: English


def test_a_researcher_sees_her_projects_with_status_and_what_she_may_open(projects: World) -> None:
    before = projects.counts()[AuditEvent.__tablename__]
    page = landing_for(projects.store, projects.policies, "alice")
    assert page.active and page.roles == ("researcher",)
    rows = {entry.slug: entry for entry in page.projects}
    assert "carol-study" not in rows
    assert {
        slug: (e.status, e.refusal.code if e.refusal else None) for slug, e in rows.items()
    } == {
        "open-study": ("active", None),
        "short-study": ("active", None),
        "expired-study": ("active", None),  # still in force today
        "pending-study": ("in_review", "no_approval"),
        "paused-study": ("suspended", "suspended"),
        "ended-study": ("revoked", "revoked"),
    }
    assert rows["open-study"].expires is not None
    assert rows["pending-study"].expires is None
    # reading a page is not a decision: nothing is audited
    assert projects.counts()[AuditEvent.__tablename__] == before


def test_a_steward_sees_the_committees_work_and_no_project_to_open(projects: World) -> None:
    page = landing_for(projects.store, projects.policies, "sam")
    assert page.roles == ("steward",)
    assert page.projects == ()
    assert page.in_review == 1  # pending-study
    assert page.awaiting_vote == ("pending-study",)
    assert page.expiring == 1  # short-study ends within EXPIRING_DAYS; the others later
    # stella is of the applicant's organisation: nothing awaits her vote; nor sam's, once cast
    assert landing_for(projects.store, projects.policies, "stella").awaiting_vote == ()
    projects.vote("pending-study", ("sam", Vote.APPROVE))
    assert landing_for(projects.store, projects.policies, "sam").awaiting_vote == ()


def test_a_steward_sees_recent_withdrawals_and_the_last_verification(
    projects: World, tmp_path: Path
) -> None:
    assert landing_for(projects.store, projects.policies, "sam").withdrawals == 0
    now = dt.datetime.now(dt.UTC)
    recent, old = (now - dt.timedelta(days=d) for d in (RECENT_DAYS - 1, RECENT_DAYS + 1))
    consents = [
        make_consent("P1", fhir_id="c1", status="inactive", when=recent.isoformat()),
        make_consent("P2", fhir_id="c2", status="inactive", when=old.isoformat()),
        make_consent("P3", fhir_id="c3", when=recent.isoformat()),  # given, not withdrawn
        make_consent("P4", fhir_id="c4", version="1", when=old.isoformat()),
        make_consent("P4", fhir_id="c4", version="2", status="inactive", when=recent.isoformat()),
    ]
    path = tmp_path / "consent.ndjson"
    path.write_text("\n".join(json.dumps(c) for c in consents))
    registry.import_file(projects.ctx("sam"), path)
    page = landing_for(projects.store, projects.policies, "sam")
    assert page.withdrawals == 2  # P1 and P4, within RECENT_DAYS
    assert page.last_verify is None
    with projects.store.session() as session:  # as `wgs-tre audit verify` records its verdict
        append(session, actor="sue", action=Action.AUDIT_VERIFY, reason="chain intact: 42 events")
    verified = landing_for(projects.store, projects.policies, "sam").last_verify
    assert verified is not None and (verified.actor, verified.reason) == (
        "sue",
        "chain intact: 42 events",
    )


def test_a_steward_sees_how_many_models_a_later_withdrawal_flagged(
    projects: World, tmp_path: Path
) -> None:
    people = [make_consent(p, fhir_id=f"m-{p}") for p in ("P7", "P8")]
    (tmp_path / "given.ndjson").write_text("\n".join(json.dumps(c) for c in people))
    registry.import_file(projects.ctx("sam"), tmp_path / "given.ndjson")
    (tmp_path / "trial.txt").write_text("trial")
    datasets.register_version(projects.ctx("sam"), "trial", tmp_path / "trial.txt",
                              kind=DatasetKind.VARIANTS, participants=["P7", "P8"])  # fmt: skip
    projects.approved("model-study", datasets=["trial"])
    document = {"format": "wgs-tre-model/1", "kind": "cox", "features": ["x"],
                "participants": 40, "events": 20, "parameters": {}}  # fmt: skip
    model_registry.save(projects.ctx("alice"), "model-study", document, name="m",
                        datasets=["trial@1"], code_version="t", metrics={},
                        data_read_at=dt.datetime.now(dt.UTC), area=tmp_path / "models")  # fmt: skip
    assert landing_for(projects.store, projects.policies, "sam").models_flagged == 0
    leaving = make_consent("P8", fhir_id="m-P8", version="2", status="inactive")
    (tmp_path / "left.ndjson").write_text(json.dumps(leaving))
    registry.import_file(projects.ctx("sam"), tmp_path / "left.ndjson")
    assert landing_for(projects.store, projects.policies, "sam").models_flagged == 1
    assert landing_for(projects.store, projects.policies, "alice").models_flagged is None


def test_a_steward_is_shown_only_what_the_policy_lets_her_read(
    projects: World, tmp_path: Path
) -> None:
    """With consent.read and audit.read taken from stewards, the page leaves those parts out
    rather than asking (which would be a refusal, audited)."""
    shipped = projects.policies.source
    assert shipped is not None
    for path in shipped.glob("*.yaml"):
        text = path.read_text()
        if path.name == "roles.yaml":
            text = text.replace("    - consent.read\n", "").replace("    - audit.read\n", "", 1)
        (tmp_path / path.name).write_text(text)
    policies = load_policies(tmp_path)
    assert not policies.roles.allows(frozenset({Role.STEWARD}), Action.CONSENT_READ)
    assert not policies.roles.allows(frozenset({Role.STEWARD}), Action.AUDIT_READ)
    before = projects.counts()[AuditEvent.__tablename__]
    page = landing_for(projects.store, policies, "sam")
    assert (page.withdrawals, page.audit_readable, page.in_review) == (None, False, 1)
    assert projects.counts()[AuditEvent.__tablename__] == before


def test_a_steward_who_also_researches_sees_only_her_own_projects(projects: World) -> None:
    """Stewards may list every project; the projects table is still only the ones she is in."""
    users.grant_role(projects.ctx("root1"), "stella", Role.RESEARCHER)
    projects.approved("stella-study", lead="stella", members=[])
    page = landing_for(projects.store, projects.policies, "stella")
    assert page.roles == ("researcher", "steward")
    assert [entry.slug for entry in page.projects] == ["stella-study"]
    assert page.in_review == 1


def test_a_panel_member_and_a_pending_account_get_their_own_page(projects: World) -> None:
    panel = landing_for(projects.store, projects.policies, "eve")
    assert (panel.active, panel.roles, panel.projects) == (True, ("expert_panel",), ())
    assert panel.awaiting_review == 0
    users.register_signup(projects.store, "newbie")
    pending = landing_for(projects.store, projects.policies, "newbie")
    assert not pending.active and pending.roles == ()
    assert landing_for(projects.store, projects.policies, "nobody") == dataclasses.replace(
        pending, username="nobody"
    )


def test_a_panel_member_sees_how_many_of_their_hospitals_reports_await_review(
    world: World,
) -> None:
    """Counted from the states the test put the reports in; another hospital's are not counted,
    and the count is a read, not an audited view."""
    add_hospitals(world)
    for state in (ReportState.IN_REVIEW, ReportState.IN_REVIEW, ReportState.DRAFT,
                  ReportState.SIGNED_OFF, None):  # fmt: skip
        case_in(world, state, hospital="hospital-a", panel="kenji")
    returned = case_in(world, ReportState.IN_REVIEW, hospital="hospital-a", panel="kenji")
    cases.return_report(world.ctx("kenji"), returned, "check the evidence")
    case_in(world, ReportState.IN_REVIEW, hospital="hospital-b", panel="hana")
    before = world.counts()
    assert landing_for(world.store, world.policies, "kenji").awaiting_review == 2
    assert landing_for(world.store, world.policies, "hana").awaiting_review == 1
    assert landing_for(world.store, world.policies, "sam").awaiting_review is None  # a steward
    assert world.counts() == before


def test_every_status_and_page_text_exists_in_both_languages() -> None:
    for status in ProjectStatus:  # the page prints t("status_" + status): none may be missing
        assert f"status_{status.value}" in texts.TEXT, status
    for role in Role:
        assert f"role_{role.value}" in texts.TEXT, role
    for key, (english, japanese) in texts.TEXT.items():
        assert key == "switch" or (english and JAPANESE.search(japanese)), key
    assert texts.say("until", "ja", date="2027-01-31") == "2027-01-31 まで"


@pytest.mark.parametrize(
    ("asked", "cookie", "accept", "chosen"),
    [
        ("ja", "en", "en-GB", "ja"),  # asked for wins
        (None, "ja", "en-GB", "ja"),  # then the remembered choice
        (None, None, "fr-FR,ja;q=0.8,en;q=0.5", "ja"),  # then the first the pages have
        (None, None, "fr-FR", "en"),
        ("xx", "yy", None, "en"),
    ],
)
def test_the_page_language(asked, cookie, accept, chosen) -> None:  # type: ignore[no-untyped-def]
    assert texts.choose_language(asked, cookie, accept) == chosen


def test_researchers_see_their_projects_releases_and_stewards_their_airlock_queue(
    world: World,
) -> None:
    """A released request of alice's project shows on her page and bob's (a member), each file
    a download, and not on carol's; a steward's count of requests to review leaves out those
    they reviewed or are conflicted on."""
    from tests.airlock_cast import REVIEWER, add_reviewer, request_in
    from wgs_tre.airlock import requests
    from wgs_tre.types import OutputRequestState as S

    add_reviewer(world)
    released = request_in(world, S.RELEASED)
    waiting = request_in(world, S.SUBMITTED)
    reviewed = request_in(world, S.IN_REVIEW)  # sam approved it
    page = landing_for(world.store, world.policies, "alice")
    (entry,) = page.released
    assert (entry.ref, entry.files) == (released, ("counts.txt",))
    assert entry.project == requests.show(world.ctx("alice"), released).project
    assert landing_for(world.store, world.policies, "bob").released == (entry,)
    assert landing_for(world.store, world.policies, "carol").released == ()
    assert landing_for(world.store, world.policies, "sam").airlock_waiting == 1  # waiting
    assert landing_for(world.store, world.policies, REVIEWER).airlock_waiting == 2
    assert landing_for(world.store, world.policies, "stella").airlock_waiting == 0  # conflicted
    assert {waiting, reviewed}.isdisjoint({e.ref for e in page.released})


def test_a_downloads_file_name_cannot_break_out_of_its_header() -> None:
    from wgs_tre.hub.pages import _attachment

    assert _attachment("table.csv") == (
        "attachment; filename=\"table.csv\"; filename*=UTF-8''table.csv"
    )
    header = _attachment('ré"s\r\nSet-Cookie: x.csv')
    assert "\r" not in header and "\n" not in header and header.count('"') == 2
    assert header.endswith("r%C3%A9%22s%0D%0ASet-Cookie%3A%20x.csv")
