"""Case reports' review: every step from every state through the governed functions, who may take
it (only the case's own hospital's panel signs off), and what can never change once signed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from tests.report_cast import CASES, add_hospitals, content, register_cases, stored_state
from tests.world import World, check_step
from wgs_tre.errors import AccessRefused, InvalidInput, InvalidTransition, NotFound, Reason
from wgs_tre.governance import REPORT, cases
from wgs_tre.types import Action, ReportState

# The review, written out apart from wgs_tre.governance.transitions.REPORT.
R = ReportState
REPORT_SPEC = {
    (R.DRAFT, Action.REPORT_GENERATE): R.DRAFT,
    (R.DRAFT, Action.REPORT_SUBMIT): R.IN_REVIEW,
    (R.IN_REVIEW, Action.REPORT_COMMENT): R.IN_REVIEW,
    (R.IN_REVIEW, Action.REPORT_RETURN): R.RETURNED,
    (R.IN_REVIEW, Action.REPORT_SIGN_OFF): R.SIGNED_OFF,
    (R.RETURNED, Action.REPORT_COMMENT): R.RETURNED,
    (R.RETURNED, Action.REPORT_GENERATE): R.REVISED,
    (R.REVISED, Action.REPORT_GENERATE): R.REVISED,
    (R.REVISED, Action.REPORT_SUBMIT): R.IN_REVIEW,
    (R.SIGNED_OFF, Action.REPORT_EXPORT): R.SIGNED_OFF,
}
STEPS = [
    Action.REPORT_GENERATE,
    Action.REPORT_SUBMIT,
    Action.REPORT_COMMENT,
    Action.REPORT_RETURN,
    Action.REPORT_SIGN_OFF,
    Action.REPORT_EXPORT,
]


@pytest.fixture
def refs(world: World) -> dict[str, str]:
    add_hospitals(world)
    return register_cases(world)


@pytest.fixture
def ref(refs: dict[str, str]) -> str:
    return refs["P000001"]  # a case of hospital-a, whose panel member is kenji


def _bring(world: World, ref: str, state: ReportState) -> None:
    cases.add_version(world.ctx("sam"), ref, content())
    if state is R.DRAFT:
        return
    cases.submit(world.ctx("sam"), ref)
    if state is R.SIGNED_OFF:
        cases.sign_off(world.ctx("kenji"), ref)
    elif state in (R.RETURNED, R.REVISED):
        cases.return_report(world.ctx("kenji"), ref, "cite the evidence for PVS1")
        if state is R.REVISED:
            cases.add_version(world.ctx("sam"), ref, content("revised"))
    assert stored_state(world, ref) == state.value


def _take(world: World, ref: str, action: Action) -> Callable[[], str]:
    sam, kenji = world.ctx("sam"), world.ctx("kenji")
    steps: dict[Action, Callable[[], object]] = {
        Action.REPORT_GENERATE: lambda: cases.add_version(sam, ref, content("again")),
        Action.REPORT_SUBMIT: lambda: cases.submit(sam, ref),
        Action.REPORT_COMMENT: lambda: cases.comment(kenji, ref, "see PMID 123"),
        Action.REPORT_RETURN: lambda: cases.return_report(kenji, ref, "wrong zygosity"),
        Action.REPORT_SIGN_OFF: lambda: cases.sign_off(kenji, ref),
        Action.REPORT_EXPORT: lambda: cases.export(kenji, ref),
    }

    def attempt() -> str:
        steps[action]()
        return str(stored_state(world, ref))

    return attempt


def test_the_table_matches_the_specification() -> None:
    table = {(s, a): t for s, steps in REPORT.table.items() for a, t in steps.items()}
    assert table == REPORT_SPEC


# The table is the same on both backends; what the database itself enforces (append-only
# versions and notes, who sees what) runs on both below.
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
@pytest.mark.parametrize("state", list(ReportState))
@pytest.mark.parametrize("action", STEPS)
def test_report_steps(world: World, ref: str, state: ReportState, action: Action) -> None:
    _bring(world, ref, state)
    check_step(world, REPORT_SPEC, state, action, _take(world, ref, action))


def test_generating_adds_versions_and_never_edits_one(world: World, ref: str) -> None:
    first = cases.add_version(world.ctx("sam"), ref, content("one"))
    second = cases.add_version(world.ctx("sam"), ref, content("two"))
    assert (first, second) == (1, 2)
    kenji = world.ctx("kenji")
    assert cases.view(kenji, ref, 1).content["summary"] == "one"
    assert cases.view(kenji, ref).content["summary"] == "two"
    assert [v.number for v in cases.view(kenji, ref).versions] == [1, 2]
    event = world.last_event()
    assert (event.actor, event.action, event.decision) == ("kenji", "report.view", "allowed")
    assert '"case":"' + ref in event.details and "P000001" not in event.details


def test_a_signed_off_version_cannot_change(world: World, ref: str) -> None:
    _bring(world, ref, R.SIGNED_OFF)
    for attempt in (
        lambda: cases.add_version(world.ctx("sam"), ref, content("after")),
        lambda: cases.comment(world.ctx("kenji"), ref, "too late"),
        lambda: cases.return_report(world.ctx("kenji"), ref, "too late"),
    ):
        with pytest.raises(
            InvalidTransition, match="it is signed_off; allowed from signed_off: export"
        ):
            attempt()
    # Not through the store either: versions and notes are append-only in the database itself.
    for statement in (
        "UPDATE report_version SET content = '{}'",
        "DELETE FROM report_version",
        "UPDATE report_note SET text = 'forged'",
        "DELETE FROM report_note",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), world.store.session() as s:
            s.execute(sa.text(statement))
    document = cases.export(world.ctx("kenji"), ref)
    assert (document.version, document.content) == (1, content())
    assert document.signed_off is not None and document.signed_off.author == "kenji"


def test_only_the_cases_own_hospital_signs_off_and_a_refusal_is_audited(
    world: World, refs: dict[str, str]
) -> None:
    b_case = refs["P000003"]  # hospital-b's
    _bring(world, b_case, R.IN_REVIEW)
    before = world.counts()
    with pytest.raises(AccessRefused) as caught:
        cases.sign_off(world.ctx("kenji"), b_case)  # kenji is hospital-a's panel
    assert caught.value.code is Reason.OTHER_HOSPITAL
    assert (
        str(caught.value)
        == f"refused: the case belongs to another hospital: {b_case} is a case of hospital-b"
    )
    after = world.counts()
    assert after.pop("audit_event") == before.pop("audit_event") + 1
    assert after == before, "a refused sign-off changed the store"
    event = world.last_event()
    assert (event.actor, event.action, event.decision) == ("kenji", "report.sign_off", "refused")
    assert f'"case":"{b_case}"' in event.details
    # A steward may submit any hospital's report but never sign one off (the role policy).
    with pytest.raises(AccessRefused, match="steward.*may not report.sign_off"):
        cases.sign_off(world.ctx("sam"), b_case)
    assert cases.sign_off(world.ctx("hana"), b_case).state is R.SIGNED_OFF


def test_each_reader_sees_the_identifiers_their_role_allows(
    world: World, refs: dict[str, str]
) -> None:
    mine = {c.ref: c.hospital_patient_id for c in cases.list_cases(world.ctx("kenji"))}
    assert mine == {refs[p]: mrn for p, (h, mrn, _) in CASES.items() if h == "hospital-a"}
    theirs = {c.ref: c.hospital_patient_id for c in cases.list_cases(world.ctx("hana"))}
    assert theirs == {refs["P000003"]: "MRN-B-0003"}
    everyone = cases.list_cases(world.ctx("sam"))  # a steward: every case, no patient ids
    assert sorted(c.ref for c in everyone) == sorted(refs.values())
    assert {c.hospital_patient_id for c in everyone} == {None}
    cases.add_version(world.ctx("sam"), refs["P000003"], content())
    with pytest.raises(AccessRefused, match="another hospital"):
        cases.view(world.ctx("kenji"), refs["P000003"])
    with pytest.raises(AccessRefused, match="may not case.list"):
        cases.list_cases(world.ctx("alice"))


@pytest.mark.parametrize(
    ("attempt", "error", "message"),
    [
        (lambda w, r: cases.view(w.ctx("kenji"), "C-000000"), NotFound, "no case named 'C-000000'"),
        (lambda w, r: cases.sign_off(w.ctx("alice"), r), AccessRefused,
         r"alice \(researcher\) may not report.sign_off: it needs .* roles: expert_panel"),
        (lambda w, r: cases.comment(w.ctx("kenji"), r, "   "), InvalidInput, "comment is empty"),
        (lambda w, r: cases.view(w.ctx("kenji"), r, 7), NotFound, "no version of the report"),
    ],
    ids=["unknown case", "sign-off without the role", "empty comment", "unknown version"],
)  # fmt: skip
def test_bad_requests_say_what_is_wrong_and_change_nothing(
    world: World, ref: str, attempt: Callable[[World, str], object], error: type, message: str
) -> None:
    _bring(world, ref, R.IN_REVIEW)
    before = world.counts()
    with pytest.raises(error, match=message):
        attempt(world, ref)
    after = world.counts()
    after.pop("audit_event"), before.pop("audit_event")  # a refusal is audited, nothing else
    assert after == before


def test_registering_cases_refuses_conflicts_as_a_whole(world: World, refs: dict[str, str]) -> None:
    from wgs_tre.governance.cases import CaseEntry

    again = [CaseEntry("P000001", "MRN-A-0001", "C34")]
    assert cases.register_cases(world.ctx("sam"), "hospital-a", again) == []  # already there
    before = world.counts()
    clash = [CaseEntry("P000001", "MRN-A-9999", "C34", "entry[0]")]
    with pytest.raises(InvalidInput, match=rf"entry\[0\].*already case {refs['P000001']}"):
        cases.register_cases(world.ctx("sam"), "hospital-a", clash)
    stranger = [CaseEntry("P999999", "MRN-A-0042", "C34", "entry[3]")]
    with pytest.raises(InvalidInput, match=r"entry\[3\].*not a participant"):
        cases.register_cases(world.ctx("sam"), "hospital-a", stranger)
    after = world.counts()
    after.pop("audit_event"), before.pop("audit_event")
    assert after == before
