"""Files reach a browser only through the airlock: a session's server refuses every download
path for workspace files (the contents API's file content, /files/, /view/, nbconvert exports,
terminals), while the editors still open notebooks and code; and the hub serves a released
file, as approved, to the project's members alone. All through a real hub and session."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.airlock import release, requests

USER, PROJECT = "alice", "brca-study"
SESSION = f"/user/{USER}/{PROJECT}"
TABLE = "region,count\nnorth,40\nsouth,55\n"

WRITE_FILES = """
import base64, json, os, pathlib
TABLE = %TABLE%
home = pathlib.Path(os.environ["WGS_TRE_WORKSPACE"])
(home / "results").mkdir(exist_ok=True)
(home / "results" / "table.csv").write_text(TABLE)
(home / "results" / "unreleased.csv").write_text("region,count\\nnorth,3\\n")
(home / "analysis.py").write_text("print('hello')\\n")
(home / "figure.png").write_bytes(base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="))
nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
(home / "analysis.ipynb").write_text(json.dumps(nb))
print(home)
"""


@pytest.fixture(scope="module", autouse=True)
def data_dir(hub_data_dir: Path) -> Path:
    """The hub's data directory (where releases are), set before the hub starts."""
    return hub_data_dir


@pytest.fixture(scope="module")
def workspace(hub: Hub) -> Path:
    status, message = hub.start_server(USER, PROJECT)
    assert status == 201, message
    code = WRITE_FILES.replace("%TABLE%", repr(TABLE))
    return Path(hub.execute(USER, PROJECT, code).strip())


def _get(hub: Hub, path: str, method: str = "GET") -> tuple[int, object]:
    return hub.as_user(USER, method, SESSION + path)


def test_the_editors_still_open_notebooks_and_code(hub: Hub, workspace: Path) -> None:
    status, model = _get(hub, "/api/contents/analysis.py")
    assert status == 200 and model["content"].startswith("print(")  # type: ignore[index]
    status, model = _get(hub, "/api/contents/analysis.ipynb")
    assert status == 200 and model["type"] == "notebook"  # type: ignore[index]
    status, listing = _get(hub, "/api/contents/results")
    names = {entry["name"] for entry in listing["content"]}  # type: ignore[index]
    assert status == 200 and names == {"table.csv", "unreleased.csv"}
    status, model = _get(hub, "/api/contents/results/table.csv?content=0")
    assert status == 200 and model["size"] == len(TABLE)  # type: ignore[index]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/contents/results/table.csv"),
        ("GET", "/api/contents/results/table.csv?type=file&format=text"),
        ("GET", "/api/contents/figure.png?type=file&format=base64"),
        ("GET", "/api/contents/analysis.py?type=file&format=base64"),
        ("GET", "/files/results/table.csv"),
        ("GET", "/files/results/table.csv?download=1"),
        ("GET", "/files/analysis.ipynb"),
        ("GET", "/view/results/table.csv"),
        ("GET", "/nbconvert/html/analysis.ipynb?download=true"),
        ("GET", "/nbconvert/script/analysis.ipynb"),
        ("POST", "/nbconvert/html"),
    ],
)
def test_every_download_path_of_the_session_is_refused(
    hub: Hub, workspace: Path, method: str, path: str
) -> None:
    status, body = _get(hub, path, method)
    assert status == 403, (status, body)
    assert "airlock" in str(body)
    assert "north,40" not in str(body)


def test_uploads_are_refused_and_the_editors_still_save(hub: Hub, workspace: Path) -> None:
    """JupyterLab uploads every file as base64 (chunked or not): refused, nothing written.
    Saving from the editor (text, a notebook as JSON) still works."""
    upload = {"type": "file", "format": "base64", "content": "aGVsbG8K", "name": "in.csv"}
    for body in (upload, {**upload, "chunk": 1}):
        status, answer = hub.request(
            "PUT", f"{SESSION}/api/contents/in.csv", body, hub.user_token(USER)
        )
        assert status == 403 and "airlock" in str(answer), (status, answer)
    assert not (workspace / "in.csv").exists()
    saved = {"type": "file", "format": "text", "content": "print('edited')\n"}
    token = hub.user_token(USER)
    status, _ = hub.request("PUT", f"{SESSION}/api/contents/analysis.py", saved, token)
    assert status == 200 and (workspace / "analysis.py").read_text() == "print('edited')\n"


def test_terminals_are_off(hub: Hub, workspace: Path) -> None:
    status, _ = _get(hub, "/api/terminals", "POST")
    assert status == 404
    status, _ = _get(hub, "/api/terminals")
    assert status == 404


def test_a_released_file_downloads_from_the_hub_for_members_only(
    hub: Hub, hub_world: World, workspace: Path, data_dir: Path
) -> None:
    world = hub_world
    area, releases = data_dir / "airlock", data_dir / "releases"
    alice = world.ctx(USER)
    ref = requests.create(alice, PROJECT, "table 1", workspace=workspace).ref
    requests.add_file(alice, ref, "results/table.csv", "counts of 40 and 55")
    requests.submit(alice, ref, area=area)
    unreleased = requests.create(alice, PROJECT, "not yet", workspace=workspace).ref
    requests.add_file(alice, unreleased, "results/unreleased.csv", "a count of 3")
    requests.submit(alice, unreleased, area=area)

    def download(user: str, ref: str, name: str) -> tuple[int, str]:
        url = f"{hub.url}/hub/tre/releases/{ref}/{urllib.parse.quote(name)}"
        asked = urllib.request.Request(
            url, headers={"Authorization": f"token {hub.user_token(user)}"}
        )
        try:
            with urllib.request.urlopen(asked, timeout=60) as answer:
                assert answer.headers["Content-Disposition"].startswith("attachment")
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    assert download(USER, ref, "results/table.csv")[0] == 403  # approved by no one yet
    requests.approve(world.ctx("sam"), ref)
    requests.approve(world.ctx("sue"), ref)
    assert download(USER, ref, "results/table.csv")[0] == 403  # approved, not released
    release.release(world.ctx("sue"), ref, releases=releases)

    for member in (USER, "bob"):
        status, body = download(member, ref, "results/table.csv")
        assert (status, body) == (200, TABLE)
    event = world.last_event()
    assert (event.action, event.actor, event.decision) == ("airlock.download", "bob", "allowed")
    assert download("carol", ref, "results/table.csv")[0] == 403  # not a member
    assert download(USER, ref, "results/unreleased.csv")[0] == 404  # not in this request
    assert download(USER, ref, "../../../governance.db")[0] in (403, 404)
    assert download(USER, unreleased, "results/unreleased.csv")[0] == 403  # not released
    # What was released is the approved bytes, whatever the workspace holds now.
    (workspace / "results" / "table.csv").write_text("region,count\nnorth,2\n")
    assert download(USER, ref, "results/table.csv") == (200, TABLE)
    # Not with a session's own token: code in a session (of this or any project of alice's)
    # does not fetch releases, which would carry them between projects around the stewards.
    from_session = (
        "import os, urllib.error, urllib.request\n"
        "hub = os.environ['JUPYTERHUB_API_URL'].rsplit('/hub/api', 1)[0]\n"
        f"asked = urllib.request.Request(hub + '/hub/tre/releases/{ref}/results/table.csv',\n"
        "    headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']})\n"
        "try:\n"
        "    print(urllib.request.urlopen(asked, timeout=30).status)\n"
        "except urllib.error.HTTPError as error:\n"
        "    print(error.code)\n"
    )
    assert hub.execute(USER, PROJECT, from_session).strip() == "403"
