"""Bringing a file into a project from the hub's front page, through a real hub: the upload
(multipart, from the page's form signed in, or with a token of the user's) goes through the
airlock's sanitizer and waits for a steward, who admits it into the workspace's incoming/; the
page says what happened in one line; a refused file, a name with folders, a non-member, a post
without the page's XSRF token, a session's token and a body over the policy's limit are
refused, and nothing reaches the workspace."""

from __future__ import annotations

import html
import re
import stat
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import requests

from tests.hub.dashboard_client import signed_in
from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.airlock import ingress

PROJECT = "brca-study"
WEIGHTS = b"rsid,effect_allele,weight\nrs429358,C,0.52\nrs7412,T,-0.31\n"
LIMIT = 256 * 1024  # the test policy's largest file coming in


@pytest.fixture(scope="module", autouse=True)
def data_dir(hub_data_dir: Path) -> Path:
    """The hub's data directory (where the airlock's area is), set before the hub starts."""
    return hub_data_dir


@pytest.fixture(scope="module")
def policy_dir(policy_dir: Path) -> Path:
    """The hub's policies, with a small limit on a file coming in."""
    files = policy_dir / "files.yaml"
    shipped = files.read_text()
    assert "  max_file_size: 500MiB\n" in shipped
    files.write_text(shipped.replace("  max_file_size: 500MiB\n", f"  max_file_size: {LIMIT}\n"))
    return policy_dir


@pytest.fixture(scope="module")
def browsers(hub: Hub) -> dict[str, requests.Session]:
    """A browser's session for each person, signed in through the login form."""
    return {user: signed_in(hub, user) for user in ("alice", "bob", "sam")}


def _page(hub: Hub, browser: requests.Session, path: str = "/hub/tre?lang=en") -> str:
    answer = browser.get(hub.url + path, timeout=60)
    assert answer.status_code == 200
    return answer.content.decode("utf-8")


def _form_action(page: str) -> str:
    found = re.search(rf'action="(/hub/tre/ingress/{PROJECT}\?_xsrf=[^"]+)"', page)
    assert found, "no upload form for the project"
    return html.unescape(found.group(1))


def _outcome(page: str) -> str:
    start = page.find('id="tre-ingress-outcome"')
    assert start != -1, "no outcome on the page"
    return html.unescape(page[page.index(">", start) + 1 : page.index("</p>", start)]).strip()


def _upload(
    hub: Hub, browser: requests.Session, name: str, content: bytes, why: str = "PGS weights"
) -> str:
    """Post the file as a browser does, through the form on the project's row (its action
    carries the page's XSRF token); the outcome line on the page the hub sends it back to."""
    answer = browser.post(
        hub.url + _form_action(_page(hub, browser)),
        files={"file": (name, content, "application/octet-stream")},
        data={"justification": why},
        timeout=120,
    )
    assert answer.status_code == 200 and answer.url == f"{hub.url}/hub/tre", answer.status_code
    return _outcome(answer.content.decode("utf-8"))


def _multipart(name: str, content: bytes, why: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="justification"\r\n\r\n'
            f"{why}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _post_with_token(hub: Hub, token: str, name: str, content: bytes) -> tuple[int, str]:
    """A multipart POST with ``token`` (no XSRF token, no cookies): status and Location."""
    body, kind = _multipart(name, content, "with a token")
    asked = urllib.request.Request(
        f"{hub.url}/hub/tre/ingress/{PROJECT}",
        data=body,
        method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": kind},
    )
    try:
        with urllib.request.build_opener(_NoRedirect).open(asked, timeout=120) as answer:
            return answer.status, answer.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def _workspace(hub: Hub) -> Path:
    return hub.state / "sessions" / "workspaces" / PROJECT


def _rows(world: World) -> list[ingress.IngressView]:
    return ingress.list_ingress(world.ctx("alice"))


def test_an_upload_waits_for_a_steward_who_admits_it_into_incoming(
    hub: Hub, hub_world: World, browsers: dict[str, requests.Session], data_dir: Path
) -> None:
    world = hub_world
    line = _upload(hub, browsers["alice"], "prs_weights.csv", WEIGHTS)
    (view,) = [v for v in _rows(world) if v.name == "prs_weights.csv"]
    assert line == (
        f"prs_weights.csv was checked and waits for a data steward's approval ({view.ref})."
    )
    assert (view.state.value, view.requester) == ("pending", "alice")
    assert view.justification == "PGS weights"
    assert view.copy.read_bytes() == WEIGHTS and view.copy.is_relative_to(data_dir / "airlock")
    event = world.last_event()
    assert (event.actor, event.action, event.decision) == ("alice", "airlock.bring_in", "allowed")
    home = _workspace(hub)
    assert home.is_dir() and not (home / "incoming").exists()
    assert list((data_dir / "airlock" / "uploads").iterdir()) == [], "the upload was kept"
    admitted = ingress.admit(world.ctx("sam"), view.ref, workspace=home)
    placed = home / "incoming" / "prs_weights.csv"
    info = placed.lstat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, home.stat().st_gid, 0o660)
    assert placed.read_bytes() == WEIGHTS and admitted.placed_as == "prs_weights.csv"
    assert "tre-ingress-outcome" not in _page(hub, browsers["alice"]), "shown more than once"


def test_the_front_page_has_the_form_and_the_steward_the_count(
    hub: Hub, hub_world: World, browsers: dict[str, requests.Session]
) -> None:
    _upload(hub, browsers["bob"], "score.py", b"def score(w):\n    return w.sum()\n", "code")
    page = _page(hub, browsers["alice"])
    assert 'enctype="multipart/form-data"' in page
    assert 'data-ingress-project="brca-study"' in page
    assert 'data-ingress-project="carol-study"' not in page  # not hers
    assert 'data-ingress-project="revoked-study"' not in page  # hers, but not open
    waiting = len(ingress.list_ingress(hub_world.ctx("sam")))
    assert waiting >= 1
    assert f"あなたの承認を待つ持ち込みファイル: {waiting} 件" in _page(
        hub, browsers["sam"], "/hub/tre?lang=ja"
    )


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("tool.py", Path("/bin/true").read_bytes(), "executable program"),
        ("../../escape.py", b"print(1)\n", "plain name, without folders"),
        (".bashrc", b"echo hi\n", "hidden name"),
    ],
)
def test_a_refused_upload_says_why_and_reaches_nothing(
    hub: Hub,
    hub_world: World,
    browsers: dict[str, requests.Session],
    name: str,
    content: bytes,
    said: str,
) -> None:
    world = hub_world
    before = {v.ref for v in _rows(world)}
    line = _upload(hub, browsers["alice"], name, content)
    assert line.startswith(f"{name} was not brought in: ") and said in line, line
    assert {v.ref for v in _rows(world)} == before
    incoming = _workspace(hub) / "incoming"
    placed = sorted(p.name for p in incoming.iterdir()) if incoming.exists() else []
    assert all(p.startswith("prs_weights") for p in placed), placed
    assert not (hub.state / "sessions" / "workspaces" / "escape.py").exists()
    if name == "tool.py":  # the sanitizer's refusal is audited
        event = world.last_event()
        assert (event.actor, event.action, event.decision) == (
            "alice",
            "airlock.bring_in",
            "refused",
        )


def test_a_users_token_brings_in_without_xsrf_and_a_non_member_is_refused(
    hub: Hub, hub_world: World
) -> None:
    world = hub_world
    status, location = _post_with_token(hub, hub.user_token("bob"), "bob.csv", WEIGHTS)
    assert (status, location) == (302, "/hub/tre")
    (view,) = [v for v in _rows(world) if v.name == "bob.csv"]
    assert (view.requester, view.state.value) == ("bob", "pending")
    before = {v.ref for v in _rows(world)}
    status, location = _post_with_token(hub, hub.user_token("carol"), "carol.csv", WEIGHTS)
    assert (status, location) == (302, "/hub/tre")  # back to her page, which says why
    assert {v.ref for v in _rows(world)} == before
    event = world.last_event()
    assert (event.actor, event.action, event.decision) == ("carol", "airlock.bring_in", "refused")
    assert "not a member of the project" in event.reason


def test_a_post_without_the_pages_xsrf_token_is_refused(
    hub: Hub, hub_world: World, browsers: dict[str, requests.Session]
) -> None:
    refused = browsers["alice"].post(
        f"{hub.url}/hub/tre/ingress/{PROJECT}",
        files={"file": ("forged.csv", WEIGHTS, "text/csv")},
        data={"justification": "a cross-site form"},
        allow_redirects=False,
        timeout=60,
    )
    assert refused.status_code == 403
    assert not [v for v in _rows(hub_world) if v.name == "forged.csv"]


def test_a_body_over_the_policy_limit_is_refused(hub: Hub, hub_world: World) -> None:
    before = {v.ref for v in _rows(hub_world)}
    big = b"a,b\n" + b"1,2\n" * (LIMIT // 4 + 20_000)
    status, _ = _post_with_token(hub, hub.user_token("alice"), "big.csv", big)
    assert status == 413
    assert {v.ref for v in _rows(hub_world)} == before


SESSION_UPLOAD = """
import http.client, os, urllib.parse, uuid
hub = urllib.parse.urlsplit(os.environ['JUPYTERHUB_API_URL'])
boundary = uuid.uuid4().hex
part = '--' + boundary + '\\r\\nContent-Disposition: form-data; name='
body = (part + '"justification"\\r\\n\\r\\nx\\r\\n'
        + part + '"file"; filename="s.csv"\\r\\n\\r\\na,b\\r\\n--' + boundary + '--\\r\\n').encode()
connection = http.client.HTTPConnection(hub.hostname, hub.port, timeout=30)
connection.request('POST', '/hub/tre/ingress/brca-study', body=body, headers={
    'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN'],
    'Content-Type': 'multipart/form-data; boundary=' + boundary})
print(connection.getresponse().status)
"""


def test_a_sessions_token_brings_nothing_in(hub: Hub, hub_world: World) -> None:
    """From inside a session, its API token (scoped to its own server) is refused: a person
    brings files in from their page, not code in a session."""
    before = {v.ref for v in _rows(hub_world)}
    assert hub.start_server("bob", PROJECT)[0] == 201
    try:
        assert hub.execute("bob", PROJECT, SESSION_UPLOAD).strip() == "403"
    finally:
        hub.stop_server("bob", PROJECT)
    assert {v.ref for v in _rows(hub_world)} == before
