"""Files brought into a project through the airlock: sanitized on the way in, admitted by one
steward free of conflicts (or at once when the policy wants no approval), and placed in the
workspace's ``incoming/`` as new files, owned by root with the project's group, mode 0660,
without following anything the researchers could have put there. Every step, and every
refusal, audited; the state machine tried from every state."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.airlock_cast import REVIEWER, add_reviewer, approved_project
from tests.world import ADMIN, World
from wgs_tre.airlock import ingress
from wgs_tre.errors import AccessRefused, InvalidInput, InvalidTransition, Reason
from wgs_tre.governance import INGRESS, approvals, users
from wgs_tre.types import Action, IngressState, Role

I = IngressState  # noqa: E741
GID = 4242  # the project's group, as the hub's accounts would make it
WEIGHTS = "rsid,effect_allele,weight\nrs429358,C,0.52\nrs7412,T,-0.31\n"
CODE = "import pandas as pd\n\n\ndef score(weights):\n    return weights.sum()\n"
# The machine written out apart from wgs_tre.governance.transitions.INGRESS.
SPEC = {
    (I.PENDING, Action.AIRLOCK_ADMIT): I.ADMITTED,
    (I.PENDING, Action.AIRLOCK_REFUSE_IN): I.REFUSED,
}


@pytest.fixture
def cast(world: World) -> World:
    add_reviewer(world)
    return world


def _area(world: World) -> Path:
    return world.tmp / "data" / "airlock"


def _workspace(world: World, slug: str) -> Path:
    path = world.tmp / "workspaces" / slug
    if not path.exists():
        path.mkdir(parents=True)
        os.chown(path, 0, GID)
        path.chmod(0o2770)
    return path


def _source(world: World, name: str, content: str | bytes) -> Path:
    folder = world.tmp / "upload"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _bring(world: World, slug: str, name: str, content: str | bytes, who: str = "alice") -> str:
    view = ingress.bring_in(
        world.ctx(who),
        slug,
        _source(world, name, content),
        f"{name} for the analysis",
        area=_area(world),
        workspace=_workspace(world, slug),
    )
    return view.ref


def _admit(world: World, ref: str, slug: str, who: str = "sam") -> ingress.IngressView:
    return ingress.admit(world.ctx(who), ref, workspace=_workspace(world, slug))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_state(world: World, ref: str) -> str:
    with world.store.engine.connect() as connection:
        return str(
            connection.execute(
                sa.text("SELECT state FROM ingress_request WHERE ref = :ref"), {"ref": ref}
            ).scalar_one()
        )


def _placed_right(path: Path, view: ingress.IngressView) -> None:
    """Root's file with the project's group, 0660, holding the sanitized copy's bytes."""
    info = path.lstat()
    assert stat.S_ISREG(info.st_mode)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, GID, 0o660)
    assert path.read_bytes() == view.copy.read_bytes()
    assert _sha(path) == view.sha256


def test_a_python_file_and_a_weights_table_are_admitted_into_incoming(cast: World) -> None:
    world = cast
    slug = approved_project(world)
    home = _workspace(world, slug)
    refs = [_bring(world, slug, "score.py", CODE), _bring(world, slug, "prs_weights.csv", WEIGHTS)]
    assert [stored_state(world, r) for r in refs] == ["pending", "pending"]
    assert not (home / "incoming").exists(), "placed before a steward approved it"
    event = world.last_event()
    assert (event.actor, event.action, event.decision) == ("alice", "airlock.bring_in", "allowed")
    assert json.loads(event.details)["ingress"] == refs[1]
    # The steward's queue, and the researchers' own list (bob is a member of the project).
    assert {v.ref for v in ingress.list_ingress(world.ctx("sam"))} >= set(refs)
    assert {v.ref for v in ingress.list_ingress(world.ctx("bob"))} == set(refs)
    assert ingress.list_ingress(world.ctx("carol")) == []
    for ref, name, content in zip(
        refs, ["score.py", "prs_weights.csv"], [CODE, WEIGHTS], strict=True
    ):
        before = world.counts()["audit_event"]
        view = _admit(world, ref, slug)
        assert (view.state, view.decided_by, view.placed_as) == (I.ADMITTED, "sam", name)
        assert world.counts()["audit_event"] == before + 1
        event = world.last_event()
        assert (event.actor, event.action, event.decision) == ("sam", "airlock.admit", "allowed")
        assert json.loads(event.details)["placed_as"] == f"incoming/{name}"
        assert event.project == slug
        _placed_right(home / "incoming" / name, view)
        assert (home / "incoming" / name).read_text() == content  # plain text: unchanged
    info = (home / "incoming").lstat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, GID, 0o2770)
    assert sorted(p.name for p in (home / "incoming").iterdir()) == ["prs_weights.csv", "score.py"]
    assert ingress.list_ingress(world.ctx("sam")) == [], "decided files left the queue"
    assert ingress.show(world.ctx("bob"), refs[0]).placed_as == "score.py"


def test_without_approval_in_the_policy_it_lands_at_once(cast: World, tmp_path: Path) -> None:
    world = cast
    source = world.policies.source
    assert source is not None
    policies = tmp_path / "policies"
    shutil.copytree(source, policies)
    files = policies / "files.yaml"
    shipped = files.read_text()
    assert "ingress_needs_approval: true\n" in shipped
    files.write_text(
        shipped.replace("ingress_needs_approval: true", "ingress_needs_approval: false")
    )
    world.policies = dataclasses.replace(world.policies, source=policies)
    slug = approved_project(world)
    ref = _bring(world, slug, "prs_weights.csv", WEIGHTS)
    view = ingress.show(world.ctx("alice"), ref)
    assert (view.state, view.decided_by, view.placed_as) == (I.ADMITTED, None, "prs_weights.csv")
    _placed_right(_workspace(world, slug) / "incoming" / "prs_weights.csv", view)
    event = world.last_event()
    assert (event.action, event.decision) == ("airlock.bring_in", "allowed")
    assert json.loads(event.details)["state"] == "admitted"
    assert ingress.list_ingress(world.ctx("sam")) == []  # nothing for a steward to decide
    with pytest.raises(InvalidTransition):
        _admit(world, ref, slug)


def _refused_bring_in(world: World, slug: str, name: str, content: bytes, code: Reason) -> str:
    """Bringing in ``name`` is refused with ``code``, audited, and leaves nothing behind."""
    before = world.counts()
    with pytest.raises(AccessRefused) as caught:
        _bring(world, slug, name, content)
    assert caught.value.code is code
    assert name in caught.value.message
    after = world.counts()
    assert after.pop("audit_event") == before.pop("audit_event") + 1
    assert after == before
    event = world.last_event()
    assert (event.actor, event.action, event.decision) == ("alice", "airlock.bring_in", "refused")
    assert event.project == slug
    assert name in event.reason
    home = _area(world) / "ingress" / slug
    assert not home.exists() or list(home.iterdir()) == [], "a refused file left a copy"
    assert not (_workspace(world, slug) / "incoming").exists()
    return caught.value.message


def test_an_executable_renamed_py_is_refused(cast: World) -> None:
    world = cast
    slug = approved_project(world)
    message = _refused_bring_in(
        world, slug, "tool.py", Path("/bin/true").read_bytes(), Reason.FILE_MISNAMED
    )
    assert "executable program" in message


def test_a_zip_bomb_is_refused(cast: World) -> None:
    world = cast
    slug = approved_project(world)
    bomb = world.tmp / "bomb.zip"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("zeros.csv", "w") as member,
    ):
        for _ in range(20):
            member.write(bytes(2**20))
    message = _refused_bring_in(world, slug, "data.zip", bomb.read_bytes(), Reason.UNSAFE_ARCHIVE)
    assert "zip bomb" in message


def test_a_notebook_comes_in_without_its_outputs(cast: World) -> None:
    world = cast
    slug = approved_project(world)
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 3,
                "metadata": {},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "P001 54\n"}],
                "source": "print(row)",
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    ref = _bring(world, slug, "prs.ipynb", json.dumps(notebook))
    assert "removed the outputs of 1 code cells" in ingress.show(world.ctx("sam"), ref).actions
    assert (
        "removed the outputs of 1 code cells" in json.loads(world.last_event().details)["sanitized"]
    )
    view = _admit(world, ref, slug)
    placed = _workspace(world, slug) / "incoming" / "prs.ipynb"
    _placed_right(placed, view)
    cell = json.loads(placed.read_text())["cells"][0]
    assert (cell["outputs"], cell["execution_count"]) == ([], None)
    assert "".join(cell["source"]) == "print(row)"
    assert "P001" not in placed.read_text()


def _refused(world: World, attempt: Callable[[], object], code: Reason, action: Action) -> str:
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


def test_the_requester_or_a_member_as_steward_is_refused_and_audited(cast: World) -> None:
    world = cast
    users.create_user(
        world.ctx(ADMIN), "mira", roles={Role.STEWARD, Role.RESEARCHER}, organisation="NCGM"
    )
    users.create_user(
        world.ctx(ADMIN), "milo", roles={Role.STEWARD, Role.RESEARCHER}, organisation="NCGM"
    )
    slug = approved_project(world)
    approvals.amend_members(world.ctx("sam"), slug, add=["mira", "milo"])
    ref = _bring(world, slug, "score.py", CODE, who="mira")
    reason = _refused(
        world, lambda: _admit(world, ref, slug, "mira"), Reason.CONFLICT_OF_INTEREST,
        Action.AIRLOCK_ADMIT,
    )  # fmt: skip
    assert f"mira made ingress request {ref}" in reason
    reason = _refused(
        world,
        lambda: ingress.refuse(world.ctx("milo"), ref, "not needed"),
        Reason.CONFLICT_OF_INTEREST,
        Action.AIRLOCK_REFUSE_IN,
    )
    assert f"milo is a member of project {slug}" in reason
    assert "Uni A" in _refused(
        world,
        lambda: _admit(world, ref, slug, "stella"),  # of the applicant's organisation
        Reason.CONFLICT_OF_INTEREST,
        Action.AIRLOCK_ADMIT,
    )
    assert json.loads(world.last_event().details)["ingress_request"] == ref
    assert ref not in [v.ref for v in ingress.list_ingress(world.ctx("milo"))]  # conflicted
    assert stored_state(world, ref) == "pending"
    assert not (_workspace(world, slug) / "incoming").exists()
    assert ref in [v.ref for v in ingress.list_ingress(world.ctx(REVIEWER))]
    assert _admit(world, ref, slug, REVIEWER).state is I.ADMITTED


def test_incoming_swapped_for_a_link_is_refused_and_nothing_written_outside(
    cast: World,
) -> None:
    world = cast
    slug = approved_project(world)
    home = _workspace(world, slug)
    elsewhere = world.tmp / "elsewhere"
    elsewhere.mkdir()
    ref = _bring(world, slug, "score.py", CODE)
    (home / "incoming").symlink_to(elsewhere)
    reason = _refused(
        world, lambda: _admit(world, ref, slug), Reason.OUTSIDE_WORKSPACE, Action.AIRLOCK_ADMIT
    )
    assert ref in reason
    assert list(elsewhere.iterdir()) == []
    assert stored_state(world, ref) == "pending"
    # A file in its place is refused the same way; a real directory then works.
    (home / "incoming").unlink()
    (home / "incoming").write_text("not a folder")
    _refused(
        world, lambda: _admit(world, ref, slug), Reason.OUTSIDE_WORKSPACE, Action.AIRLOCK_ADMIT
    )
    (home / "incoming").unlink()
    assert _admit(world, ref, slug).placed_as == "score.py"
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("name", ["../score.py", "lib/score.py", "..", "/etc/passwd", ".bashrc"])
def test_a_name_with_folders_is_refused(cast: World, name: str) -> None:
    world = cast
    slug = approved_project(world)
    before = world.counts()
    with pytest.raises(InvalidInput):
        ingress.bring_in(
            world.ctx("alice"),
            slug,
            _source(world, "score.py", CODE),
            "code",
            area=_area(world),
            workspace=_workspace(world, slug),
            name=name,
        )
    assert world.counts() == before
    assert not (_area(world) / "ingress").exists()


def test_an_existing_name_gets_a_number_and_nothing_is_overwritten(cast: World) -> None:
    world = cast
    slug = approved_project(world)
    home = _workspace(world, slug)
    (home / "incoming").mkdir()
    (home / "incoming" / "prs_weights.csv").write_text("the researcher's own\n")
    outside = world.tmp / "outside.csv"
    (home / "incoming" / "prs_weights (2).csv").symlink_to(outside)  # a dangling link
    first = _admit(world, _bring(world, slug, "prs_weights.csv", WEIGHTS), slug)
    assert first.placed_as == "prs_weights (3).csv"
    assert (home / "incoming" / "prs_weights.csv").read_text() == "the researcher's own\n"
    assert not outside.exists(), "the link was followed"
    _placed_right(home / "incoming" / "prs_weights (3).csv", first)
    second = _admit(world, _bring(world, slug, "prs_weights.csv", WEIGHTS), slug)
    assert second.placed_as == "prs_weights (4).csv"
    names = sorted(p.name for p in (home / "incoming").iterdir())
    assert names == [
        "prs_weights (2).csv",
        "prs_weights (3).csv",
        "prs_weights (4).csv",
        "prs_weights.csv",
    ], "a temporary file was left behind"
    tarball = _admit(world, _bring(world, slug, "ref.tar.gz", _tar_gz(world)), slug)
    again = _admit(world, _bring(world, slug, "ref.tar.gz", _tar_gz(world)), slug)
    assert (tarball.placed_as, again.placed_as) == ("ref.tar.gz", "ref (2).tar.gz")


def _tar_gz(world: World) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = WEIGHTS.encode()
        member = tarfile.TarInfo("weights.csv")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def test_the_table_matches_the_specification() -> None:
    table = {(s, a): t for s, steps in INGRESS.table.items() for a, t in steps.items()}
    assert table == SPEC
    assert set(INGRESS.table) == set(IngressState)


def _in_state(world: World, state: IngressState) -> tuple[str, str]:
    slug = approved_project(world)
    ref = _bring(world, slug, "score.py", CODE)
    if state is I.ADMITTED:
        _admit(world, ref, slug)
    elif state is I.REFUSED:
        ingress.refuse(world.ctx("sam"), ref, "use the released package instead")
    assert stored_state(world, ref) == state.value
    return slug, ref


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
@pytest.mark.parametrize("state", list(IngressState))
@pytest.mark.parametrize("action", [Action.AIRLOCK_ADMIT, Action.AIRLOCK_REFUSE_IN])
def test_ingress_steps(cast: World, state: IngressState, action: Action) -> None:
    """A step the table allows changes the state as the specification says and writes one
    audit event; any other raises InvalidTransition naming the request, and changes nothing
    but the audited refusal (and places nothing)."""
    world = cast
    slug, ref = _in_state(world, state)
    incoming = _workspace(world, slug) / "incoming"
    placed_before = sorted(p.name for p in incoming.iterdir()) if incoming.exists() else []
    reviewer = world.ctx(REVIEWER)
    steps: dict[Action, Callable[[], object]] = {
        Action.AIRLOCK_ADMIT: lambda: ingress.admit(
            reviewer, ref, workspace=_workspace(world, slug)
        ),
        Action.AIRLOCK_REFUSE_IN: lambda: ingress.refuse(reviewer, ref, "not needed"),
    }
    before = world.counts()
    if (state, action) in SPEC:
        steps[action]()
        assert stored_state(world, ref) == SPEC[(state, action)].value
        assert world.counts()["audit_event"] == before["audit_event"] + 1
        event = world.last_event()
        assert (event.action, event.decision) == (action.value, "allowed")
        assert json.loads(event.details)["ingress"] == ref
        placed = sorted(p.name for p in incoming.iterdir()) if incoming.exists() else []
        assert placed == (["score.py"] if action is Action.AIRLOCK_ADMIT else [])
        return
    with pytest.raises(InvalidTransition) as caught:
        steps[action]()
    assert f"ingress request {ref}" in caught.value.message
    assert caught.value.current == state.value
    assert caught.value.allowed == sorted(a.value.split(".")[1] for (s, a) in SPEC if s == state)
    after = world.counts()
    assert after.pop("audit_event") == before.pop("audit_event") + 1
    assert after == before, "a refused step changed the store"
    assert stored_state(world, ref) == state.value
    event = world.last_event()
    assert (event.action, event.decision) == (action.value, "refused")
    assert json.loads(event.details)["ingress_request"] == ref
    placed = sorted(p.name for p in incoming.iterdir()) if incoming.exists() else []
    assert placed == placed_before


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_through_the_cli(
    cast: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bring in, list, admit and refuse through ``wgs-tre airlock``, with ``--json``; a
    refusal is one line on stderr with the exit code of its class."""
    from wgs_tre.cli import main
    from wgs_tre.errors import ExitCode

    world = cast
    monkeypatch.setenv("WGS_TRE_DATABASE_URL", world.store.url.render_as_string(False))
    monkeypatch.setenv("WGS_TRE_POLICY_DIR", str(world.policies.source))
    monkeypatch.setenv("WGS_TRE_DATA_DIR", str(world.tmp / "data"))
    slug = approved_project(world)
    home = _workspace(world, slug)

    def run(who: str, *args: str) -> tuple[int, str, str]:
        code = main(["--as", who, "airlock", *args])
        out, err = capsys.readouterr()
        return code, out, err

    def ok(who: str, *args: str) -> dict:  # type: ignore[type-arg]
        code, out, err = run(who, *args, "--json")
        assert code == 0, err
        return json.loads(out)  # type: ignore[no-any-return]

    weights = _source(world, "prs_weights.csv", WEIGHTS)
    where = ("--workspace", str(home))
    brought = ok("alice", "bring-in", slug, str(weights), "-j", "PGS000001 weights", *where)
    ref = brought["ref"]
    assert (brought["state"], brought["placed_as"]) == ("pending", None)
    assert [r["ref"] for r in ok("sam", "incoming")] == [ref]
    code, _, err = run("stella", "admit", ref, *where)
    assert code == ExitCode.REFUSED and "conflict of interest" in err and err.count("\n") == 1
    admitted = ok("sam", "admit", ref, "-m", "published weights", *where)
    assert (admitted["state"], admitted["placed_as"]) == ("admitted", "prs_weights.csv")
    assert (home / "incoming" / "prs_weights.csv").read_text() == WEIGHTS
    other = ok("alice", "bring-in", slug, str(weights), "-j", "again", *where)["ref"]
    code, _, err = run("sam", "refuse-in", other)
    assert code == ExitCode.INVALID_INPUT and "comment" in err
    assert ok("sam", "refuse-in", other, "-m", "already there")["state"] == "refused"
    code, out, _ = run("alice", "show-in", other)
    assert code == 0 and "refused by sam" in out and "already there" in out
    code, _, err = run("alice", "bring-in", slug, "/bin/true", "-j", "a tool", *where)
    assert code == ExitCode.REFUSED and "may not come into the TRE" in err
    code, out, _ = run("alice", "--help")
    for command in ("bring-in", "incoming", "admit", "refuse-in", "show-in"):
        assert command in out


def test_a_stewards_front_page_counts_the_files_they_may_admit(cast: World) -> None:
    from wgs_tre.hub.landing import landing_for

    world = cast
    slug = approved_project(world)
    waiting = _bring(world, slug, "score.py", CODE)
    _admit(world, _bring(world, slug, "prs_weights.csv", WEIGHTS), slug)
    ingress.refuse(world.ctx("sam"), _bring(world, slug, "other.py", CODE), "not needed")
    before = world.counts()
    assert landing_for(world.store, world.policies, "sam").ingress_waiting == 1
    assert landing_for(world.store, world.policies, "stella").ingress_waiting == 0  # Uni A
    assert landing_for(world.store, world.policies, "alice").ingress_waiting == 0  # no steward
    assert world.counts() == before
    _admit(world, waiting, slug)
    assert landing_for(world.store, world.policies, "sam").ingress_waiting == 0
