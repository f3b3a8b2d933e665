"""Airlock output requests: every step from every state through the governed functions, the two
independent approvals, who is refused (and that each refusal is audited with its reason), and
what a submission freezes (the copies and their hashes)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.airlock_cast import (
    REVIEWER,
    S,
    add_reviewer,
    approved_project,
    area,
    releases,
    request_in,
    stored_state,
    workspace,
)
from tests.world import ADMIN, World
from wgs_tre.airlock import release, requests
from wgs_tre.airlock.tables import crosstab
from wgs_tre.errors import AccessRefused, InvalidInput, InvalidTransition, NotFound, Reason
from wgs_tre.governance import OUTPUT_REQUEST, users
from wgs_tre.types import Action, OutputRequestState, Role

# The request's life, written out apart from wgs_tre.governance.transitions.OUTPUT_REQUEST.
# An approval from in review leads to approved when it makes up approvals_needed (2): the
# request brought to in review holds one approval (sam's), the step adds the reviewer's.
SPEC = {
    (S.DRAFT, Action.AIRLOCK_ADD_FILE): S.DRAFT,
    (S.DRAFT, Action.AIRLOCK_SUBMIT): S.SUBMITTED,
    (S.DRAFT, Action.AIRLOCK_WITHDRAW): S.WITHDRAWN,
    (S.SUBMITTED, Action.AIRLOCK_APPROVE): S.IN_REVIEW,
    (S.SUBMITTED, Action.AIRLOCK_REQUEST_CHANGES): S.CHANGES_REQUESTED,
    (S.SUBMITTED, Action.AIRLOCK_REJECT): S.REJECTED,
    (S.SUBMITTED, Action.AIRLOCK_WITHDRAW): S.WITHDRAWN,
    (S.IN_REVIEW, Action.AIRLOCK_APPROVE): S.APPROVED,
    (S.IN_REVIEW, Action.AIRLOCK_REQUEST_CHANGES): S.CHANGES_REQUESTED,
    (S.IN_REVIEW, Action.AIRLOCK_REJECT): S.REJECTED,
    (S.IN_REVIEW, Action.AIRLOCK_WITHDRAW): S.WITHDRAWN,
    (S.CHANGES_REQUESTED, Action.AIRLOCK_ADD_FILE): S.CHANGES_REQUESTED,
    (S.CHANGES_REQUESTED, Action.AIRLOCK_SUBMIT): S.SUBMITTED,
    (S.CHANGES_REQUESTED, Action.AIRLOCK_WITHDRAW): S.WITHDRAWN,
    (S.APPROVED, Action.AIRLOCK_RELEASE): S.RELEASED,
    (S.RELEASED, Action.AIRLOCK_DOWNLOAD): S.RELEASED,
}
STEPS = [
    Action.AIRLOCK_ADD_FILE,
    Action.AIRLOCK_SUBMIT,
    Action.AIRLOCK_WITHDRAW,
    Action.AIRLOCK_APPROVE,
    Action.AIRLOCK_REQUEST_CHANGES,
    Action.AIRLOCK_REJECT,
    Action.AIRLOCK_RELEASE,
    Action.AIRLOCK_DOWNLOAD,
]


@pytest.fixture
def cast(world: World) -> World:
    add_reviewer(world)
    return world


def _take(world: World, ref: str, action: Action) -> Callable[[], object]:
    alice, reviewer = world.ctx("alice"), world.ctx(REVIEWER)
    steps: dict[Action, Callable[[], object]] = {
        Action.AIRLOCK_ADD_FILE: lambda: requests.add_file(alice, ref, "counts.txt", "again"),
        Action.AIRLOCK_SUBMIT: lambda: requests.submit(alice, ref, area=area(world)),
        Action.AIRLOCK_WITHDRAW: lambda: requests.withdraw(alice, ref),
        Action.AIRLOCK_APPROVE: lambda: requests.approve(reviewer, ref),
        Action.AIRLOCK_REQUEST_CHANGES: lambda: requests.request_changes(reviewer, ref, "why"),
        Action.AIRLOCK_REJECT: lambda: requests.reject(reviewer, ref, "disclosive"),
        Action.AIRLOCK_RELEASE: lambda: release.release(reviewer, ref, releases=releases(world)),
        Action.AIRLOCK_DOWNLOAD: lambda: release.released_file(
            alice, ref, "counts.txt", releases=releases(world)
        ),
    }
    return steps[action]


def test_the_table_matches_the_specification() -> None:
    table = {(s, a): t for s, steps in OUTPUT_REQUEST.table.items() for a, t in steps.items()}
    assert table == SPEC
    assert set(OUTPUT_REQUEST.table) == set(OutputRequestState)


def _events(world: World) -> int:
    return world.counts()["audit_event"]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
@pytest.mark.parametrize("state", list(OutputRequestState))
@pytest.mark.parametrize("action", STEPS)
def test_request_steps(cast: World, state: OutputRequestState, action: Action) -> None:
    """A step the table allows changes the state as the specification says and writes one
    audit event; any other raises InvalidTransition naming the request, and changes nothing
    but the audited refusal."""
    world = cast
    ref = request_in(world, state)
    before = world.counts()
    if (state, action) in SPEC:
        _take(world, ref, action)()
        assert stored_state(world, ref) == SPEC[(state, action)].value
        assert world.counts()["audit_event"] == before["audit_event"] + 1
        event = world.last_event()
        assert (event.action, event.decision) == (action.value, "allowed")
        assert json.loads(event.details)["request"] == ref
        return
    with pytest.raises(InvalidTransition) as caught:
        _take(world, ref, action)()
    assert f"output request {ref}" in caught.value.message
    assert caught.value.current == state.value
    assert caught.value.allowed == sorted(a.value.split(".")[1] for (s, a) in SPEC if s == state)
    after = world.counts()
    assert after.pop("audit_event") == before.pop("audit_event") + 1
    assert after == before, "a refused step changed the store"
    assert stored_state(world, ref) == state.value
    event = world.last_event()
    assert (event.action, event.decision) == (action.value, "refused")
    assert event.reason == caught.value.message
    assert json.loads(event.details)["output_request"] == ref


def _refused(world: World, attempt: Callable[[], object], code: Reason, action: Action) -> str:
    """``attempt`` is refused with ``code``, the refusal audited, nothing else written."""
    before = world.counts()
    with pytest.raises(AccessRefused) as caught:
        attempt()
    assert caught.value.code is code
    after = world.counts()
    assert after.pop("audit_event") == before.pop("audit_event") + 1
    assert after == before
    event = world.last_event()
    assert (event.action, event.decision) == (action.value, "refused")
    assert event.reason.startswith(code.value)
    return event.reason


def test_two_distinct_stewards_must_approve(cast: World) -> None:
    world = cast
    ref = request_in(world, S.SUBMITTED)
    first = requests.approve(world.ctx("sam"), ref, "fine")
    assert (first.state, first.approvals, first.approvals_needed) == (S.IN_REVIEW, 1, 2)
    # The same steward again: refused and audited, still one approval.
    reason = _refused(
        world,
        lambda: requests.approve(world.ctx("sam"), ref),
        Reason.ALREADY_REVIEWED,
        Action.AIRLOCK_APPROVE,
    )
    assert "sam" in reason and ref in reason
    assert stored_state(world, ref) == S.IN_REVIEW.value
    second = requests.approve(world.ctx("sue"), ref)
    assert (second.state, second.approvals) == (S.APPROVED, 2)
    assert [(r.steward, r.verdict.value) for r in second.reviews] == [
        ("sam", "approve"),
        ("sue", "approve"),
    ]


def test_a_steward_who_requested_changes_may_not_review_the_same_submission_again(
    cast: World,
) -> None:
    world = cast
    ref = request_in(world, S.SUBMITTED)
    requests.approve(world.ctx("sam"), ref)
    requests.request_changes(world.ctx("sue"), ref, "round the counts")
    requests.submit(world.ctx("alice"), ref, area=area(world))
    # A new submission: the earlier approval does not count toward it; each may review it once.
    view = requests.approve(world.ctx("sue"), ref)
    assert (view.submission, view.approvals, view.state) == (2, 1, S.IN_REVIEW)
    _refused(
        world,
        lambda: requests.reject(world.ctx("sue"), ref, "no"),
        Reason.ALREADY_REVIEWED,
        Action.AIRLOCK_REJECT,
    )
    assert requests.approve(world.ctx("sam"), ref).state is S.APPROVED


def test_a_steward_of_the_project_is_refused_and_audited(cast: World) -> None:
    world = cast
    users.create_user(
        world.ctx(ADMIN), "mira", roles={Role.STEWARD, Role.RESEARCHER}, organisation="NCGM"
    )
    slug = approved_project(world)
    # mira is no member of this one: she may review it.
    other = request_in(world, S.SUBMITTED)
    assert requests.approve(world.ctx("mira"), other).approvals == 1
    from wgs_tre.governance import approvals

    approvals.amend_members(world.ctx("sam"), slug, add=["mira"])
    ref = request_in(world, S.SUBMITTED, slug)
    for verdict in (requests.approve, requests.reject):
        reason = _refused(
            world,
            lambda verdict=verdict: verdict(world.ctx("mira"), ref, "ok"),  # type: ignore[misc]
            Reason.CONFLICT_OF_INTEREST,
            Action.AIRLOCK_APPROVE if verdict is requests.approve else Action.AIRLOCK_REJECT,
        )
        assert f"mira is a member of project {slug}" in reason
    assert stored_state(world, ref) == S.SUBMITTED.value


def test_a_steward_of_the_applicants_organisation_is_refused(cast: World) -> None:
    world = cast
    ref = request_in(world, S.SUBMITTED)
    reason = _refused(
        world,
        lambda: requests.approve(world.ctx("stella"), ref),
        Reason.CONFLICT_OF_INTEREST,
        Action.AIRLOCK_APPROVE,
    )
    assert "Uni A" in reason


def test_the_requester_may_not_review_and_others_may_not_act_for_the_requester(
    cast: World,
) -> None:
    world = cast
    users.create_user(
        world.ctx(ADMIN), "rosa", roles={Role.STEWARD, Role.RESEARCHER}, organisation="Uni B"
    )
    slug = f"rosa-{world.counts()['project']}"
    world.approved(slug, lead="rosa", members=[])
    (workspace(world, slug) / "t.txt").write_text("counts\n")
    ref = requests.create(world.ctx("rosa"), slug, "p", workspace=workspace(world, slug)).ref
    requests.add_file(world.ctx("rosa"), ref, "t.txt", "j")
    requests.submit(world.ctx("rosa"), ref, area=area(world))
    reason = _refused(
        world,
        lambda: requests.approve(world.ctx("rosa"), ref),
        Reason.CONFLICT_OF_INTEREST,
        Action.AIRLOCK_APPROVE,
    )
    assert f"rosa made output request {ref}" in reason
    # bob belongs to alice's project but did not make her request.
    theirs = request_in(world, S.DRAFT)
    _refused(
        world,
        lambda: requests.withdraw(world.ctx("bob"), theirs),
        Reason.NOT_THE_REQUESTER,
        Action.AIRLOCK_WITHDRAW,
    )
    # bob may see it (a member), carol may not (not a member).
    assert requests.show(world.ctx("bob"), theirs).requester == "alice"
    with pytest.raises(AccessRefused) as caught:
        requests.show(world.ctx("carol"), theirs)
    assert caught.value.code is Reason.NOT_A_MEMBER


def test_only_an_active_member_of_an_approved_project_creates_a_request(cast: World) -> None:
    world = cast
    slug = approved_project(world)
    _refused(
        world,
        lambda: requests.create(world.ctx("carol"), slug, "p", workspace=workspace(world, slug)),
        Reason.NOT_A_MEMBER,
        Action.AIRLOCK_CREATE,
    )
    world.apply("pending-one")
    _refused(
        world,
        lambda: requests.create(
            world.ctx("alice"), "pending-one", "p", workspace=workspace(world, "pending-one")
        ),
        Reason.NO_APPROVAL,
        Action.AIRLOCK_CREATE,
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_submission_is_a_hashed_copy_that_later_edits_do_not_change(cast: World) -> None:
    world = cast
    ref = request_in(world, S.DRAFT)
    slug = requests.show(world.ctx("alice"), ref).project
    source = workspace(world, slug) / "counts.txt"
    original = _sha(source)
    view = requests.submit(world.ctx("alice"), ref, area=area(world))
    (entry,) = view.files
    stored = area(world) / slug / ref / "1" / "counts.txt"
    assert (entry.name, entry.sha256, entry.size) == ("counts.txt", original, stored.stat().st_size)
    assert entry.findings is None  # text without a pseudonym: for the eyes
    source.write_text("edited after submitting\n")
    assert _sha(stored) == original
    assert requests.show(world.ctx("sam"), ref).files[0].sha256 == original
    # Nothing half-written is left next to the submission.
    assert sorted(p.name for p in (area(world) / slug / ref).iterdir()) == ["1"]
    event = world.last_event()
    assert event.action == "airlock.submit"
    assert json.loads(event.details)["files"] == {"counts.txt": original}


def test_a_file_changing_while_it_is_copied_is_caught(
    cast: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = cast
    ref = request_in(world, S.DRAFT)
    slug = requests.show(world.ctx("alice"), ref).project
    source = workspace(world, slug) / "counts.txt"
    real_copy = requests.shutil.copyfileobj

    def copy_then_edit(reading, writing, *args):  # type: ignore[no-untyped-def]
        source.write_text("changed between hashing and copying\n")  # another process writes
        reading.seek(0)
        real_copy(reading, writing, *args)

    monkeypatch.setattr(requests.shutil, "copyfileobj", copy_then_edit)
    before = world.counts()
    with pytest.raises(InvalidInput, match="changed while it was copied"):
        requests.submit(world.ctx("alice"), ref, area=area(world))
    assert world.counts() == before
    assert stored_state(world, ref) == S.DRAFT.value
    assert not any((area(world) / slug / ref).iterdir())


def test_paths_outside_the_workspace_are_refused_links_included(cast: World) -> None:
    world = cast
    ref = request_in(world, S.DRAFT)
    slug = requests.show(world.ctx("alice"), ref).project
    home = workspace(world, slug)
    secret = world.tmp / "governance-secret.txt"
    secret.write_text("not the project's")
    (home / "escape").symlink_to(secret)
    (home / "dir-link").symlink_to(world.tmp)
    outside = ("../governance-secret.txt", str(secret), "escape", "dir-link/governance-secret.txt")
    for path in outside:
        _refused(
            world,
            lambda path=path: requests.add_file(world.ctx("alice"), ref, path, "j"),  # type: ignore[misc]
            Reason.OUTSIDE_WORKSPACE,
            Action.AIRLOCK_ADD_FILE,
        )
    # A link swapped in after the file was added is caught when the file is copied.
    (home / "late.txt").write_text("fine")
    requests.add_file(world.ctx("alice"), ref, "late.txt", "j")
    (home / "late.txt").unlink()
    (home / "late.txt").symlink_to(secret)
    _refused(
        world,
        lambda: requests.submit(world.ctx("alice"), ref, area=area(world)),
        Reason.OUTSIDE_WORKSPACE,
        Action.AIRLOCK_SUBMIT,
    )
    assert [f.name for f in requests.show(world.ctx("alice"), ref).files] == [
        "counts.txt",
        "late.txt",
    ]


def test_a_directory_swapped_for_a_link_between_check_and_copy_is_not_followed(
    cast: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race a researcher would try against the CLI, which runs as root: the path is checked
    and then, at the worst moment, a directory on it becomes a link to somewhere else. The copy
    opens each directory without following links, so it is refused and nothing is copied."""
    world = cast
    ref = request_in(world, S.DRAFT)
    home = workspace(world, requests.show(world.ctx("alice"), ref).project)
    (home / "sub").mkdir()
    (home / "sub" / "data.txt").write_text("the project's")
    requests.add_file(world.ctx("alice"), ref, "sub/data.txt", "j")
    elsewhere = world.tmp / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.txt").write_text("not the project's")
    checked = requests.in_workspace

    def check_then_swap(root: Path, path: Path | str, ref: str) -> tuple[Path, str]:
        found = checked(root, path, ref)
        if str(path) == "sub/data.txt":
            (home / "sub").rename(home / "sub-before")
            (home / "sub").symlink_to(elsewhere)
        return found

    monkeypatch.setattr(requests, "in_workspace", check_then_swap)
    _refused(
        world,
        lambda: requests.submit(world.ctx("alice"), ref, area=area(world)),
        Reason.OUTSIDE_WORKSPACE,
        Action.AIRLOCK_SUBMIT,
    )
    copies = [p for p in area(world).rglob("*") if p.is_file()]
    assert copies == [] and requests.show(world.ctx("alice"), ref).state == S.DRAFT


def test_submitting_runs_the_disclosure_checks_on_tables(cast: World) -> None:
    import pandas as pd

    world = cast
    ref = request_in(world, S.DRAFT)
    slug = requests.show(world.ctx("alice"), ref).project
    home = workspace(world, slug)
    frame = pd.DataFrame({"sex": ["F"] * 30 + ["M"] * 3, "smoker": ["y", "n"] * 15 + ["y"] * 3})
    crosstab(frame, "sex", "smoker").save(home / "smoking.csv")
    pd.DataFrame({"a": [1]}).to_csv(home / "bare.csv", index=False)
    requests.add_file(world.ctx("alice"), ref, "smoking.csv", "table 1")
    requests.add_file(world.ctx("alice"), ref, "bare.csv", "table 2")
    view = requests.submit(world.ctx("alice"), ref, area=area(world))
    found = {f.name: [x["rule"] for x in f.findings or []] for f in view.files}
    assert "threshold" in found["smoking.csv"]  # 3 men: below min_cell_count
    assert found["bare.csv"] == ["evidence"]  # a table without its record of checks
    assert {f.name: f.findings for f in view.files}["counts.txt"] is None  # not a table
    # The table's record of checks travels with its copy; the copy is what was checked.
    stored = area(world) / slug / ref / "1"
    assert sorted(p.name for p in stored.iterdir()) == [
        "bare.csv",
        "counts.txt",
        "smoking.csv",
        "smoking.csv.checks.json",
    ]


def test_bad_input_says_what_is_wrong_and_changes_nothing(cast: World) -> None:
    world = cast
    ref = request_in(world, S.DRAFT)
    before = world.counts()
    with pytest.raises(InvalidInput):
        requests.add_file(world.ctx("alice"), ref, "counts.txt", "   ")
    with pytest.raises(InvalidInput):
        requests.request_changes(world.ctx("sam"), ref, "")
    with pytest.raises(InvalidInput):
        requests.add_file(world.ctx("alice"), ref, "missing.txt", "j")
    assert world.counts() == before
    with pytest.raises(NotFound):
        requests.show(world.ctx("alice"), "R-000000")


def test_lists_researchers_their_projects_stewards_their_queue(cast: World) -> None:
    world = cast
    draft = request_in(world, S.DRAFT)
    waiting = request_in(world, S.SUBMITTED)
    approved = request_in(world, S.APPROVED)
    reviewed = request_in(world, S.IN_REVIEW)  # sam approved it
    mine = {r.ref for r in requests.list_requests(world.ctx("alice"))}
    assert {draft, waiting, approved, reviewed} <= mine
    assert not {r.ref for r in requests.list_requests(world.ctx("carol"))} & mine
    assert {r.ref for r in requests.list_requests(world.ctx("sam"))} == {waiting}
    assert {r.ref for r in requests.list_requests(world.ctx("sue"))} == {waiting, reviewed}
    assert requests.list_requests(world.ctx("stella")) == []  # conflicted on every one


def test_reviews_are_append_only_in_the_database(cast: World) -> None:
    world = cast
    request_in(world, S.IN_REVIEW)
    with pytest.raises(sa.exc.DBAPIError), world.store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE output_review SET verdict = 'reject'"))
    with pytest.raises(sa.exc.DBAPIError), world.store.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM output_review"))


def test_the_cli_walkthrough(
    cast: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A researcher's request and two stewards' approvals through ``wgs-tre airlock``, with
    ``--json``; a refusal is one line on stderr with the exit code of its class."""
    from wgs_tre.cli import main
    from wgs_tre.errors import ExitCode

    world = cast
    monkeypatch.setenv("WGS_TRE_DATABASE_URL", world.store.url.render_as_string(False))
    monkeypatch.setenv("WGS_TRE_POLICY_DIR", str(world.policies.source))
    monkeypatch.setenv("WGS_TRE_DATA_DIR", str(world.tmp / "data"))
    slug = approved_project(world)
    home = workspace(world, slug)
    (home / "figure.svg").write_text("<svg/>")
    monkeypatch.setenv("WGS_TRE_WORKSPACE", str(home))

    def run(who: str, *args: str) -> tuple[int, str, str]:
        code = main(["--as", who, "airlock", *args])
        out, err = capsys.readouterr()
        return code, out, err

    def ok(who: str, *args: str) -> dict:  # type: ignore[type-arg]
        code, out, err = run(who, *args, "--json")
        assert code == 0, err
        return json.loads(out)  # type: ignore[no-any-return]

    ref = ok("alice", "create", slug, "--purpose", "figure 2 of the paper")["ref"]
    ok("alice", "add", ref, "figure.svg", "-j", "allele frequencies by ancestry, no counts")
    sent = ok("alice", "submit", ref)
    assert (sent["state"], sent["files"][0]["sha256"]) == ("submitted", _sha(home / "figure.svg"))
    assert [r["ref"] for r in ok("sam", "list")] == [ref]
    assert ok("sam", "approve", ref, "-m", "fine")["state"] == "in_review"
    code, out, err = run("sam", "approve", ref)
    assert code == ExitCode.REFUSED and out == ""
    assert err.count("\n") == 1 and "already reviewed" in err
    code, _, err = run("stella", "reject", ref, "-m", "no")
    assert code == ExitCode.REFUSED and "conflict of interest" in err
    code, _, err = run("sue", "reject", ref)
    assert code == ExitCode.INVALID_INPUT and "comment" in err
    # The approval that makes it approved releases it.
    assert ok("sue", "approve", ref)["state"] == "released"
    released = world.tmp / "data" / "releases" / slug / ref / "files" / "figure.svg"
    assert released.read_text() == "<svg/>"
    code, _, err = run("alice", "withdraw", ref)
    assert code == ExitCode.CONFLICT and f"output request {ref}: it is released" in err
    code, _, err = run("sue", "release", ref)
    assert code == ExitCode.CONFLICT and "it is released" in err
    code, out, _ = run("alice", "show", ref)
    assert code == 0 and "2 of 2 approvals" in out and "figure.svg" in out
    code, out, _ = run("alice", "--help")
    assert code == 0
    for command in ("create", "add", "submit", "list", "show", "approve", "request-changes",
                    "reject", "withdraw", "release"):  # fmt: skip
        assert command in out


def test_the_number_of_approvals_comes_from_the_policy(cast: World, tmp_path: Path) -> None:
    """With ``approvals_needed: 3`` a second approval leaves the request in review; fewer than
    two is not a policy the airlock accepts."""
    import dataclasses

    from wgs_tre.errors import PolicyError

    world = cast
    source = world.policies.source
    assert source is not None
    policies = tmp_path / "policies"
    shutil.copytree(source, policies)
    rules = policies / "disclosure.yaml"
    shipped = rules.read_text()
    assert "approvals_needed: 2\n" in shipped
    rules.write_text(shipped.replace("approvals_needed: 2", "approvals_needed: 3"))
    world.policies = dataclasses.replace(world.policies, source=policies)
    ref = request_in(world, S.SUBMITTED)
    assert requests.approve(world.ctx("sam"), ref).state is S.IN_REVIEW
    second = requests.approve(world.ctx("sue"), ref)
    assert (second.state, second.approvals, second.approvals_needed) == (S.IN_REVIEW, 2, 3)
    assert requests.approve(world.ctx(REVIEWER), ref).state is S.APPROVED
    rules.write_text(shipped.replace("approvals_needed: 2", "approvals_needed: 1"))
    with pytest.raises(PolicyError, match="approvals_needed"):
        requests.show(world.ctx("sam"), ref)
