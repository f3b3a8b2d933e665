"""Output requests from a session: ``wgs_tre.airlock.request`` and ``status`` call the real data
service app with the session's token; the service acts for the token's user on the token's
project and on the workspace the hub defines for it, whatever the caller sends."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.airlock_cast import approved_project
from tests.data_service import TOKEN, data_service
from tests.world import World
from wgs_tre import airlock
from wgs_tre.access import Gate
from wgs_tre.airlock import requests
from wgs_tre.errors import AccessRefused, ConfigurationError, InvalidInput, NotFound
from wgs_tre.hub.accounts import ensure_project

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="project workspaces need root")


@pytest.fixture
def session(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path, str]]:
    """alice's session of a fresh project: (project, workspace, service URL), the environment
    and the working directory as the hub sets them."""
    slug = approved_project(world)
    sessions = world.tmp / "sessions"
    workspace = ensure_project(slug, sessions).workspace
    gate = Gate(world.store, world.policies)
    with data_service(
        gate, sessions, "alice", slug, airlock_area=world.tmp / "data" / "airlock"
    ) as url:
        monkeypatch.setenv("WGS_TRE_DATA_SERVICE", url)
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TOKEN)
        monkeypatch.chdir(workspace)
        yield slug, workspace, url


def _small_cell_table(workspace: Path) -> Path:
    frame = pd.DataFrame(
        {"region": ["north"] * 30 + ["south"] * 14, "carrier": ["yes"] * 20 + ["no"] * 24}
    )
    path = workspace / "by_region.csv"
    airlock.crosstab(frame, "region", "carrier").save(path)
    return path


def test_a_session_submits_and_sees_the_checks_findings(
    world: World, session: tuple[str, Path, str]
) -> None:
    slug, workspace, _ = session
    _small_cell_table(workspace)
    (workspace / "notes.md").write_text("methods\n")
    sent = airlock.request(
        {"by_region.csv": "Table 2", "notes.md": "methods text"}, purpose="the paper"
    )
    assert (sent.project, sent.state, sent.approvals_needed) == (slug, "submitted", 2)
    found = {f["name"]: f["findings"] for f in sent.files}
    assert found["notes.md"] is None
    assert {f["rule"] for f in found["by_region.csv"]} >= {"threshold"}
    assert "by_region.csv: " in str(sent) and "finding(s)" in str(sent)
    # The same request, as the host sees it: alice's, of her project, from her workspace.
    view = requests.show(world.ctx("alice"), sent.ref)
    assert (view.requester, view.project, view.state.value) == ("alice", slug, "submitted")
    event = world.last_event()
    assert (event.action, event.actor, event.project) == ("airlock.submit", "alice", slug)
    assert airlock.status(sent.ref) == sent
    assert [r.ref for r in airlock.status()] == [sent.ref]  # type: ignore[union-attr]


def test_files_outside_the_workspace_are_refused_and_no_draft_is_left(
    world: World, session: tuple[str, Path, str]
) -> None:
    _, workspace, _ = session
    (workspace / "ok.md").write_text("fine\n")
    other = ensure_project("someone-elses", world.tmp / "sessions").workspace
    (other / "theirs.csv").write_text("a,b\n1,2\n")
    for outside in ("/etc/passwd", str(other / "theirs.csv"), "../someone-elses/theirs.csv"):
        with pytest.raises(AccessRefused, match="not in the project's workspace"):
            airlock.request({"ok.md": "fine", outside: "sneaky"}, purpose="paper")
    with pytest.raises(InvalidInput, match="missing.csv"):
        airlock.request(["missing.csv"], purpose="paper", justification="table")
    with pytest.raises(InvalidInput, match="missing.csv"):  # one file, not its letters
        airlock.request("missing.csv", purpose="paper", justification="table")
    left = airlock.status()
    assert isinstance(left, list) and {r.state for r in left} == {"withdrawn"}


def test_the_workspace_and_project_are_the_hubs_not_the_callers(
    world: World, session: tuple[str, Path, str]
) -> None:
    """A raw call naming another workspace or project: the workspace is ignored, the other
    project refused."""
    slug, workspace, url = session
    (workspace / "ok.md").write_text("fine\n")

    def post(body: dict[str, object]) -> tuple[int, dict[str, object]]:
        asked = urllib.request.Request(
            url + "api/airlock/requests",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"token {TOKEN}"},
        )
        try:
            with urllib.request.urlopen(asked, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, answer = post({"purpose": "p", "files": {"/etc/hostname": "x"}, "workspace": "/etc"})
    assert status == 403 and "workspace" in str(answer["message"])
    status, answer = post({"purpose": "p", "files": {"ok.md": "x"}, "project": "brca-study"})
    assert status == 403 and f"belongs to {slug}" in str(answer["message"])
    status, answer = post({"purpose": "p", "files": {}})
    assert status == 400 and "files" in str(answer["message"])


def test_outside_a_session_it_says_where_to_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WGS_TRE_DATA_SERVICE", raising=False)
    with pytest.raises(ConfigurationError, match="wgs-tre airlock"):
        airlock.request({"a.csv": "x"}, purpose="p")


def test_another_projects_request_is_not_shown(
    world: World, session: tuple[str, Path, str]
) -> None:
    other = approved_project(world)
    home = world.tmp / "elsewhere"
    home.mkdir()
    (home / "x.md").write_text("x")
    ref = requests.create(world.ctx("alice"), other, "elsewhere", workspace=home).ref
    with pytest.raises(NotFound):
        airlock.status(ref)


def test_a_notebooks_outputs_are_kept_when_the_session_says_they_are_reviewed(
    world: World, session: tuple[str, Path, str]
) -> None:
    import nbformat

    _, workspace, _ = session
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    notebook.cells = [cell]
    nbformat.write(notebook, workspace / "figure.ipynb")
    nbformat.write(notebook, workspace / "methods.ipynb")
    sent = airlock.request(
        {"figure.ipynb": "Figure 2 as drawn", "methods.ipynb": "the code"},
        purpose="paper",
        keep_outputs=["figure.ipynb"],
    )
    kept = {f["name"]: f["keep_outputs"] for f in sent.files}
    assert kept == {"figure.ipynb": True, "methods.ipynb": False}
