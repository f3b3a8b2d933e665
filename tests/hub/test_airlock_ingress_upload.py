"""Bringing a file into a project from the hub's front page, through a real hub: the upload
(multipart, with a token of the user's) goes through the airlock's sanitizer and waits for a
steward, who admits it into the workspace's incoming/; the page says what happened in one line;
a refused file, a name with folders, a non-member and a body over the policy's limit are
refused, and nothing reaches the workspace."""

from __future__ import annotations

import html
import http.cookiejar
import os
import stat
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.airlock import ingress

PROJECT = "brca-study"
WEIGHTS = b"rsid,effect_allele,weight\nrs429358,C,0.52\nrs7412,T,-0.31\n"
LIMIT = 256 * 1024  # the test policy's largest file coming in


@pytest.fixture(scope="module", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The hub's data directory (where the airlock's area is), set before the hub starts."""
    path = tmp_path_factory.mktemp("hub-data")
    before = os.environ.get("WGS_TRE_DATA_DIR")
    os.environ["WGS_TRE_DATA_DIR"] = str(path)
    yield path
    if before is None:
        del os.environ["WGS_TRE_DATA_DIR"]
    else:
        os.environ["WGS_TRE_DATA_DIR"] = before


@pytest.fixture(scope="module")
def policy_dir(policy_dir: Path) -> Path:
    """The hub's policies, with a small limit on a file coming in."""
    files = policy_dir / "files.yaml"
    shipped = files.read_text()
    assert "  max_file_size: 500MiB\n" in shipped
    files.write_text(shipped.replace("  max_file_size: 500MiB\n", f"  max_file_size: {LIMIT}\n"))
    return policy_dir


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


def _upload(hub: Hub, user: str, name: str, content: bytes, why: str = "PGS weights") -> str:
    """POST the file as ``user`` (token, no XSRF) and follow the redirect to the front page,
    with the cookies the hub set; the outcome line on it."""
    body, kind = _multipart(name, content, why)
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    asked = urllib.request.Request(
        f"{hub.url}/hub/tre/ingress/{PROJECT}",
        data=body,
        method="POST",
        headers={"Authorization": f"token {hub.user_token(user)}", "Content-Type": kind},
    )
    with opener.open(asked, timeout=120) as answer:
        assert answer.status == 200 and answer.url.endswith("/hub/tre")
        page = answer.read().decode()
    start = page.find('id="tre-ingress-outcome"')
    assert start != -1, "no outcome on the page"
    line = page[page.index(">", start) + 1 : page.index("</p>", start)]
    return html.unescape(line).strip()


def _page(hub: Hub, user: str, path: str) -> str:
    """The front page as ``user`` sees it (a token of theirs)."""
    asked = urllib.request.Request(
        hub.url + path, headers={"Authorization": f"token {hub.user_token(user)}"}
    )
    with urllib.request.urlopen(asked, timeout=60) as answer:
        assert answer.status == 200
        return html.unescape(answer.read().decode())


def _workspace(hub: Hub) -> Path:
    return hub.state / "sessions" / "workspaces" / PROJECT


def _rows(world: World) -> list[ingress.IngressView]:
    return ingress.list_ingress(world.ctx("alice"))


def test_an_upload_waits_for_a_steward_who_admits_it_into_incoming(
    hub: Hub, hub_world: World, data_dir: Path
) -> None:
    world = hub_world
    line = _upload(hub, "alice", "prs_weights.csv", WEIGHTS)
    (view,) = [v for v in _rows(world) if v.name == "prs_weights.csv"]
    assert line == (
        f"prs_weights.csv was checked and waits for a data steward's approval ({view.ref})."
    )
    assert (view.state.value, view.requester, view.justification) == (
        "pending",
        "alice",
        "PGS weights",
    )
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
    # The outcome is shown once.
    assert "tre-ingress-outcome" not in _page(hub, "alice", "/hub/tre")


def test_the_front_page_has_the_form_and_the_steward_the_count(hub: Hub, hub_world: World) -> None:
    _upload(hub, "alice", "score.py", b"def score(w):\n    return w.sum()\n", "scoring code")
    page = _page(hub, "alice", "/hub/tre?lang=en")
    assert f'action="/hub/tre/ingress/{PROJECT}?_xsrf=' in page
    assert 'enctype="multipart/form-data"' in page
    assert 'data-project="carol-study"' not in page
    page = _page(hub, "sam", "/hub/tre?lang=ja")
    waiting = sum(v.state.value == "pending" for v in ingress.list_ingress(hub_world.ctx("sam")))
    assert waiting >= 1
    assert f"あなたの承認を待つ持ち込みファイル: {waiting} 件" in page


@pytest.mark.parametrize(
    ("user", "name", "content", "said"),
    [
        ("alice", "tool.py", Path("/bin/true").read_bytes(), "executable program"),
        ("alice", "../../escape.py", b"print(1)\n", "plain name, without folders"),
        ("alice", ".bashrc", b"echo hi\n", "hidden name"),
        ("carol", "prs_weights.csv", WEIGHTS, "not a member of the project"),
    ],
)
def test_a_refused_upload_says_why_and_reaches_nothing(
    hub: Hub, hub_world: World, user: str, name: str, content: bytes, said: str
) -> None:
    world = hub_world
    before = {v.ref for v in _rows(world)}
    line = _upload(hub, user, name, content)
    assert line.startswith(f"{name} was not brought in: ") and said in line, line
    assert {v.ref for v in _rows(world)} == before
    incoming = _workspace(hub) / "incoming"
    placed = sorted(p.name for p in incoming.iterdir()) if incoming.exists() else []
    assert all(p.startswith(("prs_weights", "score")) for p in placed), placed
    assert not (hub.state / "sessions" / "workspaces" / "escape.py").exists()
    if name != "../../escape.py" and not name.startswith("."):
        event = world.last_event()
        assert (event.actor, event.action, event.decision) == (user, "airlock.bring_in", "refused")


def test_a_body_over_the_policy_limit_is_refused(hub: Hub, hub_world: World) -> None:
    before = {v.ref for v in _rows(hub_world)}
    body, kind = _multipart("big.csv", b"a,b\n" + b"1,2\n" * (LIMIT // 4 + 20_000), "big")
    asked = urllib.request.Request(
        f"{hub.url}/hub/tre/ingress/{PROJECT}",
        data=body,
        method="POST",
        headers={"Authorization": f"token {hub.user_token('alice')}", "Content-Type": kind},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(asked, timeout=60)
    assert caught.value.code == 413
    assert {v.ref for v in _rows(hub_world)} == before


def test_an_upload_without_signing_in_is_refused(hub: Hub) -> None:
    body, kind = _multipart("prs_weights.csv", WEIGHTS, "no token")
    asked = urllib.request.Request(
        f"{hub.url}/hub/tre/ingress/{PROJECT}", data=body, method="POST",
        headers={"Content-Type": kind, "Sec-Fetch-Mode": "navigate"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(asked, timeout=60)
    assert caught.value.code == 403


def test_the_pages_form_works_signed_in_and_needs_its_xsrf_token(
    hub: Hub, hub_world: World
) -> None:
    """As a browser does: signed in through the login form, the upload posts to the form's
    own action (which carries the page's XSRF token); the same post without it is refused."""
    import re

    from tests.hub.dashboard_client import signed_in

    session = signed_in(hub, "bob")  # a member of the project
    page = session.get(f"{hub.url}/hub/tre?lang=en", timeout=60).text
    found = re.search(rf'action="(/hub/tre/ingress/{PROJECT}\?_xsrf=[^"]+)"', page)
    assert found, "no upload form for the project"
    action = html.unescape(found.group(1))
    files = {"file": ("bob_weights.csv", WEIGHTS, "text/csv")}
    refused = session.post(
        f"{hub.url}/hub/tre/ingress/{PROJECT}",
        files=files,
        data={"justification": "no token"},
        allow_redirects=False,
        timeout=60,
    )
    assert refused.status_code == 403
    assert not [v for v in _rows(hub_world) if v.name == "bob_weights.csv"]
    answer = session.post(
        hub.url + action, files=files, data={"justification": "PGS000002 weights"}, timeout=60
    )
    assert answer.status_code == 200 and answer.url == f"{hub.url}/hub/tre"
    (view,) = [v for v in _rows(hub_world) if v.name == "bob_weights.csv"]
    assert (view.requester, view.state.value) == ("bob", "pending")
    assert f"waits for a data steward&#39;s approval ({view.ref})" in answer.text
